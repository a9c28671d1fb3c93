use std::sync::Arc;
use std::time::Duration;

use health_runtime::__private::{inventory, StaticCheck};
use health_runtime::{health_check, HealthAware};

#[health_check(interval = "1m 30s", timeout = "2")]
async fn spaced() -> bool {
    true
}

#[health_check(interval = "1.5s", timeout = "0.25")]
fn decimal() -> bool {
    true
}

#[health_check(interval = "1h 1m 1s 1ms", timeout = "0.000000001s")]
fn precise() -> bool {
    true
}

#[derive(HealthAware)]
#[health(method = "cache", interval = "1m 30s", timeout = "1.5s")]
struct Handler;

impl Handler {
    async fn cache(&self) -> bool {
        true
    }
}

fn settings(name: &str) -> (Option<Duration>, Option<Duration>) {
    let check = inventory::iter::<StaticCheck>
        .into_iter()
        .find(|check| check.settings.name == name)
        .unwrap_or_else(|| panic!("`{name}` is registered"));
    (check.settings.interval, check.settings.timeout)
}

fn main() {
    assert_eq!(
        settings("spaced"),
        (Some(Duration::from_secs(90)), Some(Duration::from_secs(2)))
    );
    assert_eq!(
        settings("decimal"),
        (Some(Duration::from_millis(1500)), Some(Duration::from_millis(250)))
    );
    assert_eq!(
        settings("precise"),
        (Some(Duration::from_millis(3_661_001)), Some(Duration::from_nanos(1)))
    );
    assert_eq!(Arc::new(Handler).health_checks().len(), 1);
}
