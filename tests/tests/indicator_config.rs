//! The indicators' configuration variables: defaults, values, and malformed values named with
//! the variable.

use std::path::PathBuf;
use std::time::Duration;

use health_runtime::HealthConfig;
use health_runtime::config::ConfigError;

fn config(vars: &[(&str, &str)]) -> Result<HealthConfig, ConfigError> {
    HealthConfig::from_pairs(vars.iter().copied())
}

#[test]
fn defaults() {
    let config = config(&[]).unwrap();
    assert!(config.resources.enabled);
    assert!(config.requests.enabled);
    assert_eq!(config.resources.sample_interval, Duration::from_secs(5));
    assert_eq!(config.resources.disk_path, None);
}

#[test]
fn values_are_applied() {
    let config = config(&[
        ("PLUGIN_RESOURCE_METRICS", "false"),
        ("PLUGIN_RESOURCE_SAMPLE_INTERVAL", "250ms"),
        ("PLUGIN_RESOURCE_DISK_PATH", "/var/lib/plugin"),
        ("PLUGIN_HEALTH_REQUEST_METRICS", "off"),
    ])
    .unwrap();
    assert!(!config.resources.enabled);
    assert!(!config.requests.enabled);
    assert_eq!(config.resources.sample_interval, Duration::from_millis(250));
    assert_eq!(
        config.resources.disk_path,
        Some(PathBuf::from("/var/lib/plugin"))
    );
    let empty = self::config(&[("PLUGIN_RESOURCE_DISK_PATH", "")]).unwrap();
    assert_eq!(empty.resources.disk_path, None);
}

#[test]
fn malformed_values_name_the_variable_and_the_value() {
    for (variable, value, problem) in [
        (
            "PLUGIN_RESOURCE_METRICS",
            "sometimes",
            "expected `true` or `false`",
        ),
        (
            "PLUGIN_RESOURCE_SAMPLE_INTERVAL",
            "0",
            "it must be greater than zero",
        ),
        (
            "PLUGIN_RESOURCE_SAMPLE_INTERVAL",
            "often",
            "expected a number",
        ),
        (
            "PLUGIN_HEALTH_REQUEST_METRICS",
            "2",
            "expected `true` or `false`",
        ),
    ] {
        let error = config(&[(variable, value)]).unwrap_err();
        assert_eq!((error.variable, error.value.as_str()), (variable, value));
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("{variable}={value:?} is not valid: ")),
            "{text}"
        );
        assert!(text.contains(problem), "{text}");
    }
}
