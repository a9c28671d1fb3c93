//! What one run returns: a [`CheckOutcome`] (status, value, threshold, message) or a
//! [`CheckError`], and the return types a check may have ([`IntoCheckOutcome`]).

use std::fmt;

use crate::Status;

/// What one run of a check found: a status, and optionally a value, its threshold and a message.
///
/// Return it from a check when a plain `Result` says too little, for example to report a measured
/// value against its limit:
///
/// ```
/// use health_runtime::{CheckOutcome, Status};
///
/// let outcome = CheckOutcome::by_threshold(85.0, 90.0).with_message("disk 85 % full");
/// assert_eq!(outcome.status(), Status::Warning); // above 80 % of the threshold
/// assert_eq!(outcome.value(), Some(85.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct CheckOutcome {
    status: Status,
    value: Option<f64>,
    threshold: Option<f64>,
    message: Option<String>,
}

impl CheckOutcome {
    /// An outcome with the given status and nothing else.
    pub fn new(status: Status) -> Self {
        CheckOutcome {
            status,
            value: None,
            threshold: None,
            message: None,
        }
    }

    /// A healthy outcome.
    pub fn healthy() -> Self {
        Self::new(Status::Healthy)
    }

    /// A warning with a message.
    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Status::Warning).with_message(message)
    }

    /// A critical outcome with a message.
    pub fn critical(message: impl Into<String>) -> Self {
        Self::new(Status::Critical).with_message(message)
    }

    /// Grades `value` against an upper `threshold`: `Critical` above it (or when the value is not
    /// a number), `Warning` above 80 % of it, `Healthy` otherwise. The value and the threshold are
    /// recorded.
    pub fn by_threshold(value: f64, threshold: f64) -> Self {
        let status = if value.is_nan() || value > threshold {
            Status::Critical
        } else if value > threshold * 0.8 {
            Status::Warning
        } else {
            Status::Healthy
        };
        Self::new(status)
            .with_value(value)
            .with_threshold(threshold)
    }

    /// Records a measured value.
    pub fn with_value(mut self, value: impl Into<CheckValue>) -> Self {
        self.value = Some(value.into().0);
        self
    }

    /// Records the threshold the value is compared against.
    pub fn with_threshold(mut self, threshold: impl Into<CheckValue>) -> Self {
        self.threshold = Some(threshold.into().0);
        self
    }

    /// Records a human-readable message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The measured value, if any.
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// The threshold, if any.
    pub fn threshold(&self) -> Option<f64> {
        self.threshold
    }

    /// The message, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    pub(crate) fn into_parts(self) -> (Status, Option<f64>, Option<f64>, Option<String>) {
        (self.status, self.value, self.threshold, self.message)
    }
}

impl From<Status> for CheckOutcome {
    fn from(status: Status) -> Self {
        CheckOutcome::new(status)
    }
}

/// A numeric value reported by a check, such as a latency or a percentage.
///
/// Every primitive number converts into it, so a check can return `Result<u64, E>` or
/// `Result<f64, E>` and the number shows as the metric's `value`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct CheckValue(pub f64);

macro_rules! metric_value_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for CheckValue {
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn from(value: $ty) -> Self {
                CheckValue(value as f64)
            }
        }
    )*};
}

metric_value_from!(f64, f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// Why a run of a check failed; it is reported with the check's `on_error` status.
///
/// Checks rarely build one by hand: any `Err(e)` whose error implements `Display` becomes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    message: String,
}

impl CheckError {
    /// A failure with a message.
    pub fn new(message: impl Into<String>) -> Self {
        CheckError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CheckError {}

/// Turns what a check function returns into an outcome.
///
/// Implemented for every supported return type:
///
/// | return type | outcome |
/// |---|---|
/// | `bool` | `true`: healthy; `false`: failure (`on_error`) |
/// | `Result<(), E: Display>` | `Ok`: healthy; `Err`: failure with the error's message |
/// | `Result<T, E: Display>`, `T` a number or [`CheckValue`] | healthy with `T` as the value |
/// | `Result<CheckOutcome, E: Display>` | the outcome, or a failure |
/// | [`Status`] | that status |
/// | [`CheckOutcome`] | the outcome as it is |
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a supported health check return type",
    label = "this return type is not supported by `#[health_check]`",
    note = "return `bool`, `Result<(), E>` or `Result<T, E>` with `E: Display` and `T` a number, `health_runtime::Status`, or `health_runtime::CheckOutcome`"
)]
pub trait IntoCheckOutcome {
    /// Converts into an outcome; `Err` is a failure, reported with the check's `on_error` status.
    fn into_check_outcome(self) -> Result<CheckOutcome, CheckError>;
}

impl IntoCheckOutcome for CheckOutcome {
    fn into_check_outcome(self) -> Result<CheckOutcome, CheckError> {
        Ok(self)
    }
}

impl IntoCheckOutcome for Status {
    fn into_check_outcome(self) -> Result<CheckOutcome, CheckError> {
        Ok(CheckOutcome::new(self))
    }
}

impl IntoCheckOutcome for bool {
    fn into_check_outcome(self) -> Result<CheckOutcome, CheckError> {
        if self {
            Ok(CheckOutcome::healthy())
        } else {
            Err(CheckError::new("check returned false"))
        }
    }
}

impl<T: OkValue, E: fmt::Display> IntoCheckOutcome for Result<T, E> {
    fn into_check_outcome(self) -> Result<CheckOutcome, CheckError> {
        match self {
            Ok(value) => Ok(value.into_outcome()),
            Err(error) => Err(CheckError::new(error.to_string())),
        }
    }
}

/// The `Ok` side of a check's `Result`: nothing, a number, or a whole outcome.
#[diagnostic::on_unimplemented(
    message = "`Result<{Self}, _>` is not a supported health check return type",
    label = "the `Ok` type of a health check must be `()`, a number or `CheckOutcome`",
    note = "return `Result<(), E>`, `Result<T, E>` with `T` a number or `health_runtime::check::CheckValue`, or `Result<health_runtime::CheckOutcome, E>`"
)]
pub trait OkValue {
    /// The outcome for an `Ok` holding this value.
    fn into_outcome(self) -> CheckOutcome;
}

impl OkValue for () {
    fn into_outcome(self) -> CheckOutcome {
        CheckOutcome::healthy()
    }
}

impl OkValue for CheckOutcome {
    fn into_outcome(self) -> CheckOutcome {
        self
    }
}

impl OkValue for Status {
    fn into_outcome(self) -> CheckOutcome {
        CheckOutcome::new(self)
    }
}

macro_rules! ok_value_number {
    ($($ty:ty),*) => {$(
        impl OkValue for $ty {
            fn into_outcome(self) -> CheckOutcome {
                CheckOutcome::healthy().with_value(self)
            }
        }
    )*};
}

ok_value_number!(
    CheckValue, f64, f32, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_types_map_to_outcomes() {
        assert_eq!(true.into_check_outcome(), Ok(CheckOutcome::healthy()));
        assert_eq!(
            false.into_check_outcome(),
            Err(CheckError::new("check returned false"))
        );
        let ok: Result<(), String> = Ok(());
        assert_eq!(ok.into_check_outcome(), Ok(CheckOutcome::healthy()));
        let err: Result<(), std::io::Error> = Err(std::io::Error::other("connection refused"));
        assert_eq!(
            err.into_check_outcome().unwrap_err().message(),
            "connection refused"
        );
        let valued: Result<u64, String> = Ok(42);
        assert_eq!(valued.into_check_outcome().unwrap().value(), Some(42.0));
        assert_eq!(
            Status::Warning.into_check_outcome().unwrap().status(),
            Status::Warning
        );
    }

    #[test]
    fn thresholds_grade_at_eighty_percent() {
        let grade = |value| CheckOutcome::by_threshold(value, 100.0).status();
        assert_eq!(grade(79.9), Status::Healthy);
        assert_eq!(grade(80.0), Status::Healthy);
        assert_eq!(grade(80.1), Status::Warning);
        assert_eq!(grade(100.0), Status::Warning);
        assert_eq!(grade(100.1), Status::Critical);
        assert_eq!(grade(f64::NAN), Status::Critical);
    }
}
