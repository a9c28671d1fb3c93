use health_runtime::__private::{inventory, StaticCheck, StaticRunner};
use health_runtime::{health_check, Group, Status};

#[health_check]
async fn database() -> Result<(), std::io::Error> {
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // The function is left as written and still callable.
    database().await.unwrap();

    let check = inventory::iter::<StaticCheck>
        .into_iter()
        .find(|check| check.settings.name == "database")
        .expect("`database` is registered");
    assert_eq!(check.settings.timeout, None);
    assert_eq!(check.settings.on_timeout, Status::Critical);
    assert_eq!(check.settings.on_error, Status::Critical);
    assert_eq!(check.settings.interval, None);
    assert_eq!(check.settings.groups, [Group::Readiness]);
    assert_eq!(check.settings.service, None);
    assert_eq!(check.settings.failure_threshold, 1);
    assert!(matches!(check.run, StaticRunner::Async(_)));
    assert!(check.site.file.ends_with("async-fn.rs"), "{}", check.site.file);
    // The location is the function's name, not the attribute.
    assert_eq!((check.site.line, check.site.column), (5, 10));
    assert!(check.site.item.ends_with("::database"), "{}", check.site.item);

    let StaticRunner::Async(run) = check.run else { unreachable!() };
    let outcome = run().await.unwrap();
    assert_eq!(outcome.status(), Status::Healthy);
}
