//! The writer's answer to one connection: a single-slot mailbox a connection thread reuses for
//! every request it hands to the writer, and the direct path that sends the answer on the
//! client's socket from the answering thread.
//!
//! Owns: answering with one non-blocking `send` on the client's socket when it fits (the
//! connection thread is not woken at all: it already waits for the client's next frame), else
//! handing the answer (or the unsent rest of its frame) to the connection thread with one futex
//! wake, and never spinning (on 2 cores shared by dozens of PHP processes, spin-then-park
//! channels burned `sched_yield` calls on every request); telling the connection when its
//! request was dropped unanswered (the writer stopped).
//! Must never: hold more than one answer (a connection has at most one request in flight), block
//! the answering thread on a client that does not read, or let the connection write anything
//! before the pending answer is out (answers stay in request order).

use eventsrv_format::protocol;
use serde::Serialize;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

enum Slot<T> {
    /// No answer yet (or none pending).
    Empty,
    /// The whole answer went out on the socket.
    Sent,
    /// The connection thread writes it.
    Answered(T),
    /// The first bytes of the answer's frame went out; the connection thread writes these.
    Rest(Vec<u8>),
    /// The sender was dropped without answering.
    Dropped,
}

struct State<T> {
    slot: Slot<T>,
    /// The connection thread sleeps on `answered` (a notify costs a syscall: only then).
    waiting: bool,
}

struct Mailbox<T> {
    state: Mutex<State<T>>,
    answered: Condvar,
}

impl<T> Mailbox<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No invariant spans an unlock; a panicking holder left consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The connection's side: create once, then one [`Receiver::sender`] per request.
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
    pub fn new() -> Receiver<T> {
        Receiver {
            mailbox: Arc::new(Mailbox {
                state: Mutex::new(State {
                    slot: Slot::Empty,
                    waiting: false,
                }),
                answered: Condvar::new(),
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
    /// could not send goes to the connection thread.
    pub fn send(mut self, value: T) -> Result<(), Unanswered> {
        let Some(mailbox) = self.mailbox.take() else {
            return Ok(());
        };
        let mut state = mailbox.lock();
        state.slot = match self.socket.as_deref() {
            // Sent under the lock: the connection sees `Sent` only once the bytes are out, and
            // nothing it writes can overtake them.
            Some(socket) => match protocol::encode_frame(&value) {
                Ok(frame) => match send_nonblocking(socket, &frame) {
                    n if n == frame.len() => Slot::Sent,
                    0 => Slot::Answered(value),
                    n => Slot::Rest(frame[n..].to_vec()),
                },
                // The connection thread meets the same error and handles it.
                Err(_) => Slot::Answered(value),
            },
            None => Slot::Answered(value),
        };
        let wake = state.waiting;
        drop(state);
        if wake {
            mailbox.answered.notify_one();
        }
        Ok(())
    }
}

/// Bytes sent without blocking and without SIGPIPE (0 when the socket is full or broken: the
/// connection thread then writes, with its write timeout, and meets any error itself).
fn send_nonblocking(socket: &UnixStream, bytes: &[u8]) -> usize {
    // SAFETY: `bytes` is valid for its length and the descriptor is open (`socket` is borrowed).
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    usize::try_from(sent).unwrap_or(0)
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(mailbox) = self.mailbox.take() {
            let mut state = mailbox.lock();
            state.slot = Slot::Dropped;
            let wake = state.waiting;
            drop(state);
            if wake {
                mailbox.answered.notify_one();
            }
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
    fn a_client_that_does_not_read_never_blocks_the_writer() {
        let (daemon_side, mut client) = UnixStream::pair().expect("socket pair");
        let daemon_side = Arc::new(daemon_side);
        // Fill the socket until a non-blocking send takes nothing more.
        let filler = vec![0u8; 64 * 1024];
        while send_nonblocking(&daemon_side, &filler) > 0 {}
        let receiver = Receiver::<Response>::new();
        receiver
            .sender_on(Some(Arc::clone(&daemon_side)))
            .send(Response::Pong)
            .expect("answered without blocking");
        // The connection thread gets the answer to write itself once the client reads.
        assert_eq!(receiver.outcome(), Outcome::Answer(Response::Pong));
        let mut some = [0u8; 1024];
        assert!(client.read(&mut some).expect("read") > 0);
    }
}
