use std::sync::Arc;

use health_runtime::{CheckError, CheckOutcome, HealthAware, HealthIndicator};

struct Pool;

impl HealthIndicator for Pool {
    async fn check(&self) -> Result<CheckOutcome, CheckError> {
        Ok(CheckOutcome::healthy())
    }
}

#[derive(HealthAware)]
struct Handler {
    #[health(
        check = "db.primary",
        timeout = "2s",
        on_timeout = "warning",
        on_error = "critical",
        interval = "1m",
        groups = ["startup", "readiness"],
        service = "storage",
        failure_threshold = 3,
    )]
    primary: Pool,
    #[health]
    replica: Arc<Pool>,
    #[health(skip)]
    _name: String,
    _untouched: u32,
}

#[derive(HealthAware)]
struct Tuple(#[health(check = "pool")] Box<Pool>);

fn main() {
    let handler = Arc::new(Handler {
        primary: Pool,
        replica: Arc::new(Pool),
        _name: String::new(),
        _untouched: 0,
    });
    let names: Vec<String> = handler
        .health_checks()
        .iter()
        .map(|check| check.name().to_owned())
        .collect();
    assert_eq!(names, ["db.primary", "replica"]);
    assert_eq!(Arc::new(Tuple(Box::new(Pool))).health_checks().len(), 1);
}
