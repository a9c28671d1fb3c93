//! Giving back to the system the memory that a burst of streams left free. glibc's allocator
//! keeps freed pages in its arenas for reuse, so after thousands of `Watch` streams close, the
//! server would stay resident at its peak; `malloc_trim(0)` returns the free pages. Other
//! allocators (musl, jemalloc, macOS, Windows) return memory themselves or have no such call:
//! there it does nothing.

/// How many streams must have been open at once before their end is worth a trim.
pub(crate) const BURST: usize = 1_000;

/// The shortest time between two trims: a client that opens and closes bursts on purpose must
/// not make the allocator walk its arenas over and over. A burst that ends sooner is trimmed
/// when the gap has passed.
const MIN_GAP: std::time::Duration = std::time::Duration::from_secs(2);

/// When the last trim ran, and whether one is waiting for the gap to pass.
static TRIMS: std::sync::Mutex<(Option<std::time::Instant>, bool)> =
    std::sync::Mutex::new((None, false));

/// Returns the allocator's free pages to the system, off the async workers (a trim walks every
/// arena), at most once per [`MIN_GAP`]; whether anything was given back is logged.
pub(crate) fn release_after_burst() {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let wait = {
        let mut trims = TRIMS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if trims.1 {
            return;
        }
        trims.1 = true;
        trims.0.map_or(std::time::Duration::ZERO, |last| {
            MIN_GAP.saturating_sub(last.elapsed())
        })
    };
    handle.spawn(async move {
        tokio::time::sleep(wait).await;
        *TRIMS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            (Some(std::time::Instant::now()), false);
        let _ = tokio::task::spawn_blocking(|| {
            let released = release();
            tracing::debug!(released, "returned free memory to the system after a burst");
        })
        .await;
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and holds no caller invariant; glibc locks each
    // arena while it trims it, as every allocation does.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release() -> bool {
    false
}
