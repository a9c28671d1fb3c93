use health_runtime::__private::{inventory, StaticCheck};
use health_runtime::health_check;

// In no probe group: it still counts toward the overall status and its own service name.
#[health_check(groups = [])]
async fn audit_log() -> bool {
    true
}

fn main() {
    let check = inventory::iter::<StaticCheck>
        .into_iter()
        .find(|check| check.settings.name == "audit_log")
        .expect("`audit_log` is registered");
    assert!(check.settings.groups.is_empty());
    drop(audit_log());
}
