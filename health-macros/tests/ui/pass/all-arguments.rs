use std::time::Duration;

use health_runtime::__private::{inventory, StaticCheck};
use health_runtime::{health_check, Group, Status};

#[health_check(
    name = "db.primary",
    timeout = "1m30s",
    on_timeout = "warning",
    on_error = "warning",
    interval = "1h",
    groups = ["startup", "liveness"],
    service = "storage/v1",
    failure_threshold = 3,
)]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

#[health_check(name = "cache", on_timeout = "healthy", on_error = "critical", timeout = "1s500ms")]
fn cache() -> bool {
    true
}

#[health_check(service = "storage/v1", groups = ["liveness", "readiness", "startup"])]
async fn replica() -> bool {
    true
}

fn registered(name: &str) -> &'static StaticCheck {
    inventory::iter::<StaticCheck>
        .into_iter()
        .find(|check| check.settings.name == name)
        .unwrap_or_else(|| panic!("`{name}` is registered"))
}

fn main() {
    assert!(cache());

    let database = registered("db.primary");
    assert_eq!(database.settings.timeout, Some(Duration::from_secs(90)));
    assert_eq!(database.settings.on_timeout, Status::Warning);
    assert_eq!(database.settings.on_error, Status::Warning);
    assert_eq!(database.settings.interval, Some(Duration::from_secs(3600)));
    assert_eq!(database.settings.groups, [Group::Startup, Group::Liveness]);
    assert_eq!(database.settings.service, Some("storage/v1"));
    assert_eq!(database.settings.failure_threshold, 3);
    assert_eq!(database.site.line, 16);
    assert!(database.site.item.ends_with("::database"), "{}", database.site.item);

    let cache = registered("cache");
    assert_eq!(cache.settings.on_timeout, Status::Healthy);
    assert_eq!(cache.settings.on_error, Status::Critical);
    assert_eq!(cache.settings.timeout, Some(Duration::from_millis(1500)));

    let replica = registered("replica");
    assert_eq!(replica.settings.groups, [Group::Liveness, Group::Readiness, Group::Startup]);
    assert_eq!(replica.settings.service, Some("storage/v1"));
}
