//! Configuration that cannot take the process down: any string in any `PLUGIN_*` variable is
//! either refused, naming the variable, or read as a value the code can use; never a panic.

use std::time::Duration;

use health_runtime::HealthConfig;
use health_runtime::config::VARIABLES;
use proptest::prelude::*;

/// Strings an operator might write, and strings nobody would.
fn values() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{1,25}(\\.[0-9]{0,30})?[a-zµ ]{0,8}",
        "-?[0-9e.+]{1,30}%?",
        Just("9e18".to_owned()),
        Just("500000000000y".to_owned()),
        Just("5124095576030431h".to_owned()),
        Just("1e-320".to_owned()),
    ]
}

fn sane(config: &HealthConfig) -> Result<(), String> {
    let day = Duration::from_secs(86_400);
    let checks = &config.checks;
    for (what, duration) in [
        ("interval", checks.interval),
        ("timeout", checks.timeout),
        ("cache_ttl", checks.cache_ttl),
        ("drain_delay", checks.drain_delay),
        ("sample_interval", config.resources.sample_interval),
        ("shutdown_grace", config.surfaces.shutdown_grace),
    ] {
        if duration > day {
            return Err(format!("{what} = {duration:?}"));
        }
    }
    for (what, duration) in [
        ("interval", checks.interval),
        ("timeout", checks.timeout),
        ("sample_interval", config.resources.sample_interval),
    ] {
        if duration.is_zero() {
            return Err(format!("{what} is zero"));
        }
    }
    let resources = &config.resources;
    for (what, percent) in [
        ("cpu", resources.cpu_threshold),
        ("memory", resources.memory_threshold),
        ("disk", resources.disk_threshold),
    ] {
        if !(0.01..=100.0).contains(&percent) {
            return Err(format!("{what} threshold {percent}"));
        }
    }
    if let Some(token) = &config.details.token
        && !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~+/=".contains(c))
    {
        return Err(format!("token {token:?}"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_value_is_refused_by_name_or_read_sanely(
        variable in prop::sample::select(VARIABLES.to_vec()),
        value in values(),
    ) {
        match HealthConfig::from_pairs([(variable, value.as_str())]) {
            Ok(config) => prop_assert!(sane(&config).is_ok(), "{variable}={value:?}: {:?}", sane(&config)),
            Err(error) => prop_assert_eq!(error.variable, variable),
        }
    }
}

#[test]
fn the_values_that_used_to_panic_or_pass_are_refused() {
    for (variable, value) in [
        ("PLUGIN_RESOURCE_SAMPLE_INTERVAL", "9e18"),
        ("PLUGIN_RESOURCE_SAMPLE_INTERVAL", "1e19"),
        ("PLUGIN_RESOURCE_SAMPLE_INTERVAL", "500000000000y"),
        ("PLUGIN_HEALTH_CHECK_INTERVAL", "5124095576030431h"),
        ("PLUGIN_RESOURCE_CPU_THRESHOLD", "1e-320"),
        ("PLUGIN_HEALTH_AUTH_TOKEN", "pässwörd"),
    ] {
        let error = HealthConfig::from_pairs([(variable, value)]).unwrap_err();
        assert_eq!(error.variable, variable, "{error}");
    }
}

#[test]
fn a_value_that_is_not_utf8_stops_the_example_naming_the_variable() {
    use std::os::unix::ffi::OsStrExt as _;
    let exe = tests::process::build_example("plugin_server");
    let not_utf8 = std::ffi::OsStr::from_bytes(b"5\xffs");
    let ran = tests::process::run(
        "plugin_server with a non-UTF-8 variable",
        std::process::Command::new(&exe)
            .env_remove("BASIC_PLUGIN")
            .env("PLUGIN_HEALTH_CACHE_TTL", not_utf8)
            .env("PLUGIN_HEALTH_HTTP_ADDR", "")
            .env("PLUGIN_HEALTH_FILE_PATH", ""),
        Duration::from_secs(60),
    );
    assert!(!ran.status.success(), "{ran:?}");
    assert!(
        ran.stderr.contains("PLUGIN_HEALTH_CACHE_TTL") && ran.stderr.contains("not valid UTF-8"),
        "{}",
        ran.stderr
    );
}

#[tokio::test]
async fn an_http_address_that_cannot_be_bound_is_named_with_its_variable() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = tests::quiet_config();
    config.surfaces.http_addr = Some(taken.local_addr().unwrap());
    let runtime = tests::builder().config(config).build().unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = health_runtime::server::serve_with_shutdown(
        &runtime,
        grpc,
        tonic::service::Routes::default(),
        std::future::pending(),
    )
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("PLUGIN_HEALTH_HTTP_ADDR"), "{text}");
    assert!(
        text.contains(&taken.local_addr().unwrap().to_string()),
        "{text}"
    );
}
