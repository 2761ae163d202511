//! One client connection, served by its own thread.
//!
//! Owns: reading frames through one `CONNECTION_READ_BUFFER_BYTES` buffer (a small frame is
//! one `recv`; idle between frames for as long as the client likes; once a frame's first byte
//! arrived, the rest within `FRAME_REST_TIMEOUT`; socket timeouts set once, at the start),
//! answering `Hello`/`Ping` itself, handing `Append`/`Commit`/`Status`/`AttachWorker` to the
//! writer and sending its reply back, and the connection's share of the client/worker counters.
//! Must never: crash or touch the log because of what a client sent: a bad frame gets an
//! `Error` (when possible), a log line with the peer pid, and a closed connection; trust a
//! frame's length claim with memory before the bytes arrived.

use crate::config::{CONNECTION_READ_BUFFER_BYTES, FRAME_REST_TIMEOUT, RESPONSE_WRITE_TIMEOUT};
use crate::reply;
use crate::writer::{Counters, WriteRequest, WriterMessage};
use crate::writer_queue::QueueSender;
use eventsrv_format::protocol::{self, ErrorCode, FrameError, Request, Response};
use eventsrv_format::region::REGION_LAYOUT_VERSION;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// What every connection shares.
pub struct ConnectionContext {
    pub writer: QueueSender,
    pub counters: Arc<Counters>,
    pub region_path: String,
}

/// Serve one client until it closes, sends something bad, or the daemon shuts it down.
/// The caller already counted it in `counters.clients`; this function uncounts it.
pub fn serve(stream: UnixStream, context: Arc<ConnectionContext>) {
    let peer_pid = peer_pid(&stream);
    let mut connection = Connection {
        stream: Arc::new(stream),
        pending: false,
        peer_pid,
        worker: false,
        context,
        input: FrameReader::new(),
        answers: reply::Receiver::new(),
    };
    connection.run();
    connection.leave();
}

struct Connection {
    /// Shared with the writer's reply sender, which answers on it directly when it can.
    stream: Arc<UnixStream>,
    /// A request handed to the writer is not known answered yet: nothing else is written on
    /// the socket before its answer (answers stay in request order).
    pending: bool,
    peer_pid: Option<i32>,
    worker: bool,
    context: Arc<ConnectionContext>,
    input: FrameReader,
    /// Reused for every request handed to the writer.
    answers: reply::Receiver<Response>,
}

impl Connection {
    fn run(&mut self) {
        // Set once: a read that waits this long without a byte returns, so the frame timeout is
        // checked; an idle connection simply reads again.
        let timeouts = self
            .stream
            .set_write_timeout(Some(RESPONSE_WRITE_TIMEOUT))
            .and_then(|()| self.stream.set_read_timeout(Some(FRAME_REST_TIMEOUT)));
        if let Err(e) = timeouts {
            tracing::warn!(peer_pid = self.peer_pid, "cannot set socket timeouts: {e}");
            return;
        }
        loop {
            let read = self.read_request();
            // The answer to the previous request goes out before anything else; usually the
            // writer already sent it (the client only sends after reading it).
            if let Err(e) = self.finish_pending() {
                tracing::debug!(
                    peer_pid = self.peer_pid,
                    "client went away before its answer: {e}"
                );
                return;
            }
            let request = match read {
                Ok(request) => request,
                Err(FrameError::Closed) => return,
                Err(error) => {
                    self.refuse(error);
                    return;
                }
            };
            let Some(response) = self.handle(request) else {
                continue;
            };
            if let Err(e) = protocol::write_message(&mut &*self.stream, &response) {
                tracing::debug!(
                    peer_pid = self.peer_pid,
                    "client went away before its answer: {e}"
                );
                return;
            }
        }
    }

    /// Wait until the request handed to the writer is answered, and write what the writer could
    /// not send itself.
    fn finish_pending(&mut self) -> Result<(), FrameError> {
        if !self.pending {
            return Ok(());
        }
        self.pending = false;
        match self.answers.outcome() {
            reply::Outcome::Sent => Ok(()),
            reply::Outcome::Answer(response) => {
                protocol::write_message(&mut &*self.stream, &response)
            }
            reply::Outcome::Rest(bytes) => Ok((&*self.stream).write_all(&bytes)?),
            reply::Outcome::Unanswered => {
                protocol::write_message(&mut &*self.stream, &shutting_down())
            }
        }
    }

    fn read_request(&mut self) -> Result<Request, FrameError> {
        let body = self.input.next_frame(&self.stream)?;
        protocol::decode_body(body)
    }

    /// Log why the connection is dropped and tell the client when the protocol allows it.
    fn refuse(&mut self, error: FrameError) {
        let (code, reason) = match &error {
            FrameError::TooLarge { .. } => (Some(ErrorCode::FrameTooLarge), error.to_string()),
            FrameError::UnsupportedVersion(_) => {
                (Some(ErrorCode::UnsupportedVersion), error.to_string())
            }
            FrameError::Decode(_) => (Some(ErrorCode::BadRequest), error.to_string()),
            FrameError::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                (
                    None,
                    format!("frame incomplete after {} s", FRAME_REST_TIMEOUT.as_secs()),
                )
            }
            FrameError::Io(_) | FrameError::Closed => (None, error.to_string()),
        };
        tracing::warn!(
            peer_pid = self.peer_pid,
            "closing a client connection: {reason}"
        );
        if let Some(code) = code {
            let _ = protocol::write_message(
                &mut &*self.stream,
                &Response::Error {
                    code,
                    message: reason,
                },
            );
        }
    }

    /// The answer to write now, or None when the writer answers (see `finish_pending`).
    fn handle(&mut self, request: Request) -> Option<Response> {
        let response = match request {
            Request::Hello {
                client,
                pid,
                version,
            } => {
                tracing::debug!(peer_pid = self.peer_pid, ?client, pid, version, "hello");
                Response::Hello {
                    daemon_version: env!("CARGO_PKG_VERSION").into(),
                    layout_version: REGION_LAYOUT_VERSION,
                    region_path: self.context.region_path.clone(),
                }
            }
            Request::Ping => Response::Pong,
            Request::Status => return self.ask_writer(WriteRequest::Status),
            Request::Append {
                stream,
                expected_version,
                events,
            } => {
                return self.ask_writer(WriteRequest::Append {
                    stream,
                    expected_version,
                    events,
                })
            }
            Request::Commit {
                checkpoints,
                projected_position,
                changes,
            } => {
                return self.ask_writer(WriteRequest::Commit {
                    checkpoints,
                    projected_position,
                    changes,
                })
            }
            Request::Snapshot => return self.ask_writer(WriteRequest::Snapshot),
            Request::AttachWorker => {
                if !self.worker {
                    self.worker = true;
                    self.context.counters.workers.fetch_add(1, Ordering::AcqRel);
                    tracing::info!(peer_pid = self.peer_pid, "projector worker attached");
                }
                return self.ask_writer(WriteRequest::AttachWorker);
            }
        };
        Some(response)
    }

    /// Hand `request` to the writer, which answers on the socket (None), or the answer now.
    fn ask_writer(&mut self, request: WriteRequest) -> Option<Response> {
        let reply = self.answers.sender_on(Some(Arc::clone(&self.stream)));
        if let Err(refused) = self
            .context
            .writer
            .send(WriterMessage::Request { request, reply })
        {
            // The writer is gone; dropping the returned sender leaves the mailbox unanswered.
            drop(refused);
            let _ = self.answers.try_outcome();
            return Some(shutting_down());
        }
        self.pending = true;
        None
    }

    fn leave(&mut self) {
        let counters = &self.context.counters;
        if self.worker {
            counters.workers.fetch_sub(1, Ordering::AcqRel);
            tracing::info!(peer_pid = self.peer_pid, "projector worker detached");
        }
        counters.clients.fetch_sub(1, Ordering::AcqRel);
        // A full queue will publish the counters anyway when the writer gets to it.
        let _ = self.context.writer.try_send(WriterMessage::CountersChanged);
    }
}

fn shutting_down() -> Response {
    Response::Error {
        code: ErrorCode::ShuttingDown,
        message: "the daemon is shutting down".into(),
    }
}

/// The peer's pid (SO_PEERCRED), for log lines.
pub fn peer_pid(stream: &UnixStream) -> Option<i32> {
    rustix::net::sockopt::socket_peercred(stream)
        .ok()
        .map(|cred| cred.pid.as_raw_pid())
}

/// Frames from one socket through one buffer: as many bytes as are there in one `recv`, frames
/// cut out of the buffer, the buffer grown only for a frame larger than it, and only as that
/// frame's bytes arrive.
struct FrameReader {
    buffer: Vec<u8>,
    /// Unconsumed bytes are `buffer[start..end]`.
    start: usize,
    end: usize,
}

impl FrameReader {
    fn new() -> FrameReader {
        FrameReader {
            buffer: vec![0; CONNECTION_READ_BUFFER_BYTES],
            start: 0,
            end: 0,
        }
    }

    /// The next frame's body (after the length prefix). `Closed` if the peer closed between
    /// frames. Waits between frames forever; once a frame started, its rest must arrive within
    /// `FRAME_REST_TIMEOUT`.
    fn next_frame(&mut self, mut stream: &UnixStream) -> Result<&[u8], FrameError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.buffer.len() > CONNECTION_READ_BUFFER_BYTES && self.end == 0 {
            // A large frame is done with: give its memory back.
            self.buffer = vec![0; CONNECTION_READ_BUFFER_BYTES];
        }
        let mut frame_started: Option<Instant> = (self.end > self.start).then(Instant::now);
        let mut need = protocol::FRAME_LENGTH_BYTES;
        loop {
            let available = self.end - self.start;
            if available >= protocol::FRAME_LENGTH_BYTES && need == protocol::FRAME_LENGTH_BYTES {
                let mut prefix = [0u8; protocol::FRAME_LENGTH_BYTES];
                prefix.copy_from_slice(
                    &self.buffer[self.start..self.start + protocol::FRAME_LENGTH_BYTES],
                );
                need = protocol::FRAME_LENGTH_BYTES + protocol::parse_frame_len(prefix)?;
            }
            if available >= need && need > protocol::FRAME_LENGTH_BYTES {
                let body = self.start + protocol::FRAME_LENGTH_BYTES..self.start + need;
                self.start += need;
                return Ok(&self.buffer[body]);
            }
            // Room for more: move what is left to the front, grow only by what a read can fill.
            if self.end == self.buffer.len() {
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.end == self.buffer.len() {
                    let grown = (self.buffer.len() * 2).min(need.max(self.buffer.len()));
                    self.buffer.resize(grown, 0);
                }
            }
            let read = stream.read(&mut self.buffer[self.end..]);
            match read {
                Ok(0) if available == 0 => return Err(FrameError::Closed),
                Ok(0) => {
                    return Err(FrameError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("connection closed after {available} bytes of a frame"),
                    )))
                }
                Ok(n) => {
                    self.end += n;
                    frame_started.get_or_insert_with(Instant::now);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) && frame_started.is_none() => {}
                Err(e) => return Err(FrameError::Io(e)),
            }
            if frame_started.is_some_and(|started| started.elapsed() > FRAME_REST_TIMEOUT) {
                return Err(FrameError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "frame incomplete",
                )));
            }
        }
    }
}
