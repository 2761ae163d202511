//! Everything the writer thread waits for, behind one mutex and one condition variable: the
//! bounded queue of messages from the event loop, and the syncer's reports of how far the log is
//! durable (docs/formats.md#group-commit).
//!
//! Owns: the `WRITER_QUEUE_MAX` bound (senders block while it is full: back-pressure), waking
//! the writer only when it sleeps, the pending "sync up to batch N" job for the syncer thread and
//! its report back, and closing the queue when the writer goes away (later sends fail, so a
//! connection answers `ShuttingDown` instead of waiting forever). The event loop never meets a
//! full queue: each connection has at most one request in it and `WRITER_QUEUE_MAX` exceeds
//! `CONNECTIONS_MAX` (asserted in src/server.rs).
//! Must never: spin (2 cores shared with dozens of PHP processes: a waiting thread parks on a
//! futex), lose a message that was accepted, or report a sync the syncer did not finish.

use crate::writer::WriterMessage;
use eventsrv_format::limits::WRITER_QUEUE_MAX;
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// "fdatasync `file`: it holds every byte of batches up to `batch`."
pub struct SyncJob {
    pub file: Arc<File>,
    pub batch: u64,
}

/// The syncer's outcome for the highest batch it was asked about.
#[derive(Debug)]
pub enum SyncReport {
    /// Every batch up to this one is durable.
    Durable(u64),
    /// fdatasync failed: nothing after the last `Durable` batch can be claimed durable.
    Failed(io::Error),
}

struct Inner {
    messages: VecDeque<WriterMessage>,
    senders: usize,
    /// The writer's receiver is gone: sends fail.
    closed: bool,
    writer_sleeping: bool,
    /// The sleeping writer would take a message (no sync it waits for is running): only then
    /// does a send wake it, never once per request during a sync.
    writer_takes_messages: bool,
    senders_waiting: usize,
    sync_job: Option<SyncJob>,
    /// The syncer is gone (it stops when asked to, or when the writer goes away).
    syncer_stop: bool,
    durable_batch: u64,
    sync_failure: Option<io::Error>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// The writer: a message arrived, or the syncer reported.
    writer_wake: Condvar,
    /// A sender waits for room in a full queue.
    room: Condvar,
    /// The syncer: a job arrived, or stop.
    syncer_wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A thread that panicked while holding the lock left consistent data (no invariant spans
        // an unlock), and the daemon stops on any panic anyway (FailOnPanic).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The event loop's (or a test's) handle for sending to the writer.
pub struct QueueSender {
    shared: Arc<Shared>,
}

/// The writer's handle.
pub struct QueueReceiver {
    shared: Arc<Shared>,
}

/// The syncer thread's handle.
pub struct SyncerHandle {
    shared: Arc<Shared>,
}

/// The writer is gone; the message comes back.
#[derive(Debug)]
pub struct Closed(pub WriterMessage);

pub fn writer_queue() -> (QueueSender, QueueReceiver) {
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            messages: VecDeque::new(),
            senders: 1,
            closed: false,
            writer_sleeping: false,
            writer_takes_messages: false,
            senders_waiting: 0,
            sync_job: None,
            syncer_stop: false,
            durable_batch: 0,
            sync_failure: None,
        }),
        writer_wake: Condvar::new(),
        room: Condvar::new(),
        syncer_wake: Condvar::new(),
    });
    (
        QueueSender {
            shared: Arc::clone(&shared),
        },
        QueueReceiver { shared },
    )
}

impl Clone for QueueSender {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        QueueSender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for QueueSender {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.senders -= 1;
        if inner.senders == 0 && inner.writer_sleeping {
            self.shared.writer_wake.notify_one();
        }
    }
}

impl QueueSender {
    /// Queue `message`, waiting while the queue is full.
    pub fn send(&self, message: WriterMessage) -> Result<(), Closed> {
        let mut inner = self.shared.lock();
        while inner.messages.len() >= WRITER_QUEUE_MAX && !inner.closed {
            inner.senders_waiting += 1;
            inner = self
                .shared
                .room
                .wait(inner)
                .unwrap_or_else(|p| p.into_inner());
            inner.senders_waiting -= 1;
        }
        self.push(inner, message)
    }

    /// Queue `message` unless the queue is full or closed.
    pub fn try_send(&self, message: WriterMessage) -> Result<(), Closed> {
        let inner = self.shared.lock();
        if inner.messages.len() >= WRITER_QUEUE_MAX {
            return Err(Closed(message));
        }
        self.push(inner, message)
    }

    fn push(&self, mut inner: MutexGuard<'_, Inner>, message: WriterMessage) -> Result<(), Closed> {
        if inner.closed {
            return Err(Closed(message));
        }
        inner.messages.push_back(message);
        if inner.writer_sleeping && inner.writer_takes_messages {
            inner.writer_sleeping = false;
            drop(inner);
            self.shared.writer_wake.notify_one();
        }
        Ok(())
    }
}

/// What woke the writer.
pub struct Wake {
    /// Queued messages taken, in arrival order (at most the caller's limit).
    pub messages: Vec<WriterMessage>,
    /// The highest batch the syncer reported durable.
    pub durable_batch: u64,
    /// The syncer failed (reported once).
    pub sync_failure: Option<io::Error>,
    /// Every sender is gone and the queue is empty.
    pub disconnected: bool,
}

impl QueueReceiver {
    /// Wait until a message is queued (messages count only once every batch up to
    /// `take_when_durable` is durable: what arrives during a sync waits and forms the next
    /// batch, without waking the writer per message), the syncer reports past `durable_seen`,
    /// every sender is gone, or `deadline` passes; then take queued messages in order for as
    /// long as `accept` says yes.
    pub fn wait(
        &self,
        take_when_durable: u64,
        durable_seen: u64,
        deadline: Option<Instant>,
        accept: &mut dyn FnMut(&WriterMessage) -> bool,
    ) -> Wake {
        let mut inner = self.shared.lock();
        loop {
            let take_messages = inner.durable_batch >= take_when_durable;
            let ready = (take_messages && !inner.messages.is_empty())
                || inner.durable_batch > durable_seen
                || inner.sync_failure.is_some()
                || (inner.senders == 0 && inner.messages.is_empty());
            if ready {
                break;
            }
            let timeout = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    Some(left)
                }
                None => None,
            };
            inner.writer_sleeping = true;
            inner.writer_takes_messages = take_messages;
            inner = match timeout {
                Some(left) => {
                    self.shared
                        .writer_wake
                        .wait_timeout(inner, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => self
                    .shared
                    .writer_wake
                    .wait(inner)
                    .unwrap_or_else(|p| p.into_inner()),
            };
            inner.writer_sleeping = false;
        }
        let mut messages = Vec::new();
        if inner.durable_batch >= take_when_durable {
            let count = inner
                .messages
                .iter()
                .take_while(|message| accept(message))
                .count();
            messages.extend(inner.messages.drain(..count));
            if count > 0 && inner.senders_waiting > 0 {
                self.shared.room.notify_all();
            }
        }
        Wake {
            messages,
            durable_batch: inner.durable_batch,
            sync_failure: inner.sync_failure.take(),
            disconnected: inner.senders == 0 && inner.messages.is_empty(),
        }
    }

    /// One queued message, if any (no waiting).
    pub fn try_recv(&self) -> Option<WriterMessage> {
        let mut inner = self.shared.lock();
        let message = inner.messages.pop_front();
        if message.is_some() && inner.senders_waiting > 0 {
            self.shared.room.notify_all();
        }
        message
    }

    /// Ask the syncer to make every batch up to `job.batch` durable. A newer job replaces one
    /// the syncer has not picked up yet: one fdatasync then covers both.
    pub fn request_sync(&self, job: SyncJob) {
        let mut inner = self.shared.lock();
        if let Some(pending) = &inner.sync_job {
            assert!(
                pending.batch < job.batch,
                "sync jobs ask for ever later batches"
            );
        }
        assert!(
            job.batch > inner.durable_batch,
            "a sync job asks for a batch not yet durable"
        );
        inner.sync_job = Some(job);
        drop(inner);
        self.shared.syncer_wake.notify_one();
    }

    /// The writer synced every batch up to `batch` itself (nothing else was in flight).
    pub fn durable_inline(&self, batch: u64) {
        let mut inner = self.shared.lock();
        assert!(
            inner.sync_job.is_none() && batch > inner.durable_batch,
            "the writer syncs inline only with nothing in flight"
        );
        inner.durable_batch = batch;
    }

    /// A handle for the syncer thread.
    pub fn syncer(&self) -> SyncerHandle {
        SyncerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Tell the syncer to finish (after any pending job).
    pub fn stop_syncer(&self) {
        self.shared.lock().syncer_stop = true;
        self.shared.syncer_wake.notify_one();
    }
}

impl Drop for QueueReceiver {
    fn drop(&mut self) {
        let dropped: Vec<WriterMessage> = {
            let mut inner = self.shared.lock();
            inner.closed = true;
            inner.syncer_stop = true;
            inner.messages.drain(..).collect()
        };
        self.shared.room.notify_all();
        self.shared.syncer_wake.notify_one();
        // Dropping the requests drops their reply senders: each connection answers
        // `ShuttingDown`.
        drop(dropped);
    }
}

impl SyncerHandle {
    /// Wait for the next job; None once told to stop and nothing is pending.
    pub fn next_job(&self) -> Option<SyncJob> {
        let mut inner = self.shared.lock();
        loop {
            if let Some(job) = inner.sync_job.take() {
                return Some(job);
            }
            if inner.syncer_stop || inner.sync_failure.is_some() {
                return None;
            }
            inner = self
                .shared
                .syncer_wake
                .wait(inner)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    pub fn report(&self, report: SyncReport) {
        let mut inner = self.shared.lock();
        match report {
            SyncReport::Durable(batch) => {
                assert!(batch > inner.durable_batch, "durability only moves forward");
                inner.durable_batch = batch;
            }
            SyncReport::Failed(error) => inner.sync_failure = Some(error),
        }
        inner.writer_sleeping = false;
        drop(inner);
        self.shared.writer_wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::WriterMessage;
    use std::time::Duration;

    /// Bound on how long a test waits for a queue state it expects.
    const TEST_WAIT: Duration = Duration::from_secs(10);

    fn at_most(count: usize) -> impl FnMut(&WriterMessage) -> bool {
        let mut taken = 0;
        move |_| {
            taken += 1;
            taken <= count
        }
    }

    #[test]
    fn a_full_queue_blocks_senders_until_the_writer_takes_messages() {
        let (sender, receiver) = writer_queue();
        for _ in 0..WRITER_QUEUE_MAX {
            sender
                .try_send(WriterMessage::CountersChanged)
                .expect("room");
        }
        assert!(sender.try_send(WriterMessage::CountersChanged).is_err());
        let blocked = {
            let sender = sender.clone();
            std::thread::spawn(move || sender.send(WriterMessage::Shutdown).is_ok())
        };
        let wake = receiver.wait(0, 0, Some(Instant::now() + TEST_WAIT), &mut at_most(10));
        assert_eq!(wake.messages.len(), 10);
        assert!(
            blocked.join().expect("sender thread"),
            "sent once room was made"
        );
        let mut rest = 0;
        let mut saw_shutdown = false;
        while let Some(message) = receiver.try_recv() {
            rest += 1;
            saw_shutdown |= matches!(message, WriterMessage::Shutdown);
        }
        assert_eq!(rest, WRITER_QUEUE_MAX - 10 + 1);
        assert!(saw_shutdown, "the blocked message arrived last");
    }

    #[test]
    fn messages_wait_while_a_sync_runs_and_are_taken_with_its_report() {
        let (sender, receiver) = writer_queue();
        sender.send(WriterMessage::CountersChanged).expect("queued");
        // Batch 1 is written and not durable: the queued message does not count.
        let wake = receiver.wait(1, 0, Some(Instant::now()), &mut at_most(10));
        assert!(wake.messages.is_empty());
        receiver.syncer().report(SyncReport::Durable(1));
        let wake = receiver.wait(1, 0, Some(Instant::now() + TEST_WAIT), &mut at_most(10));
        assert_eq!((wake.messages.len(), wake.durable_batch), (1, 1));
    }

    #[test]
    fn sends_fail_once_the_writer_is_gone() {
        let (sender, receiver) = writer_queue();
        drop(receiver);
        assert!(sender.send(WriterMessage::CountersChanged).is_err());
    }

    #[test]
    fn the_writer_sees_every_sender_leave() {
        let (sender, receiver) = writer_queue();
        let other = sender.clone();
        std::thread::spawn(move || {
            drop(other);
            drop(sender);
        });
        let wake = receiver.wait(0, 0, Some(Instant::now() + TEST_WAIT), &mut at_most(10));
        assert!(wake.disconnected);
    }

    #[test]
    fn a_newer_sync_job_replaces_a_pending_one_and_reports_wake_the_writer() {
        let (_sender, receiver) = writer_queue();
        let file = Arc::new(tempfile::tempfile().expect("temp file"));
        receiver.request_sync(SyncJob {
            file: Arc::clone(&file),
            batch: 1,
        });
        receiver.request_sync(SyncJob {
            file: Arc::clone(&file),
            batch: 2,
        });
        let syncer = receiver.syncer();
        let thread = std::thread::spawn(move || {
            let job = syncer.next_job().expect("a job");
            syncer.report(SyncReport::Durable(job.batch));
            job.batch
        });
        let wake = receiver.wait(
            u64::MAX,
            0,
            Some(Instant::now() + TEST_WAIT),
            &mut at_most(0),
        );
        assert_eq!(wake.durable_batch, 2);
        assert_eq!(thread.join().expect("syncer"), 2, "one sync covered both");
    }
}
