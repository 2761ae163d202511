//! This process's identity across `fork()`: a generation number that changes in a forked child,
//! read without a syscall (glibc's `getpid()` is one, and a request used to make one).
//!
//! Owns: the fork handler. What belongs to one process (the daemon connection, the pool of
//! random bytes for ids) is stamped with the generation it was made in and dropped by a child
//! that sees another.
//! Must never: do more in the handler than an atomic increment: it runs in the child right
//! after `fork()`, where only async-signal-safe work is allowed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
static HANDLER: Once = Once::new();
static HANDLER_REGISTERED: AtomicBool = AtomicBool::new(false);

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// A number that is different in a forked child than it was in its parent at the fork.
///
/// The handler is registered on first use, which comes before anything is stamped with a
/// generation. (glibc unregisters it if the extension is unloaded.) Should registering fail
/// (it can only run out of memory), the process id stands in: correct, one syscall dearer.
pub fn generation() -> u64 {
    HANDLER.call_once(|| {
        // SAFETY: registers a handler that only does an atomic increment, for the child only.
        let status = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
        HANDLER_REGISTERED.store(status == 0, Ordering::Relaxed);
    });
    if HANDLER_REGISTERED.load(Ordering::Relaxed) {
        FORK_GENERATION.load(Ordering::Relaxed)
    } else {
        (1 << 63) | u64::from(std::process::id())
    }
}
