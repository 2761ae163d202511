//! The listening socket and the event loop that serves every client connection.
//!
//! Owns: the socket file (created with `--socket-mode`, a stale one removed only if nothing
//! answers on it, removed again on shutdown); one thread, one epoll set: the listener
//! (level-triggered), each connection (edge-triggered reads; writability watched only while an
//! answer waits for room), the writer's answer notices and the shutdown pipe; the
//! `CONNECTIONS_MAX` bound; the deadlines connections ask for; and the orderly shutdown (stop
//! accepting, finish the answers in flight within `SHUTDOWN_CONNECTIONS_WAIT`, close).
//! Must never: take over a socket another daemon is serving, block on one client, or block
//! shutdown forever on a connection.

use crate::client::answers_ping;
use crate::config::{
    ACCEPTS_PER_WAKE_MAX, ACCEPT_ERROR_BACKOFF, CONNECTION_READ_BUFFER_BYTES, EVENTS_PER_WAIT_MAX,
    SHUTDOWN_CONNECTIONS_WAIT, SOCKET_PROBE_TIMEOUT,
};
use crate::connection::{self, Connection, ConnectionContext, Step};
use crate::reply::AnswerNotices;
use eventsrv_format::limits::{CONNECTIONS_MAX, WRITER_QUEUE_MAX};
use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::event::Timespec;
use rustix::io::Errno;
use rustix::net::SocketFlags;
use std::collections::BTreeSet;
use std::fs::Permissions;
use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

// Each connection has at most one request in the writer's queue, so handing one over never
// waits for room (the loop must not block).
const _: () = assert!(WRITER_QUEUE_MAX > CONNECTIONS_MAX);

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

/// Epoll tokens that are not connections (a connection's is its generation and slot index).
const LISTENER: u64 = u64::MAX;
const SHUTDOWN: u64 = u64::MAX - 1;
const NOTICES: u64 = u64::MAX - 2;

/// A connection's readiness interest: edge-triggered, so a wake means new bytes (or a close).
const READ_INTEREST: EventFlags = EventFlags::IN
    .union(EventFlags::RDHUP)
    .union(EventFlags::ET);

struct Slot {
    /// Bumped when the slot is freed: a stale token (an event or notice of a closed connection)
    /// does not reach its successor.
    generation: u32,
    live: Option<Live>,
}

struct Live {
    connection: Connection,
    /// EPOLLOUT is in its interest (only while an answer waits for room: a writable wake per
    /// answer the client reads would cost a loop wake per request).
    watching_writable: bool,
    /// Its entry in `Server::deadlines`.
    deadline: Option<Instant>,
}

pub struct Server {
    /// None once shutdown started.
    listener: Option<UnixListener>,
    socket_path: PathBuf,
    context: Arc<ConnectionContext>,
    /// Readable once a shutdown was requested.
    waiter: UnixStream,
    epoll: OwnedFd,
    notices: Arc<AnswerNotices>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    live_connections: usize,
    /// (deadline, token) of every connection that has one, earliest first.
    deadlines: BTreeSet<(Instant, u64)>,
    /// Connections whose share of a wake ran out with more to do.
    again: Vec<u64>,
    /// The `recv` buffer every connection reads into first.
    scratch: Vec<u8>,
    /// Accepting paused after a failed `accept` (e.g. out of file descriptors) until then.
    accept_paused_until: Option<Instant>,
    /// Shutdown started; connections still answering are closed at this moment.
    stop_deadline: Option<Instant>,
}

impl Server {
    pub fn new(
        listener: UnixListener,
        socket_path: PathBuf,
        context: Arc<ConnectionContext>,
        waiter: UnixStream,
    ) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let notices = AnswerNotices::new()?;
        epoll::add(
            &epoll,
            &listener,
            EventData::new_u64(LISTENER),
            EventFlags::IN,
        )?;
        epoll::add(
            &epoll,
            &waiter,
            EventData::new_u64(SHUTDOWN),
            EventFlags::IN,
        )?;
        epoll::add(
            &epoll,
            notices.fd(),
            EventData::new_u64(NOTICES),
            EventFlags::IN | EventFlags::ET,
        )?;
        Ok(Server {
            listener: Some(listener),
            socket_path,
            context,
            waiter,
            epoll,
            notices,
            slots: Vec::new(),
            free_slots: Vec::new(),
            live_connections: 0,
            deadlines: BTreeSet::new(),
            again: Vec::new(),
            scratch: Vec::with_capacity(CONNECTION_READ_BUFFER_BYTES),
            accept_paused_until: None,
            stop_deadline: None,
        })
    }

    /// Serve clients until shutdown is requested and the answers in flight are out.
    pub fn run(mut self) {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(EVENTS_PER_WAIT_MAX);
        let mut tokens: Vec<u64> = Vec::new();
        loop {
            if self.stop_deadline.is_some() && self.live_connections == 0 {
                break;
            }
            let timeout = self.wait_timeout();
            events.clear();
            match epoll::wait(&self.epoll, spare_capacity(&mut events), timeout.as_ref()) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => {
                    tracing::error!("epoll_wait failed: {e}; closing every connection");
                    self.stop_accepting();
                    break;
                }
            }
            for event in &events {
                // Copies: the kernel's event layout is packed.
                let (token, flags) = (event.data.u64(), event.flags);
                match token {
                    LISTENER => self.accept_ready(),
                    SHUTDOWN => self.begin_stop(),
                    NOTICES => {
                        self.notices.take(&mut tokens);
                        for token in tokens.drain(..) {
                            if let Some(live) = self.live_mut(token) {
                                live.connection.announced();
                            }
                            self.serve(token);
                        }
                    }
                    token => {
                        let woke =
                            EventFlags::IN | EventFlags::RDHUP | EventFlags::HUP | EventFlags::ERR;
                        if flags.intersects(woke) {
                            let hung_up = flags.intersects(EventFlags::RDHUP | EventFlags::HUP);
                            if let Some(live) = self.live_mut(token) {
                                live.connection.readable(hung_up);
                            }
                        }
                        self.serve(token);
                    }
                }
            }
            for token in std::mem::take(&mut self.again) {
                self.serve(token);
            }
            self.expire_deadlines();
            self.resume_accepting();
            if self
                .stop_deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                tracing::warn!(
                    connections = self.live_connections,
                    "connections still waiting for answers at shutdown; closing them"
                );
                break;
            }
        }
        self.close_all();
    }

    /// How long `epoll_wait` may sleep: until the earliest deadline (None: until an event).
    fn wait_timeout(&self) -> Option<Timespec> {
        if !self.again.is_empty() {
            return Some(Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            });
        }
        let earliest = [
            self.deadlines.first().map(|(deadline, _)| *deadline),
            self.accept_paused_until,
            self.stop_deadline,
        ]
        .into_iter()
        .flatten()
        .min()?;
        let left = earliest.saturating_duration_since(Instant::now());
        Some(Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        })
    }

    fn accept_ready(&mut self) {
        for _ in 0..ACCEPTS_PER_WAKE_MAX {
            let Some(listener) = &self.listener else {
                return;
            };
            match rustix::net::accept_with(listener, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
                Ok(socket) => self.admit(UnixStream::from(socket)),
                Err(Errno::AGAIN) => return,
                Err(Errno::INTR | Errno::CONNABORTED) => {}
                Err(e) => {
                    // The listener stays readable (level-triggered): without a pause this
                    // would spin until a descriptor frees up.
                    tracing::error!(
                        "accept failed: {e}; pausing accepts for {} ms",
                        ACCEPT_ERROR_BACKOFF.as_millis()
                    );
                    let _ = epoll::delete(&self.epoll, listener);
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_ERROR_BACKOFF);
                    return;
                }
            }
        }
        // More may be waiting: the level-triggered listener reports them on the next wait.
    }

    fn resume_accepting(&mut self) {
        let Some(until) = self.accept_paused_until else {
            return;
        };
        if Instant::now() < until {
            return;
        }
        self.accept_paused_until = None;
        if let Some(listener) = &self.listener {
            if let Err(e) = epoll::add(
                &self.epoll,
                listener,
                EventData::new_u64(LISTENER),
                EventFlags::IN,
            ) {
                tracing::error!("cannot watch the listening socket again: {e}");
                self.accept_paused_until = Some(Instant::now() + ACCEPT_ERROR_BACKOFF);
            }
        }
    }

    fn admit(&mut self, stream: UnixStream) {
        if self.live_connections >= CONNECTIONS_MAX {
            connection::refuse_overloaded(&stream, CONNECTIONS_MAX);
            return;
        }
        let index = match self.free_slots.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    live: None,
                });
                u32::try_from(self.slots.len() - 1).expect("at most CONNECTIONS_MAX slots")
            }
        };
        let slot = &mut self.slots[index as usize];
        let token = (u64::from(slot.generation) << 32) | u64::from(index);
        if let Err(e) = epoll::add(
            &self.epoll,
            &stream,
            EventData::new_u64(token),
            READ_INTEREST,
        ) {
            tracing::warn!("dropping a connection: cannot watch it: {e}");
            self.free_slots.push(index);
            return;
        }
        let connection = Connection::new(stream, Arc::clone(&self.notices), token, &self.context);
        slot.live = Some(Live {
            connection,
            watching_writable: false,
            deadline: None,
        });
        self.live_connections += 1;
    }

    fn live_mut(&mut self, token: u64) -> Option<&mut Live> {
        let slot = self.slots.get_mut((token & u64::from(u32::MAX)) as usize)?;
        if u64::from(slot.generation) != token >> 32 {
            return None;
        }
        slot.live.as_mut()
    }

    /// Let connection `token` do what it can now, then follow up on what it needs.
    fn serve(&mut self, token: u64) {
        let stopping = self.stop_deadline.is_some();
        let Some(live) = self
            .slots
            .get_mut((token & u64::from(u32::MAX)) as usize)
            .filter(|slot| u64::from(slot.generation) == token >> 32)
            .and_then(|slot| slot.live.as_mut())
        else {
            return; // closed since the event or notice was queued
        };
        let step = live
            .connection
            .serve(&self.context, &mut self.scratch, stopping);
        if step == Step::Close {
            return self.close(token);
        }
        if step == Step::Again {
            self.again.push(token);
        }
        let watch_writable = step == Step::WaitWritable;
        if watch_writable != live.watching_writable {
            let interest = if watch_writable {
                READ_INTEREST | EventFlags::OUT
            } else {
                READ_INTEREST
            };
            let stream = live.connection.stream();
            if let Err(e) = epoll::modify(&self.epoll, stream, EventData::new_u64(token), interest)
            {
                tracing::warn!("closing a client connection: cannot watch it: {e}");
                return self.close(token);
            }
            live.watching_writable = watch_writable;
        }
        let deadline = live.connection.deadline();
        if deadline != live.deadline {
            if let Some(old) = live.deadline.take() {
                self.deadlines.remove(&(old, token));
            }
            if let Some(new) = deadline {
                self.deadlines.insert((new, token));
            }
            live.deadline = deadline;
        }
    }

    fn expire_deadlines(&mut self) {
        let Some(&(first, _)) = self.deadlines.first() else {
            return;
        };
        let now = Instant::now();
        if first > now {
            return;
        }
        while let Some(&(deadline, token)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(live) = self.live_mut(token) else {
                continue;
            };
            live.deadline = None;
            if live.connection.expire(now) {
                self.close(token);
            } else {
                // Its deadline moved: register the new one.
                self.serve(token);
            }
        }
    }

    fn close(&mut self, token: u64) {
        let index = (token & u64::from(u32::MAX)) as usize;
        let Some(mut live) = self.slots[index].live.take() else {
            return;
        };
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1);
        self.free_slots.push(index as u32);
        self.live_connections -= 1;
        if let Some(deadline) = live.deadline {
            self.deadlines.remove(&(deadline, token));
        }
        // The writer may still hold the socket to answer on: deregister explicitly, and shut
        // it so the client learns now that the connection is gone.
        let stream = live.connection.stream();
        let _ = epoll::delete(&self.epoll, stream);
        if live.connection.pending() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        live.connection.leave(&self.context);
    }

    /// Shutdown: stop accepting, close idle connections, let the others finish their answers.
    fn begin_stop(&mut self) {
        if self.stop_deadline.is_some() {
            return;
        }
        self.stop_deadline = Some(Instant::now() + SHUTDOWN_CONNECTIONS_WAIT);
        let _ = epoll::delete(&self.epoll, &self.waiter);
        self.stop_accepting();
        let tokens: Vec<u64> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.live.is_some())
            .map(|(index, slot)| (u64::from(slot.generation) << 32) | index as u64)
            .collect();
        for token in tokens {
            self.serve(token);
        }
    }

    fn stop_accepting(&mut self) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let _ = epoll::delete(&self.epoll, &listener);
        drop(listener);
        match std::fs::remove_file(&self.socket_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(socket = %self.socket_path.display(), "cannot remove the socket file: {e}")
            }
        }
    }

    fn close_all(&mut self) {
        self.stop_accepting();
        for index in 0..self.slots.len() {
            if self.slots[index].live.is_some() {
                let token = (u64::from(self.slots[index].generation) << 32) | index as u64;
                self.close(token);
            }
        }
    }
}
