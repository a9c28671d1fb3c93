use health_runtime::HealthAware;

#[derive(HealthAware)]
struct Handler {
    #[health(check = "db", timout = "2s")]
    db: std::sync::Arc<dyn Send + Sync>,
    #[health(name = "cache")]
    cache: u8,
}

fn main() {}
