use health_runtime::__private::{inventory, StaticCheck, StaticRunner};
use health_runtime::{health_check, Status};

#[health_check(timeout = "250ms")]
fn disk() -> bool {
    true
}

fn main() {
    assert!(disk());

    let check = inventory::iter::<StaticCheck>
        .into_iter()
        .find(|check| check.settings.name == "disk")
        .expect("`disk` is registered");
    assert_eq!(check.settings.timeout, Some(std::time::Duration::from_millis(250)));
    let StaticRunner::Blocking(run) = check.run else {
        panic!("a plain fn runs on the blocking pool");
    };
    assert_eq!(run().unwrap().status(), Status::Healthy);
}
