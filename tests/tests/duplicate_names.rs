//! Two checks with one name anywhere in the binary fail the build of the runtime, naming both.

use health_runtime::HealthRuntime;
use health_runtime::runtime::RegistryError;

mod billing {
    #[health_check(name = "database")]
    pub(crate) async fn primary() -> bool {
        true
    }
    use health_runtime::health_check;
}

mod search {
    use health_runtime::health_check;

    #[health_check(name = "database")]
    fn index() -> bool {
        true
    }
}

#[test]
fn duplicate_declared_names_are_a_startup_error_naming_both() {
    let error = HealthRuntime::builder().build().unwrap_err();
    let errors: Vec<_> = error.check_errors().collect();
    assert_eq!(errors.len(), 1, "{error}");
    let RegistryError::DuplicateName {
        name,
        first,
        second,
    } = errors[0]
    else {
        panic!("unexpected error {error}");
    };
    assert_eq!(name, "database");
    let mut items = [first.item().unwrap(), second.item().unwrap()];
    items.sort_unstable();
    assert_eq!(
        items,
        [
            "duplicate_names::billing::primary",
            "duplicate_names::search::index"
        ]
    );
    for location in [first, second] {
        assert!(location.file().ends_with("duplicate_names.rs"));
    }
    let lines = [first.line(), second.line()];
    assert!(lines.contains(&8) && lines.contains(&18), "{lines:?}");
    let text = error.to_string();
    assert!(
        text.starts_with("health check `database` is defined twice: at "),
        "{text}"
    );
    assert!(text.contains("duplicate_names.rs:8:"), "{text}");
    assert!(text.contains("duplicate_names.rs:18:"), "{text}");
}
