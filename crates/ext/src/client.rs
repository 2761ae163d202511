//! This process's connection to the daemon (docs/formats.md#socket-protocol).
//!
//! Owns: one persistent Unix-socket connection per process, opened on first use with a bounded
//! connect and a `Hello`; bounded request/response round trips; reconnecting once when a
//! request could not be delivered; the connection state shown by `connectionState()` and
//! `php --ri`.
//! Must never: resend a request that may have reached the daemon (the outcome of a request is
//! unknown once it was sent and the answer did not come back), send a frame over
//! `FRAME_BYTES_MAX`, or let SIGPIPE kill the PHP process.
//!
//! A round trip is two syscalls: one `send` and one blocking `recv`, whose wait the socket's
//! receive timeout bounds (set once per connection, a little under `eventsrv.io_timeout_ms`;
//! the rest of a longer response, or of a wait the timeout would overshoot, is read with poll
//! and recv against the round trip's deadline). Request and response bytes go through two
//! buffers kept across requests.
//! A connection the daemon closed between requests (a restart) is found by the send itself: on
//! a Unix stream socket, sending to a peer that closed or shut down its reading side fails at
//! once (EPIPE, ECONNRESET) and delivers nothing, so the request goes once more on a fresh
//! connection. The daemon never speaks unasked, so bytes after a response mean the stream is
//! out of step: the connection is dropped after that response.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use eventsrv_format::limits::FRAME_BYTES_MAX;
use eventsrv_format::protocol::{self, ClientKind, FrameError, Request, Response};

use crate::exceptions::{ExtError, ExtResult};
use crate::ini;
use crate::mapping::io_reason;
use crate::process;

/// Back-off while the daemon's accept backlog is full.
const CONNECT_RETRY_PAUSE: Duration = Duration::from_millis(5);
/// Bytes read from the socket at once: a whole small response in one `recv`.
const RESPONSE_READ_BUFFER_BYTES: usize = 4096;
/// A request or response buffer bigger than this after a round trip is released, so one large
/// frame does not stay allocated for the life of the process.
const KEPT_BUFFER_BYTES_MAX: usize = 64 * 1024;
/// Share of `eventsrv.io_timeout_ms` a blocking `recv` may wait (the rest covers the time
/// before it, encoding and sending): in tenths.
const BLOCKING_RECEIVE_SHARE_TENTHS: u32 = 9;

struct Connection {
    socket: OwnedFd,
    path: Vec<u8>,
    /// The fork generation that connected (a forked child must not share its parent's stream).
    generation: u64,
    daemon_version: String,
    /// The socket's receive timeout (SO_RCVTIMEO) as set; zero: never block in `recv`.
    receive_timeout: Duration,
}

#[derive(Default)]
struct ClientState {
    connection: Option<Connection>,
    last_error: Option<String>,
    /// `attachWorker()` was called: re-attach after a reconnect.
    worker: bool,
    /// The request being sent, encoded in place.
    frame: Vec<u8>,
    /// The response being read; its length stays at least `RESPONSE_READ_BUFFER_BYTES` (zeroed
    /// once, not per response).
    response: Vec<u8>,
}

thread_local! {
    static CLIENT: RefCell<ClientState> = RefCell::new(ClientState::default());
}

/// One request, one response.
pub fn request(message: &Request) -> ExtResult<Response> {
    CLIENT.with(|cell| {
        let mut state = cell.borrow_mut();
        let mut frame = std::mem::take(&mut state.frame);
        let result = protocol::encode_frame_into(&mut frame, message)
            .map_err(encode_error)
            .and_then(|()| state.round_trip(&frame));
        if frame.capacity() <= KEPT_BUFFER_BYTES_MAX {
            state.frame = frame;
        }
        if state.response.len() > KEPT_BUFFER_BYTES_MAX {
            state.response = Vec::new();
        }
        if let Err(ExtError::DaemonUnavailable(message)) = &result {
            state.last_error = Some(message.clone());
        }
        result
    })
}

fn encode_error(error: FrameError) -> ExtError {
    match error {
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
    }
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
                String::from_utf8_lossy(&connection.path),
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
        let io_timeout = ini::io_timeout();
        let deadline = Instant::now() + io_timeout;
        let generation = process::generation();
        let stale = self.connection.as_ref().is_some_and(|connection| {
            connection.generation != generation || !ini::socket_path_is(&connection.path)
        });
        if stale {
            self.connection = None;
        }
        let mut reconnected = false;
        let not_sent = |path: &[u8], error: &io::Error| {
            ExtError::DaemonUnavailable(format!(
                "could not send the request to the eventsrv daemon at {} ({}); it was not \
                 applied. The socket path comes from the ini setting {}",
                String::from_utf8_lossy(path),
                io_reason(error),
                ini::SOCKET
            ))
        };
        loop {
            if self.connection.is_none() {
                self.connection = Some(self.connect(&ini::socket_path_bytes())?);
                reconnected = true;
            }
            let connection = self.connection.as_mut().expect("connected above");
            let sent = connection
                .set_receive_timeout(io_timeout)
                .and_then(|()| send_all(connection.socket.as_raw_fd(), frame, deadline));
            match sent {
                Ok(()) => break,
                Err(error) if is_disconnect(&error) && !reconnected => {
                    // The daemon closed this connection before our frame: it cannot have
                    // received the request, so sending it on a fresh connection is safe.
                    self.connection = None;
                }
                Err(error) => {
                    let failure = not_sent(&connection.path, &error);
                    self.connection = None;
                    return Err(failure);
                }
            }
        }
        let connection = self.connection.as_ref().expect("connected and sent above");
        let received = read_response(
            connection.socket.as_raw_fd(),
            deadline,
            connection.receive_timeout,
            &mut self.response,
        );
        match received {
            Ok((response, in_step)) => {
                if !in_step {
                    self.connection = None;
                }
                Ok(response)
            }
            Err(error) => {
                let why = match &error {
                    FrameError::Io(io) if io.kind() == io::ErrorKind::TimedOut => format!(
                        "no answer within {} = {} ms",
                        ini::IO_TIMEOUT_MS,
                        io_timeout.as_millis()
                    ),
                    FrameError::Io(io) => io_reason(io),
                    other => other.to_string(),
                };
                let failure = ExtError::DaemonUnavailable(format!(
                    "the connection to the eventsrv daemon at {} broke after the request was \
                     sent ({why}): the outcome is unknown (it may or may not have been \
                     applied), and the request was not resent",
                    String::from_utf8_lossy(&connection.path)
                ));
                self.connection = None;
                Err(failure)
            }
        }
    }

    fn connect(&mut self, path: &[u8]) -> ExtResult<Connection> {
        let unreachable = |why: String| {
            ExtError::DaemonUnavailable(format!(
                "cannot reach the eventsrv daemon at {} ({why}): is `eventsrv serve` \
                 running? The socket path comes from the ini setting {}",
                String::from_utf8_lossy(path),
                ini::SOCKET
            ))
        };
        let generation = process::generation();
        let deadline = Instant::now() + ini::connect_timeout();
        let socket = connect_unix(path, deadline).map_err(|e| unreachable(io_reason(&e)))?;
        let io_timeout = ini::io_timeout();
        let io_deadline = Instant::now() + io_timeout;
        let mut connection = Connection {
            socket,
            path: path.to_owned(),
            generation,
            daemon_version: String::new(),
            receive_timeout: Duration::ZERO,
        };
        connection
            .set_blocking()
            .and_then(|()| connection.set_receive_timeout(io_timeout))
            .map_err(|e| unreachable(io_reason(&e)))?;
        let fd = connection.socket.as_raw_fd();
        let receive_timeout = connection.receive_timeout;
        let mut buffer = Vec::new();
        let mut exchange = |message: &Request| -> ExtResult<Response> {
            let frame = protocol::encode_frame(message)
                .map_err(|e| unreachable(format!("cannot encode the greeting: {e}")))?;
            send_all(fd, &frame, io_deadline).map_err(|e| unreachable(io_reason(&e)))?;
            match read_response(fd, io_deadline, receive_timeout, &mut buffer) {
                Ok((response, true)) => Ok(response),
                Ok((_, false)) => Err(unreachable("bytes after the greeting".to_owned())),
                Err(e) => Err(unreachable(format!("no greeting from the daemon: {e}"))),
            }
        };
        let hello = Request::Hello {
            client: ClientKind::Php,
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        connection.daemon_version = match exchange(&hello)? {
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
        Ok(connection)
    }
}

impl Connection {
    /// Blocking mode for `recv` (connecting was non-blocking, to bound it; `send` stays
    /// non-blocking per call with MSG_DONTWAIT).
    fn set_blocking(&self) -> io::Result<()> {
        let mut non_blocking: libc::c_int = 0;
        // SAFETY: FIONBIO reads one int from a valid pointer.
        let status = unsafe {
            libc::ioctl(
                self.socket.as_raw_fd(),
                libc::FIONBIO,
                &mut non_blocking as *mut libc::c_int,
            )
        };
        if status < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Make the socket's receive timeout fit `io_timeout` (a setsockopt only when it changed).
    fn set_receive_timeout(&mut self, io_timeout: Duration) -> io::Result<()> {
        let wanted = (io_timeout * BLOCKING_RECEIVE_SHARE_TENTHS / 10)
            .min(Duration::from_secs(i32::MAX as u64));
        if wanted == self.receive_timeout {
            return Ok(());
        }
        let value = libc::timeval {
            tv_sec: wanted.as_secs() as libc::time_t,
            tv_usec: wanted.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: SO_RCVTIMEO reads one timeval from a valid pointer of that size.
        let status = unsafe {
            libc::setsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&value as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if status < 0 {
            return Err(io::Error::last_os_error());
        }
        // A zero timeval would mean "wait forever": such a socket is never read blocking.
        self.receive_timeout = if value.tv_sec == 0 && value.tv_usec == 0 {
            Duration::ZERO
        } else {
            wanted
        };
        Ok(())
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

fn connect_unix(path: &[u8], deadline: Instant) -> io::Result<OwnedFd> {
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
    let bytes = path;
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
        // SAFETY: `bytes` is valid for its length; MSG_NOSIGNAL turns a closed peer into EPIPE,
        // MSG_DONTWAIT keeps a full socket buffer from blocking past the deadline.
        let sent = unsafe {
            libc::send(
                fd,
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
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

/// One response, read into `buffer` (grown to the frame when it is longer, up to
/// `FRAME_BYTES_MAX`), and whether the stream is still in step (no byte came after it).
fn read_response(
    fd: RawFd,
    deadline: Instant,
    receive_timeout: Duration,
    buffer: &mut Vec<u8>,
) -> Result<(Response, bool), FrameError> {
    if buffer.len() < RESPONSE_READ_BUFFER_BYTES {
        buffer.resize(RESPONSE_READ_BUFFER_BYTES, 0);
    }
    let mut filled = 0;
    while filled < protocol::FRAME_LENGTH_BYTES {
        match receive(fd, &mut buffer[filled..], deadline, receive_timeout)? {
            0 if filled == 0 => return Err(FrameError::Closed),
            0 => return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into())),
            got => filled += got,
        }
    }
    let mut prefix = [0u8; protocol::FRAME_LENGTH_BYTES];
    prefix.copy_from_slice(&buffer[..protocol::FRAME_LENGTH_BYTES]);
    let frame_end = protocol::FRAME_LENGTH_BYTES + protocol::parse_frame_len(prefix)?;
    if buffer.len() < frame_end {
        buffer.resize(frame_end, 0);
    }
    while filled < frame_end {
        match receive(
            fd,
            &mut buffer[filled..frame_end],
            deadline,
            receive_timeout,
        )? {
            0 => return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into())),
            got => filled += got,
        }
    }
    let response = protocol::decode_body(&buffer[protocol::FRAME_LENGTH_BYTES..frame_end])?;
    Ok((response, filled == frame_end))
}

/// Some bytes from the socket (0: the daemon closed it), by the deadline: a blocking `recv`
/// while the socket's receive timeout ends before the deadline, else poll, then `recv`.
fn receive(
    fd: RawFd,
    buffer: &mut [u8],
    deadline: Instant,
    receive_timeout: Duration,
) -> io::Result<usize> {
    loop {
        let left = remaining(deadline)?;
        let blocking = !receive_timeout.is_zero() && receive_timeout <= left;
        if !blocking {
            wait_ready(fd, libc::POLLIN, deadline)?;
        }
        let flags = if blocking { 0 } else { libc::MSG_DONTWAIT };
        // SAFETY: `buffer` is valid for writes of its length.
        let got = unsafe { libc::recv(fd, buffer.as_mut_ptr().cast(), buffer.len(), flags) };
        if got >= 0 {
            return Ok(got as usize);
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            // The receive timeout ran out, a signal came, or poll woke early: the deadline
            // decides on the next turn.
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {}
            _ => return Err(error),
        }
    }
}
