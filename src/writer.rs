//! The writer thread: the single owner of the log and the state region.
//!
//! Owns: the loop "block for one request, drain the queue up to the batch bounds, plan, one
//! write + one fdatasync, apply to the region, publish, reply", and publishing the connection
//! counters into the region header.
//! Must never: reply success before the batch is durable; keep serving after a failed write or
//! fdatasync (the kernel may have dropped the dirty pages: it answers the batch with a storage
//! error, marks the daemon failed, and stops).

use crate::batch::{BatchPlan, Planned};
use crate::boot::{apply_record, BootSummary};
use crate::log::{Log, LogError};
use crate::shutdown::{FailOnPanic, ShutdownHandle};
use crate::snapshot::{SnapshotCause, SnapshotSchedule};
use crate::state::StateStore;
use crate::status::{self, DaemonFacts};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use eventsrv_format::limits::{BATCH_BYTES_MAX, BATCH_REQUESTS_MAX};
use eventsrv_format::log_record::LogRecord;
use eventsrv_format::protocol::{CheckpointMove, EntityChange, ErrorCode, NewEvent, Response};
use eventsrv_format::region::LogLocation;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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
    fn batch_bytes(&self) -> usize {
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

pub enum WriterMessage {
    Request {
        request: WriteRequest,
        reply: Sender<Response>,
    },
    /// A connection came or went: publish the counters (no reply).
    CountersChanged,
    /// Answer what is queued, sync, clear the daemon pid, stop.
    Shutdown,
}

/// Connection counts, written by connection threads, published by the writer.
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
}

type Pending = (WriteRequest, Sender<Response>);

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
        }
    }

    /// Take snapshots on `schedule`, on request, and at a clean stop.
    pub fn with_snapshots(mut self, schedule: SnapshotSchedule) -> Writer<S> {
        self.snapshots = Some(schedule);
        self
    }

    /// Serve until `Shutdown` (or every sender is gone), or until a storage failure.
    pub fn run(mut self, queue: Receiver<WriterMessage>) -> WriterExit {
        let _guard = FailOnPanic(self.shutdown.clone());
        let mut stopping = false;
        loop {
            let budget = self
                .snapshots
                .as_ref()
                .and_then(|schedule| schedule.wait_budget(self.records));
            let first = if stopping {
                queue.try_recv().ok()
            } else if let Some(budget) = budget {
                match queue.recv_timeout(budget) {
                    Ok(message) => Some(message),
                    Err(RecvTimeoutError::Timeout) => {
                        self.snapshot_if_due();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => None,
                }
            } else {
                queue.recv().ok()
            };
            let Some(first) = first else { break };
            let mut batch: Vec<Pending> = Vec::new();
            let mut batch_bytes = 0usize;
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    WriterMessage::Request { request, reply } => {
                        batch_bytes += request.batch_bytes();
                        batch.push((request, reply));
                    }
                    WriterMessage::CountersChanged => {}
                    WriterMessage::Shutdown => stopping = true,
                }
                if batch.len() < BATCH_REQUESTS_MAX && batch_bytes < BATCH_BYTES_MAX {
                    next = queue.try_recv().ok();
                }
            }
            self.publish_counters();
            if batch.is_empty() {
                continue;
            }
            if let Err(error) = self.process_batch(batch) {
                tracing::error!(
                    "FATAL: {error}; the batch was answered with a storage error and the daemon \
                     stops (a failed write/fdatasync means durability can no longer be proven)"
                );
                self.fail_queued(&queue);
                self.state.set_daemon_pid(0);
                self.shutdown.fail();
                return WriterExit::Failed;
            }
            self.snapshot_if_due();
        }
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

    /// A periodic snapshot, if one is due and none is being written.
    fn snapshot_if_due(&mut self) {
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
    fn snapshot(&mut self, cause: SnapshotCause, replies: Vec<Sender<Response>>, wait: bool) {
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

    /// Plan, write, apply, reply. An error means the log or region failed: the caller stops.
    fn process_batch(&mut self, batch: Vec<Pending>) -> Result<(), LogError> {
        let recorded_at_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        let mut plan = BatchPlan::new(
            self.log.last_position(),
            self.log.last_commit_position(),
            recorded_at_us,
        );
        let mut answers: Vec<(Answer, Sender<Response>)> = Vec::with_capacity(batch.len());
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
        let records = std::mem::take(&mut plan.records);
        if !records.is_empty() {
            if let Err(error) = self.log.append(&records) {
                let message = format!("storage failure, nothing acknowledged: {error}");
                for (_, reply) in answers {
                    let _ = reply.send(Response::Error {
                        code: ErrorCode::Storage,
                        message: message.clone(),
                    });
                }
                return Err(error);
            }
            if let Err(error) = self.apply(&records) {
                let message = format!("the state region failed after the log write: {error}");
                for (_, reply) in answers {
                    let _ = reply.send(Response::Error {
                        code: ErrorCode::Storage,
                        message: message.clone(),
                    });
                }
                return Err(LogError::Replay {
                    path: self.state.path().into(),
                    offset: 0,
                    why: error,
                });
            }
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
            // A client that went away does not care; the reply channel never blocks (bounded 1).
            let _ = reply.send(response);
        }
        if !snapshot_replies.is_empty() {
            if self.snapshots.is_some() {
                self.snapshot(SnapshotCause::Requested, snapshot_replies, false);
            } else {
                for reply in snapshot_replies {
                    let _ = reply.send(Response::Error {
                        code: ErrorCode::BadRequest,
                        message: "snapshots are not enabled".into(),
                    });
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, records: &[LogRecord]) -> Result<(), String> {
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
            self.log.last_position(),
            "region and log agree"
        );
        if events {
            self.state.publish_committed(self.log.last_position());
        }
        if self.projected_position != before_projected {
            self.state.publish_projected(self.projected_position);
        }
        self.records += records.len() as u64;
        let (segment, offset) = self.log.end();
        self.state.set_applied_location(LogLocation {
            segment,
            offset,
            records: self.records,
        });
        Ok(())
    }

    fn fail_queued(&mut self, queue: &Receiver<WriterMessage>) {
        while let Ok(message) = queue.try_recv() {
            if let WriterMessage::Request { reply, .. } = message {
                let _ = reply.send(Response::Error {
                    code: ErrorCode::Storage,
                    message: "the daemon stopped after a storage failure".into(),
                });
            }
        }
    }

    fn status_json(&self) -> String {
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
