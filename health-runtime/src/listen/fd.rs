//! The process's file descriptor limit.

/// Raises the soft limit on open file descriptors to the hard limit, once per process, as Go's
/// runtime does at start (golang/go#46279): the default soft limit of 1,024 is a relic of
/// `select(2)`, which nothing here uses, and a server holding many connections needs more.
pub(crate) fn raise_limit() {
    static RAISED: std::sync::Once = std::sync::Once::new();
    RAISED.call_once(|| {
        #[cfg(unix)]
        {
            use nix::sys::resource::{Resource, getrlimit, setrlimit};
            match getrlimit(Resource::RLIMIT_NOFILE) {
                Ok((soft, hard)) if soft < hard => {
                    // macOS refuses more than OPEN_MAX for the soft limit, whatever the hard one.
                    #[cfg(target_os = "macos")]
                    let hard = hard.min(10_240);
                    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                        Ok(()) => {
                            tracing::debug!(from = soft, to = hard, "raised the open file limit")
                        }
                        Err(error) => {
                            tracing::debug!(%error, soft, hard, "cannot raise the open file limit")
                        }
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::debug!(%error, "cannot read the open file limit"),
            }
        }
    });
}

/// The soft limit on open file descriptors, when there is one.
pub(crate) fn soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
        match getrlimit(Resource::RLIMIT_NOFILE) {
            Ok((soft, _)) if soft != RLIM_INFINITY => Some(soft),
            _ => None,
        }
    }
    #[cfg(not(unix))]
    None
}
