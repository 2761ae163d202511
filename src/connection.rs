//! One client connection, served by its own thread.
//!
//! Owns: reading frames (idle between frames for as long as the client likes; once a frame's
//! first byte arrived, the rest within `FRAME_REST_TIMEOUT`), answering `Hello`/`Ping` itself,
//! handing `Append`/`Commit`/`Status`/`AttachWorker` to the writer and sending its reply back,
//! and the connection's share of the client/worker counters.
//! Must never: crash or touch the log because of what a client sent: a bad frame gets an
//! `Error` (when possible), a log line with the peer pid, and a closed connection.

use crate::config::{FRAME_REST_TIMEOUT, RESPONSE_WRITE_TIMEOUT};
use crate::writer::{Counters, WriteRequest, WriterMessage};
use crossbeam_channel::{bounded, Sender};
use eventsrv_format::protocol::{self, ErrorCode, FrameError, Request, Response};
use eventsrv_format::region::REGION_LAYOUT_VERSION;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What every connection shares.
pub struct ConnectionContext {
    pub writer: Sender<WriterMessage>,
    pub counters: Arc<Counters>,
    pub region_path: String,
}

/// Serve one client until it closes, sends something bad, or the daemon shuts it down.
/// The caller already counted it in `counters.clients`; this function uncounts it.
pub fn serve(stream: UnixStream, context: Arc<ConnectionContext>) {
    let peer_pid = peer_pid(&stream);
    let mut connection = Connection {
        stream,
        peer_pid,
        worker: false,
        context,
    };
    connection.run();
    connection.leave();
}

struct Connection {
    stream: UnixStream,
    peer_pid: Option<i32>,
    worker: bool,
    context: Arc<ConnectionContext>,
}

impl Connection {
    fn run(&mut self) {
        if let Err(e) = self.stream.set_write_timeout(Some(RESPONSE_WRITE_TIMEOUT)) {
            tracing::warn!(peer_pid = self.peer_pid, "cannot set a write timeout: {e}");
            return;
        }
        loop {
            let request = match self.read_request() {
                Ok(request) => request,
                Err(FrameError::Closed) => return,
                Err(error) => {
                    self.refuse(error);
                    return;
                }
            };
            let response = self.handle(request);
            if let Err(e) = protocol::write_message(&mut self.stream, &response) {
                tracing::debug!(
                    peer_pid = self.peer_pid,
                    "client went away before its answer: {e}"
                );
                return;
            }
        }
    }

    fn read_request(&mut self) -> Result<Request, FrameError> {
        self.stream.set_read_timeout(None)?;
        let mut reader = ArmOnFirstByte {
            stream: &self.stream,
            armed: false,
        };
        let len = protocol::read_frame_len(&mut reader)?;
        if !reader.armed {
            self.stream.set_read_timeout(Some(FRAME_REST_TIMEOUT))?;
        }
        // Grow with what arrives instead of trusting the length claim up front.
        let mut body = Vec::new();
        (&self.stream).take(len as u64).read_to_end(&mut body)?;
        if body.len() != len {
            return Err(FrameError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed after {} of {len} frame bytes",
                    body.len()
                ),
            )));
        }
        protocol::decode_body(&body)
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
                &mut self.stream,
                &Response::Error {
                    code,
                    message: reason,
                },
            );
        }
    }

    fn handle(&mut self, request: Request) -> Response {
        match request {
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
            Request::Status => self.ask_writer(WriteRequest::Status),
            Request::Append {
                stream,
                expected_version,
                events,
            } => self.ask_writer(WriteRequest::Append {
                stream,
                expected_version,
                events,
            }),
            Request::Commit {
                checkpoints,
                projected_position,
                changes,
            } => self.ask_writer(WriteRequest::Commit {
                checkpoints,
                projected_position,
                changes,
            }),
            Request::Snapshot => self.ask_writer(WriteRequest::Snapshot),
            Request::AttachWorker => {
                if !self.worker {
                    self.worker = true;
                    self.context.counters.workers.fetch_add(1, Ordering::AcqRel);
                    tracing::info!(peer_pid = self.peer_pid, "projector worker attached");
                }
                self.ask_writer(WriteRequest::AttachWorker)
            }
        }
    }

    fn ask_writer(&self, request: WriteRequest) -> Response {
        let (reply, answer) = bounded(1);
        if self
            .context
            .writer
            .send(WriterMessage::Request { request, reply })
            .is_err()
        {
            return shutting_down();
        }
        answer.recv().unwrap_or_else(|_| shutting_down())
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

/// Reads without a timeout until the first byte of a frame arrives, then arms the frame timeout.
struct ArmOnFirstByte<'a> {
    stream: &'a UnixStream,
    armed: bool,
}

impl Read for ArmOnFirstByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        if n > 0 && !self.armed {
            self.stream.set_read_timeout(Some(FRAME_REST_TIMEOUT))?;
            self.armed = true;
        }
        Ok(n)
    }
}
