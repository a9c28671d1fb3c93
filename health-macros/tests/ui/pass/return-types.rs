use std::fmt;

use health_runtime::{health_check, CheckOutcome, Status};

#[derive(Debug)]
struct PingError;

impl fmt::Display for PingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection refused")
    }
}

#[health_check]
async fn returns_bool() -> bool {
    true
}

#[health_check]
async fn returns_unit_result() -> Result<(), PingError> {
    Err(PingError)
}

#[health_check]
async fn returns_integer() -> Result<u64, std::io::Error> {
    Ok(42)
}

#[health_check]
fn returns_float() -> Result<f64, String> {
    Ok(0.5)
}

#[health_check]
async fn returns_outcome_result() -> Result<CheckOutcome, PingError> {
    Ok(CheckOutcome::by_threshold(85.0, 90.0))
}

#[health_check]
fn returns_status() -> Status {
    Status::Warning
}

#[health_check]
async fn returns_outcome() -> CheckOutcome {
    CheckOutcome::warning("replica lag")
}

#[health_check]
fn returns_impl_display_error() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert!(returns_bool().await);
    assert!(returns_unit_result().await.is_err());
    assert_eq!(returns_integer().await.unwrap(), 42);
    assert_eq!(returns_float().unwrap(), 0.5);
    assert!(returns_outcome_result().await.is_ok());
    assert_eq!(returns_status(), Status::Warning);
    assert_eq!(returns_outcome().await.status(), Status::Warning);
    assert!(returns_impl_display_error().is_ok());
    assert_eq!(
        health_runtime::__private::inventory::iter::<health_runtime::__private::StaticCheck>
            .into_iter()
            .count(),
        8
    );
}
