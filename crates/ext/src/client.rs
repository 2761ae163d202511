//! This process's connection to the daemon (docs/formats.md#socket-protocol).
//!
//! Owns: one persistent Unix-socket connection per process, opened on first use with a bounded
//! connect and a `Hello`; bounded request/response round trips; reconnecting once when a
//! request could not be delivered; the connection state shown by `connectionState()` and
//! `php --ri`.
//! Must never: resend a request that may have reached the daemon (the outcome of a request is
//! unknown once it was sent and the answer did not come back), send a frame over
//! `FRAME_BYTES_MAX`, or let SIGPIPE kill the PHP process.

use std::cell::RefCell;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use eventsrv_format::limits::FRAME_BYTES_MAX;
use eventsrv_format::protocol::{self, ClientKind, FrameError, Request, Response};

use crate::exceptions::{ExtError, ExtResult};
use crate::ini;
use crate::mapping::io_reason;

/// Back-off while the daemon's accept backlog is full.
const CONNECT_RETRY_PAUSE: Duration = Duration::from_millis(5);
/// Bytes read from the socket at once: a whole small response in one `recv`.
const RESPONSE_READ_BUFFER_BYTES: usize = 4096;

struct Connection {
    socket: OwnedFd,
    path: String,
    /// The process that connected (a forked child must not share its parent's stream).
    pid: u32,
    daemon_version: String,
}

#[derive(Default)]
struct ClientState {
    connection: Option<Connection>,
    last_error: Option<String>,
    /// `attachWorker()` was called: re-attach after a reconnect.
    worker: bool,
}

thread_local! {
    static CLIENT: RefCell<ClientState> = RefCell::new(ClientState::default());
}

/// One request, one response.
pub fn request(message: &Request) -> ExtResult<Response> {
    let frame = protocol::encode_frame(message).map_err(|error| match error {
        FrameError::TooLarge { bytes } => ExtError::FrameTooLarge(format!(
            "the request would be a frame of {} bytes, more than the {} MiB limit \
             (FRAME_BYTES_MAX = {FRAME_BYTES_MAX}); nothing was sent",
            if bytes == usize::MAX {
                "too many".to_owned()
            } else {
                bytes.to_string()
            },
            FRAME_BYTES_MAX >> 20
        )),
        other => ExtError::Serialization(format!("cannot encode the request: {other}")),
    })?;
    CLIENT.with(|cell| {
        let mut state = cell.borrow_mut();
        let result = state.round_trip(&frame);
        if let Err(ExtError::DaemonUnavailable(message)) = &result {
            state.last_error = Some(message.clone());
        }
        result
    })
}

/// Mark this process's connection as a projector worker (kept across reconnects).
pub fn attach_worker() -> ExtResult<()> {
    let response = request(&Request::AttachWorker)?;
    check_not_error(response)?;
    CLIENT.with(|cell| cell.borrow_mut().worker = true);
    Ok(())
}

/// `not connected`, `connected to <path>`, or the last error.
pub fn connection_state() -> String {
    CLIENT.with(|cell| {
        let state = cell.borrow();
        match (&state.connection, &state.last_error) {
            (Some(connection), _) => format!(
                "connected to {} (daemon {}{})",
                connection.path,
                connection.daemon_version,
                if state.worker {
                    ", projector worker"
                } else {
                    ""
                }
            ),
            (None, Some(error)) => error.clone(),
            (None, None) => "not connected".to_owned(),
        }
    })
}

/// An `Error` response as a `DaemonException`; anything else passes.
pub fn check_not_error(response: Response) -> ExtResult<Response> {
    match response {
        Response::Error { code, message } => Err(ExtError::Daemon {
            code: code as i32 + 1,
            message: format!("the eventsrv daemon refused the request ({code:?}): {message}"),
        }),
        other => Ok(other),
    }
}

impl ClientState {
    fn round_trip(&mut self, frame: &[u8]) -> ExtResult<Response> {
        let path = ini::socket_path();
        let deadline = Instant::now() + ini::io_timeout();
        let stale = match &self.connection {
            Some(connection) => {
                connection.path != path
                    || connection.pid != std::process::id()
                    || peer_has_closed(connection.socket.as_raw_fd())
            }
            None => false,
        };
        if stale {
            self.connection = None;
        }
        let mut reconnected = false;
        loop {
            if self.connection.is_none() {
                self.connection = Some(self.connect(&path)?);
                reconnected = true;
            }
            let fd = self
                .connection
                .as_ref()
                .map(|c| c.socket.as_raw_fd())
                .unwrap_or(-1);
            match send_all(fd, frame, deadline) {
                Ok(()) => break,
                Err(error) if is_disconnect(&error) && !reconnected => {
                    // The daemon closed this connection before our frame: it cannot have
                    // received the request, so sending it on a fresh connection is safe.
                    self.connection = None;
                }
                Err(error) => {
                    self.connection = None;
                    return Err(ExtError::DaemonUnavailable(format!(
                        "could not send the request to the eventsrv daemon at {path} ({}); it \
                         was not applied. The socket path comes from the ini setting {}",
                        io_reason(&error),
                        ini::SOCKET
                    )));
                }
            }
        }
        let fd = self
            .connection
            .as_ref()
            .map(|c| c.socket.as_raw_fd())
            .unwrap_or(-1);
        match read_response(fd, deadline) {
            Ok(response) => Ok(response),
            Err(error) => {
                self.connection = None;
                let why = match &error {
                    FrameError::Io(io) if io.kind() == io::ErrorKind::TimedOut => format!(
                        "no answer within {} = {} ms",
                        ini::IO_TIMEOUT_MS,
                        ini::io_timeout().as_millis()
                    ),
                    FrameError::Io(io) => io_reason(io),
                    other => other.to_string(),
                };
                Err(ExtError::DaemonUnavailable(format!(
                    "the connection to the eventsrv daemon at {path} broke after the request \
                     was sent ({why}): the outcome is unknown (it may or may not have been \
                     applied), and the request was not resent"
                )))
            }
        }
    }

    fn connect(&mut self, path: &str) -> ExtResult<Connection> {
        let unreachable = |why: String| {
            ExtError::DaemonUnavailable(format!(
                "cannot reach the eventsrv daemon at {path} ({why}): is `eventsrv serve` \
                 running? The socket path comes from the ini setting {}",
                ini::SOCKET
            ))
        };
        let deadline = Instant::now() + ini::connect_timeout();
        let socket = connect_unix(path, deadline).map_err(|e| unreachable(io_reason(&e)))?;
        let fd = socket.as_raw_fd();
        let io_deadline = Instant::now() + ini::io_timeout();
        let exchange = |message: &Request| -> ExtResult<Response> {
            let frame = protocol::encode_frame(message)
                .map_err(|e| unreachable(format!("cannot encode the greeting: {e}")))?;
            send_all(fd, &frame, io_deadline).map_err(|e| unreachable(io_reason(&e)))?;
            read_response(fd, io_deadline)
                .map_err(|e| unreachable(format!("no greeting from the daemon: {e}")))
        };
        let hello = Request::Hello {
            client: ClientKind::Php,
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let daemon_version = match exchange(&hello)? {
            Response::Hello { daemon_version, .. } => daemon_version,
            Response::Error { code, message } => {
                return Err(unreachable(format!(
                    "the daemon refused the connection: {code:?}: {message}"
                )))
            }
            other => return Err(unreachable(format!("unexpected greeting {other:?}"))),
        };
        if self.worker {
            if let Response::Error { code, message } = exchange(&Request::AttachWorker)? {
                return Err(unreachable(format!(
                    "re-attaching the worker failed: {code:?}: {message}"
                )));
            }
        }
        self.last_error = None;
        Ok(Connection {
            socket,
            path: path.to_owned(),
            pid: std::process::id(),
            daemon_version,
        })
    }
}

fn is_disconnect(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::NotConnected
    )
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
    } else {
        Ok(left)
    }
}

/// Wait until `fd` is ready for `events` or the deadline passes.
fn wait_ready(fd: RawFd, events: i16, deadline: Instant) -> io::Result<()> {
    loop {
        let left = remaining(deadline)?;
        let mut poll = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        let millis = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready > 0 {
            return Ok(());
        }
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

/// The daemon never speaks first: a readable idle connection means it was closed.
fn peer_has_closed(fd: RawFd) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; a zero timeout only inspects the current state.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready != 0
}

fn connect_unix(path: &str, deadline: Instant) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the returned descriptor is owned by the OwnedFd below.
    let raw = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_un is plain data; all-zero is a valid starting value.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_bytes();
    if bytes.is_empty() || bytes.len() >= address.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a usable socket path",
        ));
    }
    for (slot, byte) in address.sun_path.iter_mut().zip(bytes) {
        *slot = *byte as libc::c_char;
    }
    let length = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    loop {
        // SAFETY: `address` is an initialised sockaddr_un and `length` does not exceed it.
        let status = unsafe {
            libc::connect(
                socket.as_raw_fd(),
                (&address as *const libc::sockaddr_un).cast(),
                length as libc::socklen_t,
            )
        };
        if status == 0 {
            return Ok(socket);
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => {
                // Backlog full: wait a little, bounded by the connect timeout.
                remaining(deadline)?;
                std::thread::sleep(CONNECT_RETRY_PAUSE);
            }
            Some(libc::EINPROGRESS) => {
                wait_ready(socket.as_raw_fd(), libc::POLLOUT, deadline)?;
                let mut code: libc::c_int = 0;
                let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                // SAFETY: `code` and `size` are valid out-parameters of the right size.
                unsafe {
                    libc::getsockopt(
                        socket.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_ERROR,
                        (&mut code as *mut libc::c_int).cast(),
                        &mut size,
                    )
                };
                return if code == 0 {
                    Ok(socket)
                } else {
                    Err(io::Error::from_raw_os_error(code))
                };
            }
            _ => return Err(error),
        }
    }
}

/// Send every byte, bounded by the deadline, without raising SIGPIPE.
fn send_all(fd: RawFd, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for its length; MSG_NOSIGNAL turns a closed peer into EPIPE.
        let sent =
            unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
        if sent >= 0 {
            bytes = &bytes[sent as usize..];
            continue;
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => wait_ready(fd, libc::POLLOUT, deadline)?,
            _ => return Err(error),
        }
    }
    Ok(())
}

/// One response: the daemon answers only after it received the request, so wait for the socket
/// first and read the whole frame (when small) with one `recv` (poll + recv, instead of a recv
/// that finds nothing, a poll, and a recv each for the length and the body).
fn read_response(fd: RawFd, deadline: Instant) -> Result<Response, FrameError> {
    let mut reader = io::BufReader::with_capacity(
        RESPONSE_READ_BUFFER_BYTES,
        DeadlineReader {
            fd,
            deadline,
            poll_first: true,
        },
    );
    // Nothing follows a response (one request in flight), so no byte is left in the buffer.
    protocol::read_message::<Response>(&mut reader)
}

/// Reads from a non-blocking socket, bounded by a deadline for the whole response.
struct DeadlineReader {
    fd: RawFd,
    deadline: Instant,
    /// Wait for readiness before the first `recv` (it would only find nothing).
    poll_first: bool,
}

impl Read for DeadlineReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.poll_first {
            self.poll_first = false;
            wait_ready(self.fd, libc::POLLIN, self.deadline)?;
        }
        loop {
            // SAFETY: `buffer` is valid for writes of its length.
            let got = unsafe { libc::recv(self.fd, buffer.as_mut_ptr().cast(), buffer.len(), 0) };
            if got >= 0 {
                return Ok(got as usize);
            }
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock => wait_ready(self.fd, libc::POLLIN, self.deadline)?,
                _ => return Err(error),
            }
        }
    }
}
