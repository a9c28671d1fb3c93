use std::sync::Arc;

use health_runtime::{CheckOutcome, HealthAware, Status};

#[derive(HealthAware)]
#[health(check = "cache", method = "check_cache", timeout = "1s", on_error = "warning")]
#[health(method = "queue_depth", groups = ["liveness"])]
#[health(check = "mode", method = "mode", failure_threshold = 2)]
#[health(method = "r#type")]
struct Handler<T: Send + Sync + 'static> {
    inner: T,
}

impl<T: Send + Sync + 'static> Handler<T> {
    async fn check_cache(&self) -> Result<(), std::io::Error> {
        Ok(())
    }

    async fn queue_depth(&self) -> Result<u64, String> {
        Ok(3)
    }

    async fn mode(&self) -> CheckOutcome {
        let _ = &self.inner;
        CheckOutcome::new(Status::Healthy)
    }

    async fn r#type(&self) -> bool {
        true
    }
}

fn main() {
    let handler = Arc::new(Handler { inner: 1u8 });
    let names: Vec<String> = handler
        .health_checks()
        .iter()
        .map(|check| check.name().to_owned())
        .collect();
    assert_eq!(names, ["cache", "queue_depth", "mode", "type"]);
}
