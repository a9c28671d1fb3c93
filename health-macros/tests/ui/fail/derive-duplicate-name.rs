use health_runtime::{CheckError, CheckOutcome, HealthAware, HealthIndicator};

struct Pool;

impl HealthIndicator for Pool {
    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        Ok(CheckOutcome::healthy())
    }
}

#[derive(HealthAware)]
#[health(check = "database", method = "ping")]
struct Handler {
    #[health(check = "database")]
    primary: Pool,
    #[health]
    replica: Pool,
    #[health(check = "replica")]
    other: Pool,
}

impl Handler {
    async fn ping(&self) -> bool {
        true
    }
}

fn main() {}
