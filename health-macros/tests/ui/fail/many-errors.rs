use health_runtime::health_check;

#[health_check(
    name = "primary db",
    timout = "5s",
    interval = 30,
    on_timeout = "ok",
    on_error = "healthy",
    groups = ["ready", "startup", "startup"],
    failure_threshold = 0,
    interval = "1m"
)]
async fn database<T>(pool: T) -> Result<(), std::io::Error> {
    let _ = pool;
    Ok(())
}

fn main() {}
