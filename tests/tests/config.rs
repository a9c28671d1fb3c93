//! Configuration from `PLUGIN_*` variables reaches the runtime; builder setters win over it.

use std::time::Duration;

use health_runtime::{Check, HealthConfig, HealthRuntime};

fn env(vars: &'static [(&'static str, &'static str)]) -> HealthConfig {
    HealthConfig::from_pairs(vars.iter().copied()).unwrap()
}

#[test]
fn configured_defaults_apply_to_checks_that_set_none() {
    let config = env(&[
        ("PLUGIN_HEALTH_CHECK_INTERVAL", "10"),
        ("PLUGIN_HEALTH_DEFAULT_TIMEOUT", "750ms"),
    ]);
    let runtime = HealthRuntime::builder()
        .without_declared_checks()
        .config(config.clone())
        .with_check(Check::new("plain", || async { true }))
        .with_check(Check::new("own", || async { true }).interval(Duration::from_secs(3)))
        .build()
        .unwrap();
    let snapshot = runtime.snapshot();
    let plain = snapshot.check("plain").unwrap().info();
    assert_eq!(plain.interval(), Duration::from_secs(10));
    assert_eq!(plain.timeout(), Duration::from_millis(750));
    assert_eq!(
        snapshot.check("own").unwrap().info().interval(),
        Duration::from_secs(3)
    );
    assert_eq!(runtime.config(), &config);
}

#[test]
fn builder_setters_win_over_the_configuration_in_any_order() {
    let config = env(&[("PLUGIN_HEALTH_CHECK_INTERVAL", "10")]);
    for builder in [
        HealthRuntime::builder()
            .default_interval(Duration::from_secs(2))
            .config(config.clone()),
        HealthRuntime::builder()
            .config(config.clone())
            .default_interval(Duration::from_secs(2)),
    ] {
        let runtime = builder
            .without_declared_checks()
            .with_check(Check::new("plain", || async { true }))
            .build()
            .unwrap();
        let interval = runtime.snapshot().check("plain").unwrap().info().interval();
        assert_eq!(interval, Duration::from_secs(2));
    }
}
