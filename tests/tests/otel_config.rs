//! The `OTEL_*` variables as `otel::Otlp` reads them: a malformed value is an error naming the
//! variable and the value, no endpoint (or the SDK disabled) means nothing to install.

use std::time::Duration;

use health_runtime::otel::{InstallError, Otlp, Protocol};

const ENDPOINT: (&str, &str) = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");

fn error(pairs: &[(&str, &str)]) -> health_runtime::config::ConfigError {
    match Otlp::from_pairs(pairs.iter().copied()) {
        Err(error) => error,
        Ok(otlp) => panic!("{pairs:?} was accepted: {otlp:?}"),
    }
}

#[test]
fn malformed_values_are_errors_naming_the_variable_and_the_value() {
    let cases: &[(&str, &str)] = &[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "GRPC"),
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "udp"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "5s"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "soon"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1m"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment"),
        ("OTEL_SDK_DISABLED", "yes"),
    ];
    for &(variable, value) in cases {
        let error = error(&[ENDPOINT, (variable, value)]);
        assert_eq!(
            (error.variable, error.value.as_str()),
            (variable, value),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("{variable}={value:?}")),
            "{error}"
        );
    }
}

#[test]
fn malformed_headers_are_errors_that_hide_the_values() {
    let cases: &[(&str, &str, &str)] = &[
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key", "***"),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "tenant=a,s3cret",
            "tenant=***,***",
        ),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "bad header=s3cret",
            "bad header=***",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=%zz", "api-key=***"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "=s3cret", "=***"),
        // Decoded, a line feed: no header can carry it.
        (
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
            "api-key=s3cret%0A",
            "api-key=***",
        ),
    ];
    for &(variable, value, shown) in cases {
        let error = error(&[ENDPOINT, (variable, value)]);
        assert_eq!(
            (error.variable, error.value.as_str()),
            (variable, shown),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("{variable}={shown:?}")),
            "{message}"
        );
        assert!(
            !message.contains("s3cret") && !message.contains("%zz"),
            "{message}"
        );
    }
}

#[test]
fn malformed_endpoints_are_errors_naming_the_variable() {
    for variable in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    ] {
        for value in ["collector:4317", "ftp://collector", "http://", "not a url"] {
            let error = error(&[(variable, value)]);
            assert_eq!(
                (error.variable, error.value.as_str()),
                (variable, value),
                "{error}"
            );
        }
    }
}

#[test]
fn an_endpoint_with_a_query_or_a_fragment_is_an_error_that_hides_it() {
    for value in [
        "http://collector:4318/?token=s3cret",
        "http://collector:4318/v1#s3cret",
    ] {
        let error = error(&[("OTEL_EXPORTER_OTLP_ENDPOINT", value)]);
        assert_eq!(error.variable, "OTEL_EXPORTER_OTLP_ENDPOINT");
        let message = error.to_string();
        assert!(message.contains("query or fragment"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}

#[test]
fn a_malformed_value_is_an_error_even_without_an_endpoint() {
    let error = error(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "smoke-signals")]);
    assert_eq!(error.variable, "OTEL_EXPORTER_OTLP_PROTOCOL");
}

#[test]
fn no_endpoint_or_a_disabled_sdk_is_nothing_to_install() {
    let none = |pairs: &[(&str, &str)]| Otlp::from_pairs(pairs.iter().copied()).unwrap();
    assert!(none(&[]).is_none());
    assert!(
        none(&[
            ("OTEL_SERVICE_NAME", "kv"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        ])
        .is_none()
    );
    // An empty value counts as unset.
    assert!(none(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")]).is_none());
    assert!(none(&[ENDPOINT, ("OTEL_SDK_DISABLED", "true")]).is_none());
    assert!(none(&[ENDPOINT, ("OTEL_SDK_DISABLED", "TRUE")]).is_none());
    assert!(none(&[ENDPOINT, ("OTEL_SDK_DISABLED", "false")]).is_some());
    // One signal's endpoint is enough.
    assert!(
        none(&[(
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "http://127.0.0.1:4318/v1/logs"
        )])
        .is_some()
    );
}

#[test]
fn well_formed_values_are_taken() {
    let otlp = Otlp::from_pairs([
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://collector.example:4317",
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%3Dcret, tenant=a"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=prod,team=kv",
        ),
        ("OTEL_SERVICE_NAME", "kv"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(otlp.protocol(), Protocol::Grpc);
    assert_eq!(otlp.metric_interval(), Duration::from_secs(15));
    let http = Otlp::from_pairs([ENDPOINT]).unwrap().unwrap();
    assert_eq!(
        http.protocol(),
        Protocol::HttpProtobuf,
        "the specification's default"
    );
    assert_eq!(http.metric_interval(), Duration::from_secs(60));
}

#[test]
fn installing_needs_a_tokio_runtime() {
    let error = Otlp::new("http://127.0.0.1:4318").install().unwrap_err();
    assert!(matches!(error, InstallError::NoRuntime), "{error}");
}

#[tokio::test]
async fn an_endpoint_set_in_code_is_validated_like_the_variable() {
    let error = Otlp::new("collector:4317")
        .with_protocol(Protocol::Grpc)
        .install()
        .unwrap_err();
    match error {
        InstallError::Config(error) => {
            assert_eq!(
                (error.variable, error.value.as_str()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")
            );
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn https_endpoints_install_over_both_protocols() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let telemetry = Otlp::new("https://127.0.0.1:9")
            .with_protocol(protocol)
            .with_timeout(Duration::from_millis(200))
            .install()
            .unwrap_or_else(|error| panic!("{protocol}: {error}"));
        // Nothing listens there: the final export fails, which shutdown reports.
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    }
}
