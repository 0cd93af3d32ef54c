//! glibc's allocator, tuned for a long-running controller whose memory comes in bursts (an
//! issuance wave, a relist) between long idle stretches. Elsewhere (the static musl build)
//! these do nothing.
//!
//! - At most two malloc arenas. glibc gives each thread that meets contention an arena of its
//!   own, up to eight per core; the async runtime's threads take turns on every task, so a
//!   burst leaves freed memory spread over many arenas, none of it reusable by the others.
//! - Freed memory is handed back to the kernel every `TRIM_EVERY`. glibc returns only the top
//!   of the main heap by itself, so after a burst the RSS stayed at the burst's peak although
//!   the objects were gone.

use std::time::Duration;

/// How often free memory is returned: rarely enough to cost nothing (one `malloc_trim` walks
/// the arenas' free lists: well under a millisecond when idle).
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Call first thing, before the runtime starts its threads.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns free heap memory to the kernel every `TRIM_EVERY` until `shutdown`.
pub async fn return_free_memory(shutdown: impl Future<Output = ()>) {
    let trim = async {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim is thread-safe (it takes each arena's lock).
            unsafe {
                libc::malloc_trim(0);
            }
        }
    };
    tokio::select! {
        () = trim => {}
        () = shutdown => {}
    }
}
