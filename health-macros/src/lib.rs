//! Procedural macros for [`health-runtime`]. Depend on `health-runtime` and use them from there:
//! `health_runtime::health_check`.
//!
//! [`health-runtime`]: https://docs.rs/health-runtime

mod args;
mod aware;
mod check;
mod codegen;
mod errors;
mod function;
mod model;
mod name;
mod suggest;

use proc_macro::TokenStream;

/// Declares a health check: the function is registered with the runtime at link time, with no
/// registration code, and every argument is validated at compile time.
///
/// ```
/// use health_runtime::health_check;
/// # mod sqlx { pub type Error = std::io::Error; }
///
/// #[health_check(name = "database", timeout = "5s", on_timeout = "warning")]
/// async fn database() -> Result<(), sqlx::Error> {
///     // ping the pool
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # Arguments
///
/// All are optional. A mistake is a compile error on the offending token, and all mistakes are
/// reported at once.
///
/// | argument | type | default |
/// |---|---|---|
/// | `name` | string | the function's name, without `r#` |
/// | `timeout` | duration string | the runtime's default timeout (5 s unless configured) |
/// | `on_timeout` | `"healthy"`, `"warning"` or `"critical"` | `"critical"` |
/// | `on_error` | `"warning"` or `"critical"` | `"critical"` |
/// | `interval` | duration string | the runtime's check interval (`PLUGIN_HEALTH_CHECK_INTERVAL`) |
/// | `groups` | list of `"liveness"`, `"readiness"`, `"startup"` | `["readiness"]` |
/// | `service` | string | none |
/// | `failure_threshold` | integer ≥ 1 | `1` |
///
/// - **`name = "database"`**: the check's name, which is also a gRPC health service name. Up to
///   128 ASCII letters, digits, `.`, `_`, `/` and `-`. The empty name (the overall status) and the
///   probe names `liveness`, `readiness`, `startup` and `plugin` are reserved.
/// - **`timeout = "250ms"`**: the deadline of one run. A duration is one or more numbers, each
///   followed by a unit (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`, or a name such as `sec`,
///   `min` or `hours`), perhaps with one space between them: `"250ms"`,
///   `"1.5s"`, `"1m30s"`, `"1m 30s"`; a number alone is seconds: `"2"`, `"0.5"`. It is the
///   grammar of the `PLUGIN_HEALTH_*` variables too (`health_rules::duration`), precise to the
///   nanosecond. It must be greater than zero.
/// - **`on_timeout = "warning"`**: the status reported when a run passes its deadline.
/// - **`on_error = "warning"`**: the status reported when a run fails or panics. `"healthy"` is
///   refused: a failure must not look like a success.
/// - **`interval = "30s"`**: how often the background monitor re-runs the check; greater than
///   zero.
/// - **`groups = ["liveness", "readiness"]`**: the probes the check gates. Each group at most once;
///   `groups = []` gates no probe (the check still counts toward the overall status).
/// - **`service = "storage"`**: a gRPC health service the check also counts toward; several
///   checks may share one. Same rules as `name`.
/// - **`failure_threshold = 3`**: how many consecutive failed runs it takes before the failure
///   shows, to damp flapping.
///
/// ```
/// use health_runtime::health_check;
///
/// #[health_check(
///     name = "db.primary",
///     timeout = "2s",
///     on_timeout = "warning",
///     on_error = "critical",
///     interval = "1m",
///     groups = ["startup", "readiness"],
///     service = "storage",
///     failure_threshold = 3,
/// )]
/// async fn primary_database() -> Result<(), std::io::Error> {
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # Functions
///
/// An `async fn` runs on the async runtime; its future must be `Send`. A plain `fn` runs on the
/// blocking pool. Either takes no parameters, has no generic parameters, is not a method and is not
/// `unsafe`. A check that needs state (a pool, a client) belongs in a `#[derive(HealthAware)]`
/// handler, or is built at runtime with `health_runtime::Check::new`.
///
/// The function is left exactly as written, so it can still be called, from tests for example.
///
/// # Return types
///
/// | return type | outcome |
/// |---|---|
/// | `bool` | `true`: healthy; `false`: failure (`on_error`) |
/// | `Result<(), E>`, `E: Display` | `Ok`: healthy; `Err`: failure with the error's message |
/// | `Result<T, E>`, `T` a number or `CheckValue` | healthy, with `T` as the metric's value |
/// | `Result<CheckOutcome, E>` | the outcome, or a failure |
/// | `Status` | that status |
/// | `CheckOutcome` | the outcome as it is: status, value, threshold, message |
///
/// ```
/// use health_runtime::{health_check, CheckOutcome, Status};
/// # fn used_percent() -> f64 { 42.0 }
///
/// #[health_check(timeout = "100ms")]
/// fn disk_usage() -> CheckOutcome {
///     CheckOutcome::by_threshold(used_percent(), 90.0)
/// }
///
/// #[health_check]
/// async fn queue_depth() -> Result<u64, std::io::Error> {
///     Ok(12)
/// }
///
/// #[health_check(groups = ["liveness"])]
/// fn heartbeat() -> Status {
///     Status::Healthy
/// }
/// # fn main() {
/// #     assert_eq!(disk_usage().status(), Status::Healthy);
/// # }
/// ```
///
/// Any other type is a compile error that lists these.
///
/// # Expansion
///
/// The function is kept as written and followed by one anonymous constant that registers it. This
/// hand-written code is equivalent to the `database` example at the top:
///
/// ```
/// # mod sqlx { pub type Error = std::io::Error; }
/// async fn database() -> Result<(), sqlx::Error> {
///     Ok(())
/// }
///
/// const _: () = {
///     fn __health_run() -> ::health_runtime::__private::BoxedCheck {
///         ::health_runtime::__private::boxed_check(async move {
///             let __health_output = database().await;
///             ::health_runtime::IntoCheckOutcome::into_check_outcome(__health_output)
///         })
///     }
///     ::health_runtime::__private::inventory::submit! {
///         ::health_runtime::__private::StaticCheck {
///             settings: ::health_runtime::__private::Settings {
///                 name: "database",
///                 timeout: ::core::option::Option::Some(::core::time::Duration::new(5, 0)),
///                 on_timeout: ::health_runtime::Status::Warning,
///                 on_error: ::health_runtime::Status::Critical,
///                 interval: ::core::option::Option::None,
///                 groups: &[::health_runtime::Group::Readiness],
///                 service: ::core::option::Option::None,
///                 failure_threshold: 1,
///             },
///             // `file`, `line` and `column` are spanned at the function's name.
///             site: ::health_runtime::__private::Site {
///                 file: ::core::file!(),
///                 line: ::core::line!(),
///                 column: ::core::column!(),
///                 item: ::core::concat!(::core::module_path!(), "::", "database"),
///             },
///             run: ::health_runtime::__private::StaticRunner::Async(__health_run),
///         }
///     }
/// };
/// # fn main() {}
/// ```
///
/// A plain `fn` gets `StaticRunner::Blocking` and a `__health_run` that returns
/// `Result<CheckOutcome, CheckError>` directly. The names under `health_runtime::__private` are
/// not public API.
///
/// Registration uses `inventory`: a crate whose code is never referenced is not linked, and its
/// checks are missing. Reference such a crate (`use my_checks as _;`) from the binary.
#[proc_macro_attribute]
pub fn health_check(args: TokenStream, item: TokenStream) -> TokenStream {
    check::health_check(args.into(), item.into()).into()
}

/// Derives `HealthAware` for a handler struct whose checks need its state: each
/// `#[health(...)]` becomes a check that runs against one instance, registered with
/// `HealthRuntime::register_aware` (or `handler.register_health(&runtime)`) and removed again in
/// one call.
///
/// See `health_runtime::HealthAware` for a complete example.
///
/// # Attributes
///
/// - **On a field**, `#[health(check = "database", timeout = "2s", ...)]`: the field's type
///   implements `health_runtime::HealthIndicator`, and the check runs its `check` method. The
///   check's name defaults to the field's name; a bare `#[health]` is a check with every default.
/// - **On the struct**, `#[health(check = "cache", method = "check_cache", ...)]`: the check calls
///   `async fn check_cache(&self) -> T`, with `T` any type a `#[health_check]` function may return.
///   The name defaults to the method's name. Repeat the attribute for more methods.
/// - `#[health(skip)]` on a field says that it is not a check (as is any field without
///   `#[health]`).
///
/// Every other argument is that of `#[health_check]` (`timeout`, `on_timeout`, `on_error`,
/// `interval`, `groups`, `service`, `failure_threshold`), parsed and validated by the same code,
/// with the same defaults and errors. Two checks of one struct with one name are a compile error.
///
/// # Expansion
///
/// One `impl HealthAware` whose `health_checks` builds, for each attribute, a
/// `health_runtime::Check` with the attribute's settings. Each check holds a `Weak` reference to
/// the instance: registering a handler does not keep it alive, and once it is dropped its checks
/// fail with "the handler was dropped" until they are deregistered.
#[proc_macro_derive(HealthAware, attributes(health))]
pub fn derive_health_aware(input: TokenStream) -> TokenStream {
    aware::derive(input.into()).into()
}
