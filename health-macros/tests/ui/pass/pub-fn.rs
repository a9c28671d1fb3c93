mod checks {
    use health_runtime::health_check;

    /// Documented, public, and in a module of its own.
    #[health_check(name = "queue")]
    pub async fn queue_depth() -> Result<u64, std::io::Error> {
        Ok(3)
    }

    #[health_check]
    pub(crate) const fn always() -> bool {
        true
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(checks::queue_depth().await.unwrap(), 3);
    assert!(checks::always());
    let names: Vec<&str> = health_runtime::__private::inventory::iter::<
        health_runtime::__private::StaticCheck,
    >
        .into_iter()
        .map(|check| check.settings.name)
        .collect();
    assert!(names.contains(&"queue") && names.contains(&"always"), "{names:?}");
}
