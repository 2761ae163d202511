//! The writer's answer to one connection: a single-slot mailbox each connection reuses for every
//! request it hands to the writer, and the direct path that sends the answer on the client's
//! socket from the answering thread.
//!
//! Owns: answering with one non-blocking `send` on the client's socket when it fits (the event
//! loop is not woken at all: the client's next frame wakes it), else handing the answer (or the
//! unsent rest of its frame) to the loop; waking the loop (one `AnswerNotices` entry and, for the
//! first entry, one eventfd write) only when it has to act: it must write, the request was
//! dropped unanswered (the writer stopped), or it already waits for this answer (the client sent
//! more, or closed). A mailbox without notices (tests, CLI-free writer tests) wakes a thread
//! parked on a condition variable instead. Never spins (on 2 cores shared by dozens of PHP
//! processes, spin-then-park channels burned `sched_yield` calls on every request).
//! Must never: hold more than one answer (a connection has at most one request in flight), block
//! the answering thread on a client that does not read, or let the connection write anything
//! before the pending answer is out (answers stay in request order).

use eventsrv_format::limits::CONNECTIONS_MAX;
use eventsrv_format::protocol;
use rustix::event::{eventfd, EventfdFlags};
use rustix::io::Errno;
use rustix::net::SendFlags;
use serde::Serialize;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Connections whose answer needs the event loop, and the eventfd that wakes it.
///
/// Holds at most one entry per request in flight, and a connection has at most one request in
/// flight: `CONNECTIONS_MAX` entries, plus stale ones of connections closed since the last drain.
pub struct AnswerNotices {
    tokens: Mutex<Vec<u64>>,
    wake: OwnedFd,
}

impl AnswerNotices {
    pub fn new() -> io::Result<Arc<AnswerNotices>> {
        let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Arc::new(AnswerNotices {
            tokens: Mutex::new(Vec::with_capacity(CONNECTIONS_MAX)),
            wake,
        }))
    }

    /// Readable while notices wait to be taken.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u64>> {
        // A push or a take cannot leave the list half-changed.
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self, token: u64) {
        let mut tokens = self.lock();
        let first = tokens.is_empty();
        tokens.push(token);
        drop(tokens);
        // Only the first entry since the last take wakes the loop: it takes them all.
        if first {
            let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
        }
    }

    /// Every connection token notified since the last call (oldest first, may repeat).
    pub fn take(&self, into: &mut Vec<u64>) {
        // Reset the eventfd before taking: a notice pushed after the take writes it again.
        let mut counter = [0u8; 8];
        let _ = rustix::io::read(&self.wake, &mut counter);
        into.append(&mut self.lock());
    }
}

enum Slot<T> {
    /// No answer yet (or none pending).
    Empty,
    /// The whole answer went out on the socket.
    Sent,
    /// The receiver writes it.
    Answered(T),
    /// The first bytes of the answer's frame went out; the receiver writes these.
    Rest(Vec<u8>),
    /// The sender was dropped without answering.
    Dropped,
}

struct State<T> {
    slot: Slot<T>,
    /// The receiver waits for this answer: a thread sleeping on `answered`, or the event loop
    /// (a wake costs a syscall: only then).
    waiting: bool,
}

struct Mailbox<T> {
    state: Mutex<State<T>>,
    answered: Condvar,
    /// The event loop's notices and this connection's token (None: a thread waits on `answered`).
    notices: Option<(Arc<AnswerNotices>, u64)>,
}

impl<T> Mailbox<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No invariant spans an unlock; a panicking holder left consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The slot was just filled: wake the receiver if it has to act on it.
    fn filled(&self, mut state: MutexGuard<'_, State<T>>) {
        match &self.notices {
            // The loop acts on anything but a sent answer at once; on a sent one only when it
            // already waits (otherwise the client's next frame brings it here).
            Some((notices, token)) => {
                let wake = state.waiting || !matches!(state.slot, Slot::Sent);
                state.waiting = false;
                drop(state);
                if wake {
                    notices.notify(*token);
                }
            }
            None => {
                let wake = state.waiting;
                drop(state);
                if wake {
                    self.answered.notify_one();
                }
            }
        }
    }
}

/// The connection's side: create once, then one [`Receiver::sender_on`] per request.
pub struct Receiver<T> {
    mailbox: Arc<Mailbox<T>>,
}

/// The answering side of one request. Dropping it unanswered wakes the receiver with an error.
pub struct Sender<T> {
    mailbox: Option<Arc<Mailbox<T>>>,
    /// Answer directly on this socket when it takes the whole frame without blocking.
    socket: Option<Arc<UnixStream>>,
}

/// How a request was answered.
#[derive(Debug, PartialEq)]
pub enum Outcome<T> {
    /// Already on the socket: nothing left to do.
    Sent,
    /// Write this answer.
    Answer(T),
    /// Write these bytes (the rest of the answer's frame).
    Rest(Vec<u8>),
    /// Dropped without an answer.
    Unanswered,
}

/// The request was dropped without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unanswered;

impl<T> Default for Receiver<T> {
    fn default() -> Self {
        Receiver::new()
    }
}

impl<T> Receiver<T> {
    /// A mailbox whose receiver is a thread that waits ([`Receiver::recv`]).
    pub fn new() -> Receiver<T> {
        Receiver::with_notices(None)
    }

    /// A mailbox of the event loop's connection `token`: answers it must act on are announced
    /// in `notices` ([`Receiver::poll_outcome`]).
    pub fn for_loop(notices: Arc<AnswerNotices>, token: u64) -> Receiver<T> {
        Receiver::with_notices(Some((notices, token)))
    }

    fn with_notices(notices: Option<(Arc<AnswerNotices>, u64)>) -> Receiver<T> {
        Receiver {
            mailbox: Arc::new(Mailbox {
                state: Mutex::new(State {
                    slot: Slot::Empty,
                    waiting: false,
                }),
                answered: Condvar::new(),
                notices,
            }),
        }
    }

    /// The sender for the next request, answered through the mailbox only. The previous
    /// answer must have been received.
    pub fn sender(&self) -> Sender<T> {
        self.sender_on(None)
    }

    /// The sender for the next request, answering directly on `socket` when it can.
    pub fn sender_on(&self, socket: Option<Arc<UnixStream>>) -> Sender<T> {
        let state = self.mailbox.lock();
        assert!(
            matches!(state.slot, Slot::Empty),
            "one request in flight per connection"
        );
        Sender {
            mailbox: Some(Arc::clone(&self.mailbox)),
            socket,
        }
    }

    /// How the request whose sender was handed out last was answered, if it was (no waiting).
    pub fn try_outcome(&self) -> Option<Outcome<T>> {
        let mut state = self.mailbox.lock();
        take(&mut state.slot)
    }

    /// How the last request was answered, or None, and then the answer, however it goes, is
    /// announced in the loop's notices (never blocks).
    pub fn poll_outcome(&self) -> Option<Outcome<T>> {
        let mut state = self.mailbox.lock();
        let outcome = take(&mut state.slot);
        state.waiting = outcome.is_none();
        outcome
    }

    /// Wait until the request whose sender was handed out last is answered.
    pub fn outcome(&self) -> Outcome<T> {
        let mut state = self.mailbox.lock();
        loop {
            if let Some(outcome) = take(&mut state.slot) {
                return outcome;
            }
            state.waiting = true;
            state = self
                .mailbox
                .answered
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
            state.waiting = false;
        }
    }

    /// Wait for the answer of a request whose sender has no socket.
    pub fn recv(&self) -> Result<T, Unanswered> {
        match self.outcome() {
            Outcome::Answer(value) => Ok(value),
            Outcome::Unanswered => Err(Unanswered),
            Outcome::Sent | Outcome::Rest(_) => {
                unreachable!("a sender without a socket never sends on one")
            }
        }
    }

    /// The answer, if it already arrived (no waiting), of a request whose sender has no socket.
    pub fn try_recv(&self) -> Option<Result<T, Unanswered>> {
        match self.try_outcome()? {
            Outcome::Answer(value) => Some(Ok(value)),
            Outcome::Unanswered => Some(Err(Unanswered)),
            Outcome::Sent | Outcome::Rest(_) => {
                unreachable!("a sender without a socket never sends on one")
            }
        }
    }
}

fn take<T>(slot: &mut Slot<T>) -> Option<Outcome<T>> {
    match std::mem::replace(slot, Slot::Empty) {
        Slot::Empty => None,
        Slot::Sent => Some(Outcome::Sent),
        Slot::Answered(value) => Some(Outcome::Answer(value)),
        Slot::Rest(bytes) => Some(Outcome::Rest(bytes)),
        Slot::Dropped => Some(Outcome::Unanswered),
    }
}

impl<T: Serialize> Sender<T> {
    /// Answer. Never blocks on the client: the direct send is non-blocking, and whatever it
    /// could not send goes to the receiver.
    pub fn send(mut self, value: T) -> Result<(), Unanswered> {
        let Some(mailbox) = self.mailbox.take() else {
            return Ok(());
        };
        let mut state = mailbox.lock();
        state.slot = match self.socket.as_deref() {
            // Sent under the lock: the connection sees `Sent` only once the bytes are out, and
            // nothing it writes can overtake them. (Sending before the lock, then filling, halved
            // the daemon's futex calls at 50 clients but made the loop miss ~6% of answers and
            // wait for an eventfd notice instead, with no throughput gain: kept under the lock.)
            Some(socket) => match protocol::encode_frame(&value) {
                // A full or broken socket sends nothing: the receiver writes, and meets any error.
                Ok(frame) => match send_some(socket, &frame).unwrap_or(0) {
                    n if n == frame.len() => Slot::Sent,
                    0 => Slot::Answered(value),
                    n => Slot::Rest(frame[n..].to_vec()),
                },
                // The receiver meets the same error and handles it.
                Err(_) => Slot::Answered(value),
            },
            None => Slot::Answered(value),
        };
        mailbox.filled(state);
        Ok(())
    }
}

/// Send what the socket takes now, without blocking and without SIGPIPE; a full socket is
/// `WouldBlock`.
pub fn send_some(socket: &UnixStream, bytes: &[u8]) -> io::Result<usize> {
    loop {
        match rustix::net::send(socket, bytes, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
            Err(Errno::INTR) => continue,
            sent => return sent.map_err(io::Error::from),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(mailbox) = self.mailbox.take() {
            let mut state = mailbox.lock();
            state.slot = Slot::Dropped;
            mailbox.filled(state);
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reply::Sender")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventsrv_format::protocol::Response;
    use std::io::Read;

    #[test]
    fn an_answer_from_another_thread_arrives_and_the_slot_is_reused() {
        let receiver = Receiver::new();
        for round in 0..100u32 {
            let sender = receiver.sender();
            let thread = std::thread::spawn(move || sender.send(round));
            assert_eq!(receiver.recv(), Ok(round));
            thread.join().expect("sender thread").expect("sent");
        }
    }

    #[test]
    fn a_dropped_request_wakes_its_connection_with_an_error() {
        let receiver = Receiver::<u32>::new();
        let sender = receiver.sender();
        let thread = std::thread::spawn(move || drop(sender));
        assert_eq!(receiver.recv(), Err(Unanswered));
        thread.join().expect("dropping thread");
        // The mailbox is usable again after an unanswered request.
        let sender = receiver.sender();
        sender.send(7).expect("sent");
        assert_eq!(receiver.recv(), Ok(7));
    }

    #[test]
    #[should_panic(expected = "one request in flight per connection")]
    fn a_second_request_before_the_answer_was_read_is_a_bug() {
        let receiver = Receiver::<u32>::new();
        receiver.sender().send(1).expect("sent");
        let _second = receiver.sender();
    }

    #[test]
    fn an_answer_goes_straight_to_the_socket_and_the_connection_only_learns_it_was_sent() {
        let (daemon_side, mut client) = UnixStream::pair().expect("socket pair");
        let receiver = Receiver::<Response>::new();
        receiver
            .sender_on(Some(Arc::new(daemon_side)))
            .send(Response::Pong)
            .expect("sent");
        assert_eq!(receiver.outcome(), Outcome::Sent);
        let back: Response = protocol::read_message(&mut client).expect("frame on the socket");
        assert_eq!(back, Response::Pong);
    }

    #[test]
    fn a_sent_answer_is_on_the_socket_before_the_connection_can_see_it_sent() {
        let (daemon_side, client) = UnixStream::pair().expect("socket pair");
        let daemon_side = Arc::new(daemon_side);
        client.set_nonblocking(true).expect("non-blocking client");
        let receiver = Receiver::<Response>::new();
        for round in 0..200u64 {
            let sender = receiver.sender_on(Some(Arc::clone(&daemon_side)));
            let thread =
                std::thread::spawn(move || sender.send(Response::Committed { position: round }));
            // Polled while the answering thread sends: once `Sent` shows, the whole frame must be
            // readable (the loop would otherwise be free to write its next answer before it).
            let outcome = loop {
                if let Some(outcome) = receiver.try_outcome() {
                    break outcome;
                }
                std::thread::yield_now();
            };
            assert_eq!(outcome, Outcome::Sent);
            let back: Response =
                protocol::read_message(&mut &client).expect("the frame was out before `Sent`");
            assert_eq!(back, Response::Committed { position: round });
            thread.join().expect("answering thread").expect("sent");
        }
    }

    #[test]
    fn a_client_that_does_not_read_never_blocks_the_writer() {
        let (daemon_side, mut client) = UnixStream::pair().expect("socket pair");
        let daemon_side = Arc::new(daemon_side);
        // Fill the socket until a non-blocking send takes nothing more.
        let filler = vec![0u8; 64 * 1024];
        while send_some(&daemon_side, &filler).is_ok() {}
        let receiver = Receiver::<Response>::new();
        receiver
            .sender_on(Some(Arc::clone(&daemon_side)))
            .send(Response::Pong)
            .expect("answered without blocking");
        // The receiver gets the answer to write itself once the client reads.
        assert_eq!(receiver.outcome(), Outcome::Answer(Response::Pong));
        let mut some = [0u8; 1024];
        assert!(client.read(&mut some).expect("read") > 0);
    }

    fn taken(notices: &AnswerNotices) -> Vec<u64> {
        let mut tokens = Vec::new();
        notices.take(&mut tokens);
        tokens
    }

    #[test]
    fn the_loop_is_woken_only_when_it_has_to_act() {
        let notices = AnswerNotices::new().expect("eventfd");
        let (daemon_side, mut client) = UnixStream::pair().expect("socket pair");
        let daemon_side = Arc::new(daemon_side);
        let receiver = Receiver::<Response>::for_loop(Arc::clone(&notices), 7);

        // Sent straight to the client, and the loop does not wait: no notice.
        let sender = receiver.sender_on(Some(Arc::clone(&daemon_side)));
        sender.send(Response::Pong).expect("sent");
        assert!(taken(&notices).is_empty());
        assert_eq!(receiver.poll_outcome(), Some(Outcome::Sent));
        let _: Response = protocol::read_message(&mut client).expect("answer");

        // The loop asked first (the client sent more): even a sent answer is announced.
        let sender = receiver.sender_on(Some(Arc::clone(&daemon_side)));
        assert_eq!(receiver.poll_outcome(), None);
        sender.send(Response::Pong).expect("sent");
        assert_eq!(taken(&notices), vec![7]);
        assert_eq!(receiver.poll_outcome(), Some(Outcome::Sent));
        let _: Response = protocol::read_message(&mut client).expect("answer");

        // Dropped unanswered (the writer stopped): announced, the loop answers itself.
        drop(receiver.sender_on(Some(Arc::clone(&daemon_side))));
        assert_eq!(taken(&notices), vec![7]);
        assert_eq!(receiver.poll_outcome(), Some(Outcome::Unanswered));
    }

    #[test]
    fn an_answer_the_socket_cannot_take_is_handed_to_the_loop() {
        let notices = AnswerNotices::new().expect("eventfd");
        let (daemon_side, _client) = UnixStream::pair().expect("socket pair");
        let daemon_side = Arc::new(daemon_side);
        let filler = vec![0u8; 64 * 1024];
        while send_some(&daemon_side, &filler).is_ok() {}
        let receiver = Receiver::<Response>::for_loop(Arc::clone(&notices), 3);
        receiver
            .sender_on(Some(daemon_side))
            .send(Response::Pong)
            .expect("answered without blocking");
        assert_eq!(taken(&notices), vec![3]);
        assert_eq!(
            receiver.poll_outcome(),
            Some(Outcome::Answer(Response::Pong))
        );
    }
}
