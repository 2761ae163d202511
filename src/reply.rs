//! The writer's answer to one connection: a single-slot mailbox a connection thread reuses for
//! every request it hands to the writer.
//!
//! Owns: handing one `Response` from the writer (or the snapshot thread) to the waiting
//! connection thread with one futex wake and no spinning (on 2 cores shared by dozens of PHP
//! processes, spin-then-park channels burned `sched_yield` calls on every request), and telling
//! the connection when its request was dropped unanswered (the writer stopped).
//! Must never: hold more than one answer (a connection has at most one request in flight), or
//! block the sender.

use std::sync::{Arc, Condvar, Mutex};

enum Slot<T> {
    Empty,
    Answered(T),
    /// The sender was dropped without answering.
    Dropped,
}

struct Mailbox<T> {
    slot: Mutex<Slot<T>>,
    answered: Condvar,
}

/// The connection's side: create once, then one [`Receiver::sender`] per request.
pub struct Receiver<T> {
    mailbox: Arc<Mailbox<T>>,
}

/// The answering side of one request. Dropping it unanswered wakes the receiver with an error.
pub struct Sender<T> {
    mailbox: Option<Arc<Mailbox<T>>>,
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
                slot: Mutex::new(Slot::Empty),
                answered: Condvar::new(),
            }),
        }
    }

    /// The sender for the next request. The previous answer must have been received.
    pub fn sender(&self) -> Sender<T> {
        let slot = self.mailbox.slot.lock().unwrap_or_else(|p| p.into_inner());
        assert!(
            matches!(*slot, Slot::Empty),
            "one request in flight per connection"
        );
        Sender {
            mailbox: Some(Arc::clone(&self.mailbox)),
        }
    }

    /// The answer, if it already arrived (no waiting).
    pub fn try_recv(&self) -> Option<Result<T, Unanswered>> {
        let mut slot = self.mailbox.slot.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *slot, Slot::Empty) {
            Slot::Answered(value) => Some(Ok(value)),
            Slot::Dropped => Some(Err(Unanswered)),
            Slot::Empty => None,
        }
    }

    /// Wait for the answer of the request whose sender was handed out last.
    pub fn recv(&self) -> Result<T, Unanswered> {
        let mut slot = self.mailbox.slot.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match std::mem::replace(&mut *slot, Slot::Empty) {
                Slot::Answered(value) => return Ok(value),
                Slot::Dropped => return Err(Unanswered),
                Slot::Empty => {
                    slot = self
                        .mailbox
                        .answered
                        .wait(slot)
                        .unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }
}

impl<T> Sender<T> {
    /// Answer. Never blocks; an answer nobody waits for any more is dropped with the mailbox.
    pub fn send(mut self, value: T) -> Result<(), Unanswered> {
        self.put(Slot::Answered(value));
        Ok(())
    }

    fn put(&mut self, value: Slot<T>) {
        if let Some(mailbox) = self.mailbox.take() {
            *mailbox.slot.lock().unwrap_or_else(|p| p.into_inner()) = value;
            mailbox.answered.notify_one();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.put(Slot::Dropped);
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
}
