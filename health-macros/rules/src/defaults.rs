//! The defaults of a check's settings and of the runtime's, as the attribute, the derive,
//! [`Check`](https://docs.rs/health-runtime/latest/health_runtime/struct.Check.html) and the
//! `PLUGIN_HEALTH_*` variables apply them.

use std::time::Duration;

use crate::{Group, Status};

/// The status a run that passes its deadline shows, unless `on_timeout` says otherwise.
pub const ON_TIMEOUT: Status = Status::Critical;

/// The status a run that fails or panics shows, unless `on_error` says otherwise.
pub const ON_ERROR: Status = Status::Critical;

/// The probe groups a check gates unless `groups` says otherwise.
pub const GROUPS: &[Group] = &[Group::Readiness];

/// Consecutive failed runs before a failure shows, unless `failure_threshold` says otherwise.
pub const FAILURE_THRESHOLD: u32 = 1;

/// The deadline of a check that sets no `timeout` (`PLUGIN_HEALTH_DEFAULT_TIMEOUT`).
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The re-run period of a check that sets no `interval` (`PLUGIN_HEALTH_CHECK_INTERVAL`).
pub const INTERVAL: Duration = Duration::from_secs(30);

/// How long a result is served from cache (`PLUGIN_HEALTH_CACHE_TTL`).
pub const CACHE_TTL: Duration = Duration::from_secs(1);

/// How long watchers see every name not serving after shutdown (`PLUGIN_HEALTH_DRAIN_DELAY`).
pub const DRAIN_DELAY: Duration = Duration::from_secs(5);
