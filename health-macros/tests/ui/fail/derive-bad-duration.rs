use health_runtime::HealthAware;

#[derive(HealthAware)]
#[health(check = "cache", method = "cache", interval = "0s")]
struct Handler {
    #[health(check = "database", timeout = "2 s")]
    pool: u8,
}

impl Handler {
    async fn cache(&self) -> bool {
        true
    }
}

fn main() {}
