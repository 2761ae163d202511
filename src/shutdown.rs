//! The one way to stop the daemon: SIGTERM/SIGINT, or a fatal error in the writer.
//!
//! Owns: a wake-up socket pair the accept loop polls on (signal-hook writes a byte to it from
//! the signal handler), and whether the stop is clean (exit 0) or a failure (exit non-zero).
//! Must never: stop anything itself; the server performs the orderly shutdown when woken.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Clone)]
pub struct ShutdownHandle {
    inner: Arc<Inner>,
}

struct Inner {
    requested: AtomicBool,
    failed: AtomicBool,
    wake: UnixStream,
}

impl ShutdownHandle {
    /// A handle, and the read end the accept loop polls (readable once a stop was requested).
    pub fn new() -> io::Result<(ShutdownHandle, UnixStream)> {
        let (wake, waiter) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        waiter.set_nonblocking(true)?;
        let inner = Arc::new(Inner {
            requested: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            wake,
        });
        Ok((ShutdownHandle { inner }, waiter))
    }

    /// Route SIGTERM and SIGINT to this handle.
    pub fn install_signal_handlers(&self) -> io::Result<()> {
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::low_level::pipe::register(signal, self.inner.wake.try_clone()?)?;
        }
        Ok(())
    }

    /// Ask for a clean stop.
    pub fn request(&self) {
        self.inner.requested.store(true, Ordering::Release);
        self.poke();
    }

    /// Stop because something fatal happened; the process exits non-zero.
    pub fn fail(&self) {
        self.inner.failed.store(true, Ordering::Release);
        self.request();
    }

    pub fn failed(&self) -> bool {
        self.inner.failed.load(Ordering::Acquire)
    }

    fn poke(&self) {
        // A full socket buffer already means "wake up": WouldBlock is fine.
        let _ = (&self.inner.wake).write(&[1]);
    }
}

/// Stops the daemon as a failure if the thread holding it panics.
pub struct FailOnPanic(pub ShutdownHandle);

impl Drop for FailOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!("a daemon thread panicked; stopping the daemon");
            self.0.fail();
        }
    }
}
