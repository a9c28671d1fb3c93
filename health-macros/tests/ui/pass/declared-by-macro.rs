// Arguments passed through `macro_rules!` arrive wrapped in invisible groups.
macro_rules! check {
    ($name:expr, $timeout:expr) => {
        #[health_runtime::health_check(name = $name, timeout = $timeout)]
        async fn generated() -> bool {
            true
        }
    };
}

check!("generated", "2s");

fn main() {
    let check = health_runtime::__private::inventory::iter::<health_runtime::__private::StaticCheck>
        .into_iter()
        .find(|check| check.settings.name == "generated")
        .expect("`generated` is registered");
    assert_eq!(check.settings.timeout, Some(std::time::Duration::from_secs(2)));
    drop(generated());
}
