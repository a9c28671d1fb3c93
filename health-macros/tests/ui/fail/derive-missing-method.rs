use health_runtime::HealthAware;

#[derive(HealthAware)]
#[health(check = "cache", method = "check_cahce")]
struct Handler {
    hits: u64,
}

impl Handler {
    async fn check_cache(&self) -> bool {
        self.hits > 0
    }
}

fn main() {}
