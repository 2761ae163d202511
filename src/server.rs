//! The listening socket: binding it safely, accepting clients, and the orderly shutdown of
//! connections.
//!
//! Owns: the socket file (created with `--socket-mode`, a stale one removed only if nothing
//! answers on it, removed again on shutdown), the `CONNECTIONS_MAX` bound, and the registry of
//! live connections so shutdown can close them and wait for their threads.
//! Must never: take over a socket another daemon is serving, or block shutdown forever on a
//! connection thread.

use crate::client::answers_ping;
use crate::config::{ACCEPT_ERROR_BACKOFF, SHUTDOWN_CONNECTIONS_WAIT, SOCKET_PROBE_TIMEOUT};
use crate::connection::{self, peer_pid, ConnectionContext};
use crate::writer::WriterMessage;
use eventsrv_format::limits::CONNECTIONS_MAX;
use eventsrv_format::protocol::{self, ErrorCode, Response};
use parking_lot::{Condvar, Mutex};
use rustix::event::{poll, PollFd, PollFlags};
use std::collections::HashMap;
use std::fs::Permissions;
use std::io;
use std::net::Shutdown;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug)]
pub struct BindError(pub String);

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BindError {}

/// Bind `path` with permission `mode`, creating its directory and removing a stale socket file.
pub fn bind(path: &Path, mode: u32) -> Result<UnixListener, BindError> {
    let fail = |what: &str, e: io::Error| {
        BindError(format!("socket {}: cannot {what}: {e}", path.display()))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| fail("create its directory", e))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if !metadata.file_type().is_socket() => {
            return Err(BindError(format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            )));
        }
        Ok(_) => {
            if answers_ping(path, SOCKET_PROBE_TIMEOUT) {
                return Err(BindError(format!(
                    "another eventsrv daemon is serving on {}; refusing to start",
                    path.display()
                )));
            }
            tracing::warn!(socket = %path.display(), "removing a stale socket file (nothing answers on it)");
            std::fs::remove_file(path).map_err(|e| fail("remove the stale file", e))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("inspect", e)),
    }
    // The umask makes the file appear with no more permissions than `mode`; chmod makes it exact.
    let previous = rustix::process::umask(rustix::fs::Mode::from_raw_mode(!mode & 0o777));
    let bound = UnixListener::bind(path);
    rustix::process::umask(previous);
    let listener = bound.map_err(|e| fail("bind", e))?;
    std::fs::set_permissions(path, Permissions::from_mode(mode)).map_err(|e| fail("chmod", e))?;
    Ok(listener)
}

/// Live connections, so shutdown can close their sockets and wait for their threads.
#[derive(Default)]
struct Registry {
    streams: Mutex<HashMap<u64, UnixStream>>,
    emptied: Condvar,
}

impl Registry {
    fn remove(&self, id: u64) {
        let mut streams = self.streams.lock();
        streams.remove(&id);
        if streams.is_empty() {
            self.emptied.notify_all();
        }
    }
}

pub struct Server {
    listener: UnixListener,
    socket_path: PathBuf,
    context: Arc<ConnectionContext>,
    /// Readable once a shutdown was requested.
    waiter: UnixStream,
    registry: Arc<Registry>,
    next_id: u64,
}

impl Server {
    pub fn new(
        listener: UnixListener,
        socket_path: PathBuf,
        context: Arc<ConnectionContext>,
        waiter: UnixStream,
    ) -> Server {
        Server {
            listener,
            socket_path,
            context,
            waiter,
            registry: Arc::default(),
            next_id: 0,
        }
    }

    /// Accept clients until shutdown is requested, then close the socket and every connection.
    pub fn run(mut self) {
        if let Err(e) = self.listener.set_nonblocking(true) {
            tracing::error!("cannot make the listener non-blocking: {e}");
            return self.close();
        }
        loop {
            let (listener_ready, stop) = {
                let mut fds = [
                    PollFd::new(&self.listener, PollFlags::IN),
                    PollFd::new(&self.waiter, PollFlags::IN),
                ];
                match poll(&mut fds, None) {
                    Ok(_) => (!fds[0].revents().is_empty(), !fds[1].revents().is_empty()),
                    Err(rustix::io::Errno::INTR) => (false, false),
                    Err(e) => {
                        tracing::error!("poll on the listening socket failed: {e}");
                        (false, true)
                    }
                }
            };
            if stop {
                break;
            }
            if listener_ready {
                self.accept_ready();
            }
        }
        self.close();
    }

    fn accept_ready(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => self.admit(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::error!("accept failed: {e}");
                    std::thread::sleep(ACCEPT_ERROR_BACKOFF);
                    return;
                }
            }
        }
    }

    fn admit(&mut self, stream: UnixStream) {
        if let Err(e) = stream.set_nonblocking(false) {
            tracing::warn!("dropping a connection: {e}");
            return;
        }
        let count = self.registry.streams.lock().len();
        if count >= CONNECTIONS_MAX {
            tracing::warn!(
                peer_pid = peer_pid(&stream),
                "refusing a connection: {CONNECTIONS_MAX} clients connected"
            );
            let _ = stream.set_write_timeout(Some(crate::config::RESPONSE_WRITE_TIMEOUT));
            let refusal = Response::Error {
                code: ErrorCode::Overloaded,
                message: format!("the daemon already serves {CONNECTIONS_MAX} connections"),
            };
            let _ = protocol::write_message(&mut &stream, &refusal);
            return;
        }
        let Ok(registered) = stream.try_clone() else {
            tracing::warn!("dropping a connection: cannot clone its socket");
            return;
        };
        let id = self.next_id;
        self.next_id += 1;
        self.registry.streams.lock().insert(id, registered);
        self.context.counters.clients.fetch_add(1, Ordering::AcqRel);
        let _ = self.context.writer.try_send(WriterMessage::CountersChanged);
        let context = Arc::clone(&self.context);
        let registry = Arc::clone(&self.registry);
        let spawned = std::thread::Builder::new()
            .name(format!("conn-{id}"))
            .spawn(move || {
                connection::serve(stream, context);
                registry.remove(id);
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start a connection thread: {e}");
            self.context.counters.clients.fetch_sub(1, Ordering::AcqRel);
            self.registry.remove(id);
        }
    }

    fn close(self) {
        drop(self.listener);
        match std::fs::remove_file(&self.socket_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(socket = %self.socket_path.display(), "cannot remove the socket file: {e}")
            }
        }
        let mut streams = self.registry.streams.lock();
        // Only the read side: a connection waiting for its next request wakes up and ends, while
        // one waiting for the writer can still send the answer it gets (the result of an append
        // that made it into the last batch, or the storage error that stopped the daemon). A
        // client that loses the connection instead learns nothing about its append.
        for stream in streams.values() {
            let _ = stream.shutdown(Shutdown::Read);
        }
        let deadline = Instant::now() + SHUTDOWN_CONNECTIONS_WAIT;
        while !streams.is_empty() {
            if self
                .registry
                .emptied
                .wait_until(&mut streams, deadline)
                .timed_out()
            {
                tracing::warn!(
                    connections = streams.len(),
                    "connection threads still running at shutdown"
                );
                for stream in streams.values() {
                    let _ = stream.shutdown(Shutdown::Both);
                }
                break;
            }
        }
    }
}
