//! One client connection, as the event loop sees it: bytes in, requests out to the writer,
//! answers back, never blocking.
//!
//! Owns: cutting frames out of the bytes that arrived (a small frame is one `recv` into the
//! loop's shared `CONNECTION_READ_BUFFER_BYTES` buffer; a connection keeps only the unconsumed
//! rest, grown only as a large frame's bytes arrive); answering `Hello`/`Ping` itself; handing
//! `Append`/`Commit`/`Status`/`Snapshot`/`AttachWorker` to the writer, at most one at a time,
//! and taking the next frame only once that answer is out (answers stay in request order); the
//! unsent rest of an answer (at most one frame); the two deadlines the loop enforces (once a
//! frame's first byte arrived, the rest within `FRAME_REST_TIMEOUT`; an answer that did not fit
//! the socket written within `RESPONSE_WRITE_TIMEOUT`; idle between frames for as long as the
//! client likes); and the connection's share of the client/worker counters.
//! Must never: block, crash or touch the log because of what a client sent: a bad frame gets an
//! `Error` (when possible), a log line with the peer pid, and a closed connection; trust a
//! frame's length claim with memory before the bytes arrived.

use crate::config::{
    CONNECTION_READ_BUFFER_BYTES, FRAMES_PER_WAKE_MAX, FRAME_REST_TIMEOUT, RESPONSE_WRITE_TIMEOUT,
};
use crate::reply::{self, AnswerNotices};
use crate::writer::{Counters, WriteRequest, WriterMessage};
use crate::writer_queue::QueueSender;
use eventsrv_format::protocol::{self, ErrorCode, FrameError, Request, Response};
use eventsrv_format::region::REGION_LAYOUT_VERSION;
use rustix::buffer::spare_capacity;
use rustix::io::Errno;
use rustix::net::RecvFlags;
use std::io;
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

/// What the loop does with a connection after serving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do until the socket is readable again or the writer's answer is announced.
    Wait,
    /// An answer waits for room in the socket: watch for writability too.
    WaitWritable,
    /// Its share of this wake is used up and more is there: serve it again after the others.
    Again,
    /// Done: deregister and drop it.
    Close,
}

pub struct Connection {
    /// Shared with the writer's reply sender, which answers on it directly when it can.
    stream: Arc<UnixStream>,
    /// Unconsumed bytes: the start of the next frame, or frames behind a pending request.
    input: Vec<u8>,
    /// The unsent rest of one answer frame: nothing else is read or answered before it is out.
    output: Vec<u8>,
    output_sent: usize,
    /// A request handed to the writer is not known answered yet.
    pending: bool,
    /// Reused for every request handed to the writer.
    answers: reply::Receiver<Response>,
    /// The last read emptied the socket: the next bytes come with a readiness event.
    drained: bool,
    /// The client shut its side down: serve what arrived, then close.
    read_closed: bool,
    /// Epoll reported the client's side shut: a short read did not reach the end yet.
    hung_up: bool,
    /// The writer announced the answer: look at it even with nothing new from the client.
    announced: bool,
    worker: bool,
    peer_pid: Option<Option<i32>>,
    frame_deadline: Option<Instant>,
    write_deadline: Option<Instant>,
}

impl Connection {
    /// A new connection, counted in `counters.clients` (`leave` uncounts it).
    pub fn new(
        stream: UnixStream,
        notices: Arc<AnswerNotices>,
        token: u64,
        context: &ConnectionContext,
    ) -> Connection {
        context.counters.clients.fetch_add(1, Ordering::AcqRel);
        // A full queue will publish the counters anyway when the writer gets to it.
        let _ = context.writer.try_send(WriterMessage::CountersChanged);
        Connection {
            stream: Arc::new(stream),
            input: Vec::new(),
            output: Vec::new(),
            output_sent: 0,
            pending: false,
            answers: reply::Receiver::for_loop(notices, token),
            // A client that already sent is reported by the readiness check of registering.
            drained: true,
            read_closed: false,
            hung_up: false,
            announced: false,
            worker: false,
            peer_pid: None,
            frame_deadline: None,
            write_deadline: None,
        }
    }

    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// The socket reported readable (or closed, or failed): read before waiting again.
    /// `hung_up`: the client shut its side (the end comes after the bytes still queued).
    pub fn readable(&mut self, hung_up: bool) {
        self.drained = false;
        self.hung_up |= hung_up;
    }

    /// The writer announced the answer to the request in flight (`AnswerNotices`).
    pub fn announced(&mut self) {
        self.announced = true;
    }

    /// A request handed to the writer is not answered yet.
    pub fn pending(&self) -> bool {
        self.pending
    }

    /// The earliest moment the loop must call [`Connection::expire`].
    pub fn deadline(&self) -> Option<Instant> {
        match (self.frame_deadline, self.write_deadline) {
            (Some(frame), Some(write)) => Some(frame.min(write)),
            (frame, write) => frame.or(write),
        }
    }

    /// Whether a deadline passed by `now` (and why, logged): the loop then closes it.
    pub fn expire(&mut self, now: Instant) -> bool {
        let reason = if self.frame_deadline.is_some_and(|deadline| deadline <= now) {
            format!("frame incomplete after {} s", FRAME_REST_TIMEOUT.as_secs())
        } else if self.write_deadline.is_some_and(|deadline| deadline <= now) {
            format!(
                "it did not read its answer within {} s",
                RESPONSE_WRITE_TIMEOUT.as_secs()
            )
        } else {
            return false;
        };
        tracing::warn!(
            peer_pid = self.peer_pid(),
            "closing a client connection: {reason}"
        );
        true
    }

    /// Do everything that can be done now without blocking: write what waits, take the
    /// writer's answer, handle complete frames, read. `stopping`: the daemon shuts down: finish
    /// the request in flight and its answer, take no new one.
    pub fn serve(
        &mut self,
        context: &ConnectionContext,
        scratch: &mut Vec<u8>,
        stopping: bool,
    ) -> Step {
        let step = self.advance(context, scratch, stopping);
        self.settle_deadlines(step);
        step
    }

    fn advance(
        &mut self,
        context: &ConnectionContext,
        scratch: &mut Vec<u8>,
        stopping: bool,
    ) -> Step {
        let mut frames_left = FRAMES_PER_WAKE_MAX;
        loop {
            if self.output_sent < self.output.len() {
                match self.flush() {
                    Ok(true) => {}
                    Ok(false) => return Step::WaitWritable,
                    Err(e) => {
                        tracing::debug!(
                            peer_pid = self.peer_pid(),
                            "client went away before its answer: {e}"
                        );
                        return Step::Close;
                    }
                }
            }
            if self.pending {
                // Usually the writer answered on the socket and the client's next frame is
                // what brought the loop here. With nothing new from the client, do not even
                // look: that would make the writer wake the loop for every answer.
                let must_know = stopping
                    || self.announced
                    || self.read_closed
                    || !self.input.is_empty()
                    || !self.drained;
                if !must_know {
                    return Step::Wait;
                }
                self.announced = false;
                match self.answers.poll_outcome() {
                    None => return Step::Wait,
                    Some(outcome) => {
                        self.pending = false;
                        let written = match outcome {
                            reply::Outcome::Sent => Ok(()),
                            reply::Outcome::Answer(response) => self.queue(&response),
                            reply::Outcome::Rest(bytes) => {
                                self.output = bytes;
                                self.output_sent = 0;
                                Ok(())
                            }
                            reply::Outcome::Unanswered => self.queue(&shutting_down()),
                        };
                        if written.is_err() {
                            return Step::Close;
                        }
                        continue;
                    }
                }
            }
            if stopping {
                return Step::Close;
            }
            match self.next_frame() {
                Ok(Some(frame_len)) => {
                    if frames_left == 0 {
                        return Step::Again;
                    }
                    frames_left -= 1;
                    let decoded =
                        protocol::decode_body(&self.input[protocol::FRAME_LENGTH_BYTES..frame_len]);
                    self.input.drain(..frame_len);
                    if self.input.is_empty() && self.input.capacity() > CONNECTION_READ_BUFFER_BYTES
                    {
                        // A large frame is done with: give its memory back.
                        self.input = Vec::new();
                    }
                    let request = match decoded {
                        Ok(request) => request,
                        Err(error) => return self.refuse(error),
                    };
                    if self.handle(request, context).is_err() {
                        return Step::Close;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(error) => return self.refuse(error),
            }
            if self.read_closed {
                if !self.input.is_empty() {
                    tracing::warn!(
                        peer_pid = self.peer_pid(),
                        "closing a client connection: connection closed after {} bytes of a frame",
                        self.input.len()
                    );
                }
                return Step::Close;
            }
            if self.drained {
                return Step::Wait;
            }
            match self.fill(scratch) {
                Ok(0) => self.read_closed = true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.drained = true,
                Err(e) => {
                    tracing::debug!(peer_pid = self.peer_pid(), "reading from a client: {e}");
                    return Step::Close;
                }
            }
        }
    }

    /// The frame clock runs while the start of a frame waits for its rest (not while the
    /// client waits for us); the write clock while an answer waits for room.
    fn settle_deadlines(&mut self, step: Step) {
        let frame_open = step == Step::Wait && !self.pending && !self.input.is_empty();
        if !frame_open {
            self.frame_deadline = None;
        } else if self.frame_deadline.is_none() {
            self.frame_deadline = Some(Instant::now() + FRAME_REST_TIMEOUT);
        }
        if step != Step::WaitWritable {
            self.write_deadline = None;
        } else if self.write_deadline.is_none() {
            self.write_deadline = Some(Instant::now() + RESPONSE_WRITE_TIMEOUT);
        }
    }

    /// The length (prefix included) of the complete frame at the start of `input`, if there is
    /// one; an error as soon as the length prefix is refused.
    fn next_frame(&self) -> Result<Option<usize>, FrameError> {
        let Some(prefix) = self.input.first_chunk::<{ protocol::FRAME_LENGTH_BYTES }>() else {
            return Ok(None);
        };
        let frame_len = protocol::FRAME_LENGTH_BYTES + protocol::parse_frame_len(*prefix)?;
        Ok((self.input.len() >= frame_len).then_some(frame_len))
    }

    /// Read what the socket has: into the shared buffer for the start of a frame (copied into
    /// `input`; usually a whole frame that is consumed at once), straight into `input` for the
    /// rest of a frame larger than that buffer, growing it by at most its size again.
    fn fill(&mut self, scratch: &mut Vec<u8>) -> io::Result<usize> {
        let frame_len = self
            .input
            .first_chunk::<{ protocol::FRAME_LENGTH_BYTES }>()
            .and_then(|prefix| protocol::parse_frame_len(*prefix).ok())
            .map_or(0, |body| protocol::FRAME_LENGTH_BYTES + body);
        let read = if frame_len > self.input.len() + CONNECTION_READ_BUFFER_BYTES {
            let grown = frame_len.min((self.input.len() * 2).max(CONNECTION_READ_BUFFER_BYTES));
            self.input.reserve_exact(grown - self.input.len());
            let room = self.input.capacity() - self.input.len();
            receive(&self.stream, &mut self.input).map(|n| (n, room))
        } else {
            scratch.clear();
            let room = scratch.capacity();
            let read = receive(&self.stream, scratch).map(|n| (n, room));
            self.input.extend_from_slice(scratch);
            read
        };
        let (n, room) = read?;
        // A read that did not fill its room emptied the socket: more bytes bring a new event
        // (but a hang-up already reported does not come again).
        self.drained = n > 0 && n < room && !self.hung_up;
        Ok(n)
    }

    /// Write what the socket takes of the pending answer. `Ok(true)` once it is all out.
    fn flush(&mut self) -> io::Result<bool> {
        while self.output_sent < self.output.len() {
            match reply::send_some(&self.stream, &self.output[self.output_sent..]) {
                Ok(n) => self.output_sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.output.clear();
        self.output_sent = 0;
        if self.output.capacity() > CONNECTION_READ_BUFFER_BYTES {
            self.output = Vec::new();
        }
        Ok(true)
    }

    /// Put `response` behind what waits to be written (written by the next flush).
    fn queue(&mut self, response: &Response) -> Result<(), FrameError> {
        match protocol::encode_frame(response) {
            Ok(frame) => {
                self.output.extend_from_slice(&frame);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(
                    peer_pid = self.peer_pid(),
                    "closing a client connection: its answer cannot be sent: {e}"
                );
                Err(e)
            }
        }
    }

    /// Log why the connection is dropped and tell the client when the protocol allows it.
    fn refuse(&mut self, error: FrameError) -> Step {
        let code = match &error {
            FrameError::TooLarge { .. } => Some(ErrorCode::FrameTooLarge),
            FrameError::UnsupportedVersion(_) => Some(ErrorCode::UnsupportedVersion),
            FrameError::Decode(_) => Some(ErrorCode::BadRequest),
            FrameError::Io(_) | FrameError::Closed => None,
        };
        let reason = error.to_string();
        tracing::warn!(
            peer_pid = self.peer_pid(),
            "closing a client connection: {reason}"
        );
        if let Some(code) = code {
            let refusal = Response::Error {
                code,
                message: reason,
            };
            // One try: the connection closes whether the client reads it or not.
            if self.queue(&refusal).is_ok() {
                let _ = self.flush();
            }
        }
        Step::Close
    }

    /// Answer `request` now, or hand it to the writer (which answers on the socket).
    fn handle(&mut self, request: Request, context: &ConnectionContext) -> Result<(), FrameError> {
        let response = match request {
            Request::Hello {
                client,
                pid,
                version,
            } => {
                tracing::debug!(peer_pid = self.peer_pid(), ?client, pid, version, "hello");
                Response::Hello {
                    daemon_version: env!("CARGO_PKG_VERSION").into(),
                    layout_version: REGION_LAYOUT_VERSION,
                    region_path: context.region_path.clone(),
                }
            }
            Request::Ping => Response::Pong,
            Request::Status => return self.ask_writer(WriteRequest::Status, context),
            Request::Append {
                stream,
                expected_version,
                events,
            } => {
                let request = WriteRequest::Append {
                    stream,
                    expected_version,
                    events,
                };
                return self.ask_writer(request, context);
            }
            Request::Commit {
                checkpoints,
                projected_position,
                changes,
            } => {
                let request = WriteRequest::Commit {
                    checkpoints,
                    projected_position,
                    changes,
                };
                return self.ask_writer(request, context);
            }
            Request::Snapshot => return self.ask_writer(WriteRequest::Snapshot, context),
            Request::AttachWorker => {
                if !self.worker {
                    self.worker = true;
                    context.counters.workers.fetch_add(1, Ordering::AcqRel);
                    tracing::info!(peer_pid = self.peer_pid(), "projector worker attached");
                }
                return self.ask_writer(WriteRequest::AttachWorker, context);
            }
        };
        self.queue(&response)
    }

    /// Hand `request` to the writer, which answers on the socket; or answer `ShuttingDown`.
    fn ask_writer(
        &mut self,
        request: WriteRequest,
        context: &ConnectionContext,
    ) -> Result<(), FrameError> {
        let reply = self.answers.sender_on(Some(Arc::clone(&self.stream)));
        // The queue holds more than CONNECTIONS_MAX requests and each connection has at most
        // one in it: this does not wait.
        if let Err(refused) = context
            .writer
            .send(WriterMessage::Request { request, reply })
        {
            // The writer is gone; dropping the returned sender leaves the mailbox unanswered.
            drop(refused);
            let _ = self.answers.try_outcome();
            return self.queue(&shutting_down());
        }
        self.pending = true;
        Ok(())
    }

    /// Uncount the connection (the loop drops it next).
    pub fn leave(&mut self, context: &ConnectionContext) {
        let counters = &context.counters;
        if self.worker {
            counters.workers.fetch_sub(1, Ordering::AcqRel);
            tracing::info!(peer_pid = self.peer_pid(), "projector worker detached");
        }
        counters.clients.fetch_sub(1, Ordering::AcqRel);
        let _ = context.writer.try_send(WriterMessage::CountersChanged);
    }

    /// The peer's pid (SO_PEERCRED, recorded at connect: valid after the peer exited), looked
    /// up only for log lines.
    fn peer_pid(&mut self) -> Option<i32> {
        *self.peer_pid.get_or_insert_with(|| peer_pid(&self.stream))
    }
}

/// `recv` into the spare capacity of `buffer`, without blocking.
fn receive(stream: &UnixStream, buffer: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        match rustix::net::recv(stream, spare_capacity(buffer), RecvFlags::DONTWAIT) {
            Ok((_, n)) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
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

/// A refusal written on a connection the loop does not take (`CONNECTIONS_MAX`): one try.
pub fn refuse_overloaded(stream: &UnixStream, connections_max: usize) {
    tracing::warn!(
        peer_pid = peer_pid(stream),
        "refusing a connection: {connections_max} clients connected"
    );
    let refusal = Response::Error {
        code: ErrorCode::Overloaded,
        message: format!("the daemon already serves {connections_max} connections"),
    };
    if let Ok(frame) = protocol::encode_frame(&refusal) {
        let _ = reply::send_some(stream, &frame);
    }
}
