//! The status and group words, as JSON, logs, environment variables and macro arguments write them.

use std::fmt;
use std::str::FromStr;

/// The health of one check, a group of checks, or the whole process.
///
/// Aggregation takes the worst: `Critical` > `Unknown` > `Warning` > `Healthy`. `Unknown` only
/// appears before a check has produced its first result; it ranks above `Warning` because nothing
/// is known yet, so a probe that needs a result (readiness, startup) must not pass on it.
///
/// ```
/// use health_rules::Status;
///
/// let overall = [Status::Healthy, Status::Warning].into_iter().fold(Status::Healthy, Status::worst);
/// assert_eq!(overall, Status::Warning);
/// assert!(overall.is_serving());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Status {
    /// No result yet.
    #[default]
    Unknown,
    /// Working as expected.
    Healthy,
    /// Degraded but still serving.
    Warning,
    /// Not serving.
    Critical,
}

impl Status {
    /// Every status, from best to worst.
    pub const ALL: [Status; 4] = [
        Status::Healthy,
        Status::Warning,
        Status::Unknown,
        Status::Critical,
    ];

    /// The statuses a check may report when a run fails or panics (`on_error`): a failure must
    /// never read as a success.
    pub const ON_ERROR: [Status; 2] = [Status::Warning, Status::Critical];

    /// The statuses a check may report when a run passes its deadline (`on_timeout`).
    pub const ON_TIMEOUT: [Status; 3] = [Status::Healthy, Status::Warning, Status::Critical];

    #[inline]
    const fn severity(self) -> u8 {
        match self {
            Status::Healthy => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    /// The worse of two statuses.
    #[must_use]
    #[inline]
    pub fn worst(self, other: Status) -> Status {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// Whether this status still serves traffic: `Healthy` and `Warning` do.
    ///
    /// This is the mapping to gRPC `SERVING` and to HTTP 200.
    #[inline]
    pub fn is_serving(self) -> bool {
        matches!(self, Status::Healthy | Status::Warning)
    }

    /// The lowercase name used in JSON, in logs and in macro arguments.
    #[inline]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Healthy => "healthy",
            Status::Warning => "warning",
            Status::Critical => "critical",
        }
    }

    /// The name of the enum variant, for code that names it (`Status::Warning`).
    pub fn variant(self) -> &'static str {
        match self {
            Status::Unknown => "Unknown",
            Status::Healthy => "Healthy",
            Status::Warning => "Warning",
            Status::Critical => "Critical",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when parsing a [`Status`] or a [`Group`] from an unknown word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseNameError {
    kind: &'static str,
    value: String,
    expected: &'static str,
}

impl fmt::Display for ParseNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} `{}`; expected one of {}",
            self.kind, self.value, self.expected
        )
    }
}

impl std::error::Error for ParseNameError {}

impl FromStr for Status {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseNameError {
                kind: "status",
                value: s.to_owned(),
                expected: "`healthy`, `warning`, `critical`, `unknown`",
            })
    }
}

/// A probe group: which Kubernetes-style probe a check gates.
///
/// A check belongs to `readiness` unless it says otherwise. Each group is also a gRPC health
/// service name (`liveness`, `readiness`, `startup`) whose status is the worst of its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Group {
    /// Restart the process when this fails.
    Liveness,
    /// Stop routing traffic here when this fails.
    Readiness,
    /// Hold the other probes back until this has passed once.
    Startup,
}

impl Group {
    /// Every group.
    pub const ALL: [Group; 3] = [Group::Liveness, Group::Readiness, Group::Startup];

    /// The group's name, which is also its gRPC service name.
    #[inline]
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Liveness => "liveness",
            Group::Readiness => "readiness",
            Group::Startup => "startup",
        }
    }

    /// The name of the enum variant, for code that names it (`Group::Readiness`).
    pub fn variant(self) -> &'static str {
        match self {
            Group::Liveness => "Liveness",
            Group::Readiness => "Readiness",
            Group::Startup => "Startup",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Group {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Group::ALL
            .into_iter()
            .find(|group| group.as_str() == s)
            .ok_or_else(|| ParseNameError {
                kind: "group",
                value: s.to_owned(),
                expected: "`liveness`, `readiness`, `startup`",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_is_commutative_and_ranks_as_documented() {
        for a in Status::ALL {
            for b in Status::ALL {
                assert_eq!(a.worst(b), b.worst(a));
            }
        }
        assert_eq!(Status::Healthy.worst(Status::Warning), Status::Warning);
        assert_eq!(Status::Warning.worst(Status::Unknown), Status::Unknown);
        assert_eq!(Status::Unknown.worst(Status::Critical), Status::Critical);
    }

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
            assert_eq!(status.variant().to_lowercase(), status.as_str());
        }
        for group in Group::ALL {
            assert_eq!(group.as_str().parse::<Group>(), Ok(group));
            assert_eq!(group.variant().to_lowercase(), group.as_str());
        }
        let err = "ready".parse::<Group>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown group `ready`; expected one of `liveness`, `readiness`, `startup`"
        );
    }

    #[test]
    fn failures_never_read_as_success() {
        assert!(!Status::ON_ERROR.contains(&Status::Healthy));
        assert!(!Status::ON_TIMEOUT.contains(&Status::Unknown));
        assert!(!Status::ON_ERROR.contains(&Status::Unknown));
    }
}
