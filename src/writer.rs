//! The writer thread: the single owner of the log and the state region.
//!
//! Owns: the pipelined group commit (docs/formats.md#group-commit): take everything queued (up
//! to the batch bounds), plan it against the region and the batches still in flight, write it
//! with one `write`, hand its `fdatasync` to the syncer thread and go on with the next batch;
//! apply, publish and answer each batch in log order once the syncer reports it durable. Also
//! publishing the connection counters into the region header.
//! Must never: apply, publish or answer a batch before a fdatasync that started after its write
//! returned (asserted), apply batches out of log order, or keep serving after a failed write or
//! fdatasync (the kernel may have dropped the dirty pages: it answers every request not yet
//! durable with a storage error, marks the daemon failed, and stops).

use crate::batch::{BatchPlan, Planned, Unapplied};
use crate::boot::{apply_record, BootSummary};
use crate::log::appender::WrittenBatch;
use crate::log::{Log, LogError};
use crate::reply;
use crate::shutdown::{FailOnPanic, ShutdownHandle};
use crate::snapshot::{SnapshotCause, SnapshotSchedule};
use crate::state::StateStore;
use crate::status::{self, DaemonFacts};
use crate::syncer;
use crate::writer_queue::{QueueReceiver, SyncJob};
use eventsrv_format::limits::{BATCH_BYTES_MAX, BATCH_REQUESTS_MAX};
use eventsrv_format::log_record::LogRecord;
use eventsrv_format::protocol::{CheckpointMove, EntityChange, ErrorCode, NewEvent, Response};
use eventsrv_format::region::LogLocation;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Where the writer sends a request's answer.
pub type ReplySender = reply::Sender<Response>;

/// A request only the writer can answer.
#[derive(Debug)]
pub enum WriteRequest {
    Append {
        stream: String,
        expected_version: u64,
        events: Vec<NewEvent>,
    },
    Commit {
        checkpoints: Vec<CheckpointMove>,
        projected_position: Option<u64>,
        changes: Vec<EntityChange>,
    },
    /// The connection now counts as a worker: publish the counters, then answer `Pong`.
    AttachWorker,
    Status,
    /// Write a snapshot now; answered `Snapshotted` once it is durable.
    Snapshot,
}

impl WriteRequest {
    /// Rough bytes this request adds to a batch (for `BATCH_BYTES_MAX`).
    pub fn batch_bytes(&self) -> usize {
        match self {
            WriteRequest::Append { stream, events, .. } => events
                .iter()
                .map(|e| {
                    stream.len() + e.event_type.len() + e.metadata.len() + e.payload.len() + 64
                })
                .sum(),
            WriteRequest::Commit { changes, .. } => changes
                .iter()
                .map(|c| match c {
                    EntityChange::Upsert {
                        class, uuid, data, ..
                    } => class.len() + uuid.len() + data.len() + 32,
                    EntityChange::Delete { class, uuid } => class.len() + uuid.len() + 16,
                    EntityChange::ResetClass { class } => class.len() + 8,
                    EntityChange::SwapClass { class, shadow } => class.len() + shadow.len() + 16,
                })
                .sum(),
            WriteRequest::AttachWorker | WriteRequest::Status | WriteRequest::Snapshot => 0,
        }
    }
}

#[derive(Debug)]
pub enum WriterMessage {
    Request {
        request: WriteRequest,
        reply: ReplySender,
    },
    /// A connection came or went: publish the counters (no reply).
    CountersChanged,
    /// Answer what is queued, sync, clear the daemon pid, stop.
    Shutdown,
}

/// Connection counts, written by the event loop, published by the writer.
#[derive(Debug, Default)]
pub struct Counters {
    pub clients: AtomicU32,
    pub workers: AtomicU32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterExit {
    Clean,
    Failed,
}

pub struct Writer<S: StateStore> {
    log: Log,
    state: S,
    counters: Arc<Counters>,
    published_counters: (u32, u32),
    projected_position: u64,
    boot: BootSummary,
    facts: DaemonFacts,
    shutdown: ShutdownHandle,
    /// Log records the region holds (its applied location's count).
    records: u64,
    /// None: no snapshots (unit tests on an in-memory state).
    snapshots: Option<SnapshotSchedule>,
    /// Batches planned, in log order, not yet applied and answered.
    in_flight: VecDeque<InFlight>,
    /// What the written batches in flight change (planning sees it before the region does).
    unapplied: Unapplied,
    /// Batches written so far (numbered from 1) and the highest the syncer reported durable.
    written_batch: u64,
    durable_batch: u64,
    /// `Snapshot` requests answered once the batches in flight are applied.
    snapshot_requests: Vec<ReplySender>,
    /// Sync inline when nothing else is in flight (off only in tests that play the syncer).
    sync_inline_when_idle: bool,
}

type Pending = (WriteRequest, ReplySender);

/// One planned batch between its write and its answers.
struct InFlight {
    /// Applied and answered once the syncer reports this batch durable.
    waits_for: u64,
    /// None: the batch wrote nothing (its answers still wait for the batches before it).
    written: Option<WrittenBatch>,
    records: Vec<LogRecord>,
    answers: Vec<(Answer, ReplySender)>,
}

/// How one request of a batch will be answered.
enum Answer {
    Planned(Planned),
    AttachWorker,
    Status,
    Snapshot,
}

impl<S: StateStore> Writer<S> {
    pub fn new(
        log: Log,
        state: S,
        counters: Arc<Counters>,
        boot: BootSummary,
        facts: DaemonFacts,
        shutdown: ShutdownHandle,
    ) -> Writer<S> {
        let projected_position = boot.projected_position;
        let records = boot.records;
        Writer {
            log,
            state,
            counters,
            published_counters: (u32::MAX, u32::MAX),
            projected_position,
            boot,
            facts,
            shutdown,
            records,
            snapshots: None,
            in_flight: VecDeque::new(),
            unapplied: Unapplied::default(),
            written_batch: 0,
            durable_batch: 0,
            snapshot_requests: Vec::new(),
            sync_inline_when_idle: true,
        }
    }

    /// Take snapshots on `schedule`, on request, and at a clean stop.
    pub fn with_snapshots(mut self, schedule: SnapshotSchedule) -> Writer<S> {
        self.snapshots = Some(schedule);
        self
    }

    /// Serve until `Shutdown` (or every sender is gone), or until a storage failure.
    pub fn run(mut self, queue: QueueReceiver) -> WriterExit {
        let _guard = FailOnPanic(self.shutdown.clone());
        let syncer = queue.syncer();
        let syncer_thread = match std::thread::Builder::new()
            .name("syncer".into())
            .spawn(move || syncer::run(syncer))
        {
            Ok(thread) => thread,
            Err(error) => {
                tracing::error!("FATAL: cannot start the syncer thread: {error}");
                self.state.set_daemon_pid(0);
                self.shutdown.fail();
                return WriterExit::Failed;
            }
        };
        let served = self.serve(&queue);
        queue.stop_syncer();
        if syncer_thread.join().is_err() {
            tracing::error!("FATAL: the syncer thread panicked");
            self.shutdown.fail();
            return WriterExit::Failed;
        }
        if let Err(error) = served {
            tracing::error!(
                "FATAL: {error}; every request not yet durable was answered with a storage error \
                 and the daemon stops (a failed write/fdatasync means durability can no longer \
                 be proven)"
            );
            self.fail_queued(&queue);
            self.state.set_daemon_pid(0);
            self.shutdown.fail();
            return WriterExit::Failed;
        }
        assert!(self.in_flight.is_empty() && self.unapplied.is_empty());
        let exit = match self.log.sync() {
            Ok(()) => WriterExit::Clean,
            Err(error) => {
                tracing::error!("FATAL: final fdatasync failed: {error}");
                self.shutdown.fail();
                WriterExit::Failed
            }
        };
        if exit == WriterExit::Clean {
            self.snapshot_at_stop();
        }
        self.state.set_daemon_pid(0);
        tracing::info!(position = self.log.last_position(), "writer stopped");
        exit
    }

    /// The loop: take what is queued, plan and write it as one batch and hand its fdatasync to
    /// the syncer; apply and answer batches in log order as the syncer reports them durable.
    /// Returns once stopped with nothing in flight, or with the storage error that ended it.
    fn serve(&mut self, queue: &QueueReceiver) -> Result<(), LogError> {
        let mut stopping = false;
        loop {
            let durable_waiting = self
                .in_flight
                .front()
                .is_some_and(|batch| batch.waits_for <= self.durable_batch);
            let deadline = if durable_waiting {
                // Synced inline: take what arrived meanwhile without waiting, then apply it.
                Some(Instant::now())
            } else if !self.in_flight.is_empty() {
                // A report is coming: wait for it, even when stopping.
                None
            } else if stopping {
                Some(Instant::now())
            } else {
                self.snapshots
                    .as_ref()
                    .and_then(|schedule| {
                        schedule.wait_budget(self.log.last_position(), self.records)
                    })
                    .map(|budget| Instant::now() + budget)
            };
            let mut batch_bytes = 0usize;
            let mut batch_requests = 0usize;
            // New requests are taken once every written batch is durable: what arrives during a
            // sync becomes the next batch, written the moment the disk is free.
            let take_when_durable = self.written_batch;
            let wake = queue.wait(take_when_durable, self.durable_batch, deadline, &mut |m| {
                if batch_requests >= BATCH_REQUESTS_MAX || batch_bytes >= BATCH_BYTES_MAX {
                    return false;
                }
                if let WriterMessage::Request { request, .. } = m {
                    batch_requests += 1;
                    batch_bytes += request.batch_bytes();
                }
                true
            });
            if let Some(error) = wake.sync_failure {
                return Err(self.fail_not_durable(LogError::Io {
                    path: self.log.dir().to_path_buf(),
                    action: "fdatasync the active segment in",
                    source: error,
                }));
            }
            self.durable_batch = self.durable_batch.max(wake.durable_batch);
            let took_messages = !wake.messages.is_empty();
            let mut batch: Vec<Pending> = Vec::new();
            for message in wake.messages {
                match message {
                    WriterMessage::Request { request, reply } => batch.push((request, reply)),
                    WriterMessage::CountersChanged => {}
                    WriterMessage::Shutdown => stopping = true,
                }
            }
            // Write the next batch and start its sync first, then apply and answer the batch
            // that just became durable while the disk works.
            let synced_inline = !batch.is_empty() && self.start_batch(batch, queue)?;
            if !synced_inline {
                self.complete_durable()?;
            }
            self.publish_counters();
            if self.in_flight.is_empty() {
                self.snapshot_if_due();
                let drained = wake.disconnected || (stopping && !took_messages);
                if drained {
                    return Ok(());
                }
            }
        }
    }

    /// Plan `batch`; write its records and ask the syncer for them. Requests that write nothing
    /// (refusals, status) are answered with the batch, after every batch before it.
    ///
    /// With nothing else in flight (a quiet daemon) the writer runs the `fdatasync` itself: two
    /// thread handoffs less per request, and nothing to overlap anyway. Returns whether it did
    /// (the caller then takes what arrived meanwhile as the next batch, via the syncer, before
    /// applying this one: so under load the pipeline keeps going).
    fn start_batch(
        &mut self,
        batch: Vec<Pending>,
        queue: &QueueReceiver,
    ) -> Result<bool, LogError> {
        let recorded_at_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        let effects = self.unapplied.spare_effects();
        let mut plan = BatchPlan::new(
            &self.unapplied,
            effects,
            self.log.last_position(),
            self.log.last_commit_position(),
            recorded_at_us,
        );
        let mut answers: Vec<(Answer, ReplySender)> = Vec::with_capacity(batch.len());
        for (request, reply) in batch {
            let answer = match request {
                WriteRequest::Append {
                    stream,
                    expected_version,
                    events,
                } => Answer::Planned(plan.append(&self.state, stream, expected_version, events)),
                WriteRequest::Commit {
                    checkpoints,
                    projected_position,
                    changes,
                } => Answer::Planned(plan.commit(
                    &self.state,
                    checkpoints,
                    projected_position,
                    changes,
                )),
                WriteRequest::AttachWorker => Answer::AttachWorker,
                WriteRequest::Status => Answer::Status,
                WriteRequest::Snapshot => Answer::Snapshot,
            };
            answers.push((answer, reply));
        }
        let (records, effects) = plan.finish();
        if records.is_empty() {
            self.unapplied.recycle(effects);
            let after = InFlight {
                waits_for: self.written_batch,
                written: None,
                records,
                answers,
            };
            if self.in_flight.is_empty() {
                self.complete(after)?;
                return Ok(false);
            }
            self.in_flight.push_back(after);
            return Ok(false);
        }
        assert!(
            self.durable_batch == self.written_batch,
            "a batch is written only once every batch before it is durable"
        );
        if self.log.needs_roll() && !self.in_flight.is_empty() {
            // A segment is sealed only once all of it is durable.
            self.drain(queue)?;
        }
        // Stream versions before this batch, for the log's own order check.
        let (state, unapplied) = (&self.state, &self.unapplied);
        let versions_before = |stream: &str| {
            unapplied
                .stream_version(stream)
                .unwrap_or_else(|| state.stream_version(stream))
        };
        let written = match self.log.write(&records, &versions_before) {
            Ok(written) => written,
            Err(error) => {
                answer_all(
                    answers,
                    &format!("storage failure, nothing acknowledged: {error}"),
                );
                // What was written before this batch may still become durable: acknowledge it
                // if it does, then stop.
                if let Err(drain_error) = self.drain(queue) {
                    tracing::error!("{drain_error}");
                }
                return Err(error);
            }
        };
        self.written_batch += 1;
        self.unapplied.add(self.written_batch, effects);
        let inline = self.in_flight.is_empty() && self.sync_inline_when_idle;
        self.in_flight.push_back(InFlight {
            waits_for: self.written_batch,
            written: Some(written),
            records,
            answers,
        });
        if !inline {
            queue.request_sync(SyncJob {
                file: self.log.sync_file(),
                batch: self.written_batch,
            });
            return Ok(false);
        }
        // The sync starts after the write returned, as a syncer job would.
        if let Err(error) = self.log.sync() {
            return Err(self.fail_not_durable(error));
        }
        queue.durable_inline(self.written_batch);
        self.durable_batch = self.written_batch;
        Ok(true)
    }

    /// Wait until every batch in flight is durable, applied and answered.
    fn drain(&mut self, queue: &QueueReceiver) -> Result<(), LogError> {
        self.complete_durable()?;
        while !self.in_flight.is_empty() {
            let wake = queue.wait(u64::MAX, self.durable_batch, None, &mut |_| false);
            if let Some(error) = wake.sync_failure {
                return Err(self.fail_not_durable(LogError::Io {
                    path: self.log.dir().to_path_buf(),
                    action: "fdatasync the active segment in",
                    source: error,
                }));
            }
            self.durable_batch = self.durable_batch.max(wake.durable_batch);
            self.complete_durable()?;
        }
        Ok(())
    }

    /// Apply and answer, in log order, every batch in flight the syncer reported durable.
    fn complete_durable(&mut self) -> Result<(), LogError> {
        while self
            .in_flight
            .front()
            .is_some_and(|batch| batch.waits_for <= self.durable_batch)
        {
            let batch = self
                .in_flight
                .pop_front()
                .expect("checked: a batch is in flight");
            self.complete(batch)?;
        }
        Ok(())
    }

    /// A durable batch (or one that wrote nothing): apply it to the region, publish, answer.
    fn complete(&mut self, batch: InFlight) -> Result<(), LogError> {
        let InFlight {
            waits_for,
            written,
            records,
            answers,
        } = batch;
        assert!(
            waits_for <= self.durable_batch,
            "nothing is applied or answered before its batch is durable"
        );
        if let Some(written) = written {
            self.log.mark_durable(written);
            if let Err(error) = self.apply(&records, written) {
                answer_all(
                    answers,
                    &format!("the state region failed after the log write: {error}"),
                );
                return Err(self.fail_not_durable(LogError::Replay {
                    path: self.state.path().into(),
                    offset: 0,
                    why: error,
                }));
            }
            self.unapplied.remove(waits_for);
        }
        let mut snapshot_replies = Vec::new();
        for (answer, reply) in answers {
            let response = match answer {
                Answer::Planned(Planned::Refused(response)) => response,
                Answer::Planned(Planned::Appended {
                    first_position,
                    last_position,
                    stream_version,
                }) => Response::Appended {
                    first_position,
                    last_position,
                    stream_version,
                },
                Answer::Planned(Planned::Committed { position }) => {
                    Response::Committed { position }
                }
                Answer::AttachWorker => {
                    self.publish_counters();
                    Response::Pong
                }
                Answer::Status => Response::Status {
                    json: self.status_json(),
                },
                Answer::Snapshot => {
                    snapshot_replies.push(reply);
                    continue;
                }
            };
            // A client that went away does not care; answering never blocks.
            let _ = reply.send(response);
        }
        if !snapshot_replies.is_empty() {
            if self.snapshots.is_some() && self.in_flight.is_empty() {
                self.snapshot(SnapshotCause::Requested, snapshot_replies, false);
            } else if self.snapshots.is_some() {
                // The region is behind the log while batches are in flight; take it once they
                // are applied (the snapshot then covers this request's state and more).
                self.snapshot_requests.extend(snapshot_replies);
            } else {
                for reply in snapshot_replies {
                    let _ = reply.send(Response::Error {
                        code: ErrorCode::BadRequest,
                        message: "snapshots are not enabled".into(),
                    });
                }
            }
        }
        if self.in_flight.is_empty() && !self.snapshot_requests.is_empty() {
            let replies = std::mem::take(&mut self.snapshot_requests);
            self.snapshot(SnapshotCause::Requested, replies, false);
        }
        Ok(())
    }

    /// After a failed fdatasync (or region apply): cut what is not durable off the log and
    /// answer every batch in flight with a storage error. Returns `error` for the caller.
    fn fail_not_durable(&mut self, error: LogError) -> LogError {
        self.log.cut_not_durable();
        let message = format!("storage failure, nothing acknowledged: {error}");
        for batch in self.in_flight.drain(..) {
            answer_all(batch.answers, &message);
        }
        for reply in self.snapshot_requests.drain(..) {
            let _ = reply.send(Response::Error {
                code: ErrorCode::Storage,
                message: message.clone(),
            });
        }
        error
    }

    /// A periodic snapshot, if one is due and none is being written (only with nothing in
    /// flight: the region then holds the whole log).
    fn snapshot_if_due(&mut self) {
        if !self.in_flight.is_empty() {
            return;
        }
        let Some(schedule) = &self.snapshots else {
            return;
        };
        if schedule.busy() {
            return;
        }
        if let Some(cause) = schedule.due(self.log.last_position(), self.records) {
            self.snapshot(cause, Vec::new(), false);
        }
    }

    /// On a clean stop: wait for the one being written, then write one if the state moved on.
    fn snapshot_at_stop(&mut self) {
        let Some(schedule) = &mut self.snapshots else {
            return;
        };
        schedule.finish_in_flight();
        if !schedule.has_snapshot_of(self.records) {
            self.snapshot(SnapshotCause::Shutdown, Vec::new(), true);
        }
    }

    /// Copy the region (the writer's only pause) and hand the copy to the snapshot thread.
    fn snapshot(&mut self, cause: SnapshotCause, replies: Vec<ReplySender>, wait: bool) {
        let copy_started = Instant::now();
        let Some(image) = self.state.copy_image() else {
            for reply in replies {
                let _ = reply.send(Response::Error {
                    code: ErrorCode::BadRequest,
                    message: "this state cannot be snapshotted".into(),
                });
            }
            return;
        };
        assert_eq!(
            image.location.records, self.records,
            "a snapshot covers exactly the records the region holds"
        );
        assert!(
            self.in_flight.is_empty(),
            "a snapshot is of a region that holds the log"
        );
        assert_eq!(image.committed_position, self.log.last_position());
        let copy = copy_started.elapsed();
        let schedule = self
            .snapshots
            .as_mut()
            .expect("snapshots are only taken with a schedule");
        schedule.start(image, copy, cause, replies, wait);
    }

    fn publish_counters(&mut self) {
        let clients = self.counters.clients.load(Ordering::Acquire);
        let workers = self.counters.workers.load(Ordering::Acquire);
        if (clients, workers) != self.published_counters {
            self.state.set_clients_connected(clients);
            self.state.set_workers_attached(workers);
            self.published_counters = (clients, workers);
        }
    }

    fn apply(&mut self, records: &[LogRecord], written: WrittenBatch) -> Result<(), String> {
        let before_projected = self.projected_position;
        let mut events = false;
        // A daemon that dies from here until the location is set again leaves a region that no
        // later daemon adopts (it may hold part of this batch).
        self.state.clear_applied_location();
        for record in records {
            events |= matches!(record, LogRecord::Event { .. });
            apply_record(&mut self.state, record, &mut self.projected_position)
                .map_err(|e| e.to_string())?;
        }
        assert_eq!(
            self.state.last_position(),
            written.last_position,
            "the region holds exactly the log up to this batch"
        );
        if events {
            self.state.publish_committed(written.last_position);
        }
        if self.projected_position != before_projected {
            self.state.publish_projected(self.projected_position);
        }
        self.records += records.len() as u64;
        self.state.set_applied_location(
            LogLocation {
                segment: written.segment,
                offset: written.end_offset,
                records: self.records,
            },
            Some(written.last_record),
        );
        Ok(())
    }

    fn fail_queued(&mut self, queue: &QueueReceiver) {
        while let Some(message) = queue.try_recv() {
            if let WriterMessage::Request { reply, .. } = message {
                let _ = reply.send(Response::Error {
                    code: ErrorCode::Storage,
                    message: "the daemon stopped after a storage failure".into(),
                });
            }
        }
    }

    fn status_json(&self) -> String {
        // Positions from the log may be ahead of the region by the batches in flight.
        let mut report = status::daemon_report(
            &self.state,
            &self.log.stats(),
            &self.boot,
            &self.facts,
            self.projected_position,
            (
                self.counters.clients.load(Ordering::Acquire),
                self.counters.workers.load(Ordering::Acquire),
            ),
        );
        report.snapshots = self
            .snapshots
            .as_ref()
            .map(|schedule| schedule.status.lock().clone());
        serde_json::to_string(&report).expect("a status report always serializes")
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;

/// Answer every request of a failed batch with a storage error.
fn answer_all(answers: Vec<(Answer, ReplySender)>, message: &str) {
    for (_, reply) in answers {
        let _ = reply.send(Response::Error {
            code: ErrorCode::Storage,
            message: message.to_owned(),
        });
    }
}
