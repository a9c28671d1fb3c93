use health_runtime::health_check;

#[health_check]
async fn database<E: Default>() -> Result<(), std::io::Error> {
    let _ = E::default();
    Ok(())
}

fn main() {}
