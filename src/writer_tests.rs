//! The writer on an in-memory state: batching, optimistic concurrency, validation, room checks.

use super::*;
use crate::log;
use crate::reply;
use crate::state::memory::MemoryState;
use crate::writer_queue::{writer_queue, QueueSender};
use eventsrv_format::limits::EXPECTED_VERSION_ANY;
use eventsrv_format::vtree;
use std::path::Path;

fn value(amount: i64) -> Vec<u8> {
    let mut encoder = vtree::Encoder::new();
    encoder.begin_map(1);
    encoder.string(b"amount");
    encoder.int(amount);
    encoder.into_bytes()
}

fn new_event(amount: i64) -> NewEvent {
    NewEvent {
        event_id: [amount as u8; 16],
        event_type: "Deposited".into(),
        metadata: value(0),
        payload: value(amount),
    }
}

fn append(stream: &str, expected_version: u64, count: usize) -> WriteRequest {
    WriteRequest::Append {
        stream: stream.into(),
        expected_version,
        events: (0..count).map(|i| new_event(i as i64)).collect(),
    }
}

fn writer(data_dir: &Path, state: MemoryState) -> Writer<MemoryState> {
    let (log, _) = log::open(data_dir, u64::MAX / 2, &mut |_| Ok(())).expect("log");
    let (shutdown, _waiter) = ShutdownHandle::new().expect("shutdown pipe");
    let boot = BootSummary {
        source: "test".into(),
        segments: 1,
        records: 0,
        events: 0,
        commits: 0,
        log_bytes: 0,
        duration_ms: 0,
        torn_tail_bytes_cut: None,
        projected_position: 0,
        ..BootSummary::default()
    };
    let facts = DaemonFacts::now("/tmp/test.sock".into(), data_dir.into());
    Writer::new(
        log,
        state,
        Arc::new(Counters::default()),
        boot,
        facts,
        shutdown,
    )
}

/// Queue `request`; its answer arrives on the returned mailbox.
fn send(queue: &QueueSender, request: WriteRequest) -> reply::Receiver<Response> {
    let answers = reply::Receiver::new();
    queue
        .send(WriterMessage::Request {
            request,
            reply: answers.sender(),
        })
        .expect("queue");
    answers
}

/// Queue every request first (so they form one batch), then run the writer to completion.
fn run_batch(data_dir: &Path, state: MemoryState, requests: Vec<WriteRequest>) -> Vec<Response> {
    let (queue_tx, queue_rx) = writer_queue();
    let mut answers = Vec::new();
    for request in requests {
        answers.push(send(&queue_tx, request));
    }
    queue_tx.send(WriterMessage::Shutdown).expect("queue");
    assert_eq!(writer(data_dir, state).run(queue_rx), WriterExit::Clean);
    answers
        .into_iter()
        .map(|a| a.recv().expect("every request is answered"))
        .collect()
}

fn events_in_log(data_dir: &Path) -> u64 {
    let (_, summary) = log::open(data_dir, u64::MAX / 2, &mut |_| Ok(())).expect("reopen");
    summary.events
}

#[test]
fn one_batch_sees_its_own_earlier_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let answers = run_batch(
        dir.path(),
        MemoryState::default(),
        vec![
            append("a", 0, 2),
            append("a", 0, 1),
            append("a", 2, 1),
            append("b", EXPECTED_VERSION_ANY, 3),
        ],
    );
    assert_eq!(
        answers[0],
        Response::Appended {
            first_position: 1,
            last_position: 2,
            stream_version: 2
        }
    );
    assert_eq!(
        answers[1],
        Response::Conflict {
            stream: "a".into(),
            expected_version: 0,
            actual_version: 2
        }
    );
    assert_eq!(
        answers[2],
        Response::Appended {
            first_position: 3,
            last_position: 3,
            stream_version: 3
        }
    );
    assert_eq!(
        answers[3],
        Response::Appended {
            first_position: 4,
            last_position: 6,
            stream_version: 3
        }
    );
    assert_eq!(events_in_log(dir.path()), 6);
}

#[test]
fn invalid_events_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bad_payload = new_event(1);
    bad_payload.payload = vec![0xEE];
    let mut no_type = new_event(1);
    no_type.event_type.clear();
    let answers = run_batch(
        dir.path(),
        MemoryState::default(),
        vec![
            WriteRequest::Append {
                stream: "a".into(),
                expected_version: 0,
                events: vec![new_event(1), bad_payload],
            },
            WriteRequest::Append {
                stream: "a".into(),
                expected_version: 0,
                events: vec![no_type],
            },
            WriteRequest::Append {
                stream: String::new(),
                expected_version: 0,
                events: vec![new_event(1)],
            },
            WriteRequest::Append {
                stream: "a".into(),
                expected_version: 0,
                events: vec![],
            },
        ],
    );
    for answer in &answers {
        assert!(
            matches!(
                answer,
                Response::Error {
                    code: ErrorCode::InvalidEvent,
                    ..
                }
            ),
            "{answer:?}"
        );
    }
    let Response::Error { message, .. } = &answers[0] else {
        unreachable!()
    };
    assert!(message.contains("event 1 payload"), "{message}");
    assert_eq!(events_in_log(dir.path()), 0);
}

#[test]
fn a_full_region_refuses_the_request_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = MemoryState {
        room_bytes: Some(400),
        ..MemoryState::default()
    };
    let answers = run_batch(
        dir.path(),
        state,
        vec![append("a", 0, 1), append("a", 1, 20)],
    );
    assert!(matches!(answers[0], Response::Appended { .. }));
    assert!(
        matches!(
            answers[1],
            Response::Error {
                code: ErrorCode::RegionFull,
                ..
            }
        ),
        "{:?}",
        answers[1]
    );
    assert_eq!(events_in_log(dir.path()), 1);
}

#[test]
fn commits_check_expected_checkpoints_and_apply_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let commit = |expected, position, uuid: &str| WriteRequest::Commit {
        checkpoints: vec![CheckpointMove {
            name: "accounts".into(),
            expected,
            position,
        }],
        projected_position: Some(position),
        changes: vec![EntityChange::Upsert {
            class: "Account".into(),
            uuid: uuid.into(),
            data: value(5),
            position,
        }],
    };
    let answers = run_batch(
        dir.path(),
        MemoryState::default(),
        vec![
            append("a", 0, 3),
            commit(0, 2, "u1"),
            commit(0, 3, "u2"),
            commit(2, 3, "u3"),
            commit(3, 9, "u4"),
        ],
    );
    assert_eq!(answers[1], Response::Committed { position: 2 });
    assert_eq!(
        answers[2],
        Response::CheckpointConflict {
            name: "accounts".into(),
            expected: 0,
            actual: 2
        }
    );
    assert_eq!(answers[3], Response::Committed { position: 3 });
    assert!(
        matches!(&answers[4], Response::Error { code: ErrorCode::InvalidEvent, message } if message.contains("beyond"))
    );
    // The log replays into the same state.
    let mut state = MemoryState::default();
    let mut projected = 0;
    log::open(dir.path(), u64::MAX / 2, &mut |record| {
        crate::boot::apply_record(&mut state, record, &mut projected).map_err(|e| e.to_string())
    })
    .expect("reopen");
    assert_eq!(projected, 3);
    assert_eq!(state.checkpoints.get("accounts"), Some(&3));
    let accounts = state.entities.get("Account").expect("class");
    assert_eq!(accounts.keys().collect::<Vec<_>>(), ["u1", "u3"]);
}

#[test]
fn a_failed_write_answers_storage_errors_and_stops_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    // /dev/full fails every write with ENOSPC.
    let device = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let log = Log::from_parts(
        dir.path().into(),
        device,
        1,
        64,
        64,
        0,
        u64::MAX / 2,
        crate::log::scan::OrderCheck::new(),
        None,
    );
    let (shutdown, _waiter) = ShutdownHandle::new().expect("shutdown pipe");
    let template = writer(dir.path(), MemoryState::default());
    let writer = Writer::new(
        log,
        MemoryState::default(),
        template.counters,
        template.boot,
        template.facts,
        shutdown.clone(),
    );
    let (queue_tx, queue_rx) = writer_queue();
    let mut answers = Vec::new();
    for stream in ["a", "b"] {
        answers.push(send(&queue_tx, append(stream, 0, 1)));
    }
    assert_eq!(writer.run(queue_rx), WriterExit::Failed);
    assert!(
        shutdown.failed(),
        "the daemon is told to stop with a failure"
    );
    for answer in answers {
        assert!(matches!(
            answer.recv(),
            Ok(Response::Error {
                code: ErrorCode::Storage,
                ..
            })
        ));
    }
    // The writer is gone: later requests cannot be queued.
    let later = reply::Receiver::new();
    assert!(queue_tx
        .send(WriterMessage::Request {
            request: WriteRequest::Status,
            reply: later.sender(),
        })
        .is_err());
    assert!(
        later.recv().is_err(),
        "the refused request is never answered"
    );
}

#[test]
fn status_reports_positions_and_counters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (queue_tx, queue_rx) = writer_queue();
    let answer = send(&queue_tx, append("a", 0, 1));
    let status_answer = send(&queue_tx, WriteRequest::Status);
    queue_tx.send(WriterMessage::Shutdown).expect("queue");
    let writer = writer(dir.path(), MemoryState::default());
    writer.counters.workers.store(1, Ordering::Release);
    assert_eq!(writer.run(queue_rx), WriterExit::Clean);
    assert!(matches!(answer.recv(), Ok(Response::Appended { .. })));
    let Ok(Response::Status { json }) = status_answer.recv() else {
        panic!("status answered")
    };
    let report: crate::status::StatusReport = serde_json::from_str(&json).expect("status json");
    assert_eq!(
        (
            report.committed_position,
            report.workers_attached,
            report.streams
        ),
        (1, 1, 1)
    );
}

/// The writer after its loop ended, and how it ended.
type Served = std::thread::JoinHandle<(Writer<MemoryState>, Result<(), LogError>)>;

/// The writer's loop on its own thread, with the test playing the syncer (and no inline sync
/// when idle): every step of the pipeline happens only when the test says so.
fn serve_with_test_syncer(
    writer: Writer<MemoryState>,
) -> (QueueSender, crate::writer_queue::SyncerHandle, Served) {
    let (queue_tx, queue_rx) = writer_queue();
    let syncer = queue_rx.syncer();
    let thread = std::thread::spawn(move || {
        let mut writer = writer;
        writer.sync_inline_when_idle = false;
        let result = writer.serve(&queue_rx);
        (writer, result)
    });
    (queue_tx, syncer, thread)
}

/// How far the segment's records reach: the end of its last non-zero byte (the zero-filled tail
/// follows the records; docs/formats.md).
fn segment_len(data_dir: &Path) -> u64 {
    let path = log::segment::segment_path(&log::segment::log_dir(data_dir), 1);
    let bytes = std::fs::read(path).expect("segment");
    bytes
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |last| last as u64 + 1)
}

#[test]
fn a_batch_is_written_before_its_sync_and_answered_and_applied_only_after_it() {
    use crate::writer_queue::SyncReport;
    let dir = tempfile::tempdir().expect("tempdir");
    let writer = writer(dir.path(), MemoryState::default());
    let empty_log = segment_len(dir.path());
    let (queue, syncer, thread) = serve_with_test_syncer(writer);

    let first = send(&queue, append("a", 0, 1));
    let job = syncer.next_job().expect("a sync job for batch 1");
    assert_eq!(job.batch, 1);
    let after_first = segment_len(dir.path());
    assert!(
        after_first > empty_log,
        "written before the sync is asked for"
    );
    assert!(
        first.try_recv().is_none(),
        "not answered before it is durable"
    );

    // Arrives while batch 1 syncs: waits, and is not written yet.
    let second = send(&queue, append("a", 1, 1));
    let third = send(&queue, append("b", 0, 1));
    assert_eq!(segment_len(dir.path()), after_first);

    syncer.report(SyncReport::Durable(1));
    assert!(matches!(
        first.recv(),
        Ok(Response::Appended {
            stream_version: 1,
            ..
        })
    ));
    // Both waiting requests form batch 2, planned on top of batch 1.
    let job = syncer.next_job().expect("a sync job for batch 2");
    assert_eq!(job.batch, 2);
    assert!(segment_len(dir.path()) > after_first);
    assert!(second.try_recv().is_none() && third.try_recv().is_none());

    // fsyncgate: a failed fdatasync acknowledges nothing of batch 2, applies nothing of it,
    // and cuts it off the log; batch 1 stays.
    syncer.report(SyncReport::Failed(std::io::Error::from_raw_os_error(
        libc::EIO,
    )));
    for answer in [second, third] {
        assert!(matches!(
            answer.recv(),
            Ok(Response::Error {
                code: ErrorCode::Storage,
                ..
            })
        ));
    }
    let (writer, result) = thread.join().expect("writer thread");
    assert!(result.is_err(), "the writer stops after a failed sync");
    assert_eq!(writer.state.stream_version("a"), 1);
    assert_eq!(writer.state.stream_version("b"), 0);
    assert_eq!(segment_len(dir.path()), after_first, "batch 2 cut off");
    drop(queue);
}

#[test]
fn requests_arriving_during_a_sync_are_planned_on_top_of_the_batch_being_synced() {
    use crate::writer_queue::SyncReport;
    let dir = tempfile::tempdir().expect("tempdir");
    let writer = writer(dir.path(), MemoryState::default());
    let (queue, syncer, thread) = serve_with_test_syncer(writer);
    let first = send(&queue, append("a", 0, 1));
    assert_eq!(syncer.next_job().expect("job").batch, 1);
    syncer.report(SyncReport::Durable(1));
    assert!(first.recv().is_ok());
    // A stale expectation that arrives while batch 3 syncs is neither taken nor answered until
    // batch 3 is durable, and is then refused against it (before the region applied it).
    let second = send(&queue, append("a", 1, 1));
    assert_eq!(syncer.next_job().expect("job").batch, 2);
    syncer.report(SyncReport::Durable(2));
    assert!(second.recv().is_ok());
    let third = send(&queue, append("a", 2, 1));
    assert_eq!(syncer.next_job().expect("job").batch, 3);
    let stale = send(&queue, append("a", 2, 1));
    assert!(stale.try_recv().is_none());
    syncer.report(SyncReport::Durable(3));
    assert!(third.recv().is_ok());
    assert!(matches!(
        stale.recv(),
        Ok(Response::Conflict {
            actual_version: 3,
            ..
        })
    ));
    queue.send(WriterMessage::Shutdown).expect("queue");
    let (writer, result) = thread.join().expect("writer thread");
    assert!(result.is_ok());
    assert_eq!(writer.state.stream_version("a"), 3);
    assert!(writer.in_flight.is_empty() && writer.unapplied.is_empty());
}

#[test]
fn past_its_bound_the_log_forgets_stream_versions_and_takes_them_from_the_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut writer = writer(dir.path(), MemoryState::default());
    writer.log.set_order_streams_max(2);
    let (queue, queue_rx) = writer_queue();
    let thread = std::thread::spawn(move || {
        let result = writer.serve(&queue_rx);
        (writer, result)
    });
    let appended = |request| match send(&queue, request).recv() {
        Ok(Response::Appended { stream_version, .. }) => stream_version,
        other => panic!("expected Appended, got {other:?}"),
    };
    // One batch each: after "c" is applied the log tracks three streams, one over its bound.
    for stream in ["a", "b", "c"] {
        assert_eq!(appended(append(stream, 0, 1)), 1);
    }
    // The log's order check forgot them: it takes "a" and "b" from the state (a wrong version
    // there would stop the writer with "a record that breaks the log order").
    assert_eq!(appended(append("a", 1, 1)), 2);
    assert_eq!(appended(append("b", EXPECTED_VERSION_ANY, 2)), 3);
    queue.send(WriterMessage::Shutdown).expect("queue");
    let (writer, result) = thread.join().expect("the writer never broke the log order");
    result.expect("a clean stop");
    assert_eq!(
        writer.log.streams_tracked(),
        2,
        "only a and b since it forgot"
    );
    drop(writer);
    assert_eq!(
        events_in_log(dir.path()),
        6,
        "a full scan verifies the order"
    );
}

#[test]
fn a_log_that_forgot_its_streams_takes_versions_from_batches_not_yet_applied() {
    use crate::writer_queue::SyncReport;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut writer = writer(dir.path(), MemoryState::default());
    writer.log.set_order_streams_max(0);
    let (queue, syncer, thread) = serve_with_test_syncer(writer);
    let first = send(&queue, append("a", 0, 1));
    assert_eq!(syncer.next_job().expect("job").batch, 1);
    let second = send(&queue, append("a", 1, 1));
    // Batch 2 is written before batch 1 is applied, by a log that forgot "a": its version comes
    // from batch 1 (the state still says 0, which would stop the writer).
    syncer.report(SyncReport::Durable(1));
    assert_eq!(syncer.next_job().expect("job").batch, 2);
    syncer.report(SyncReport::Durable(2));
    for (answer, version) in [(first, 1), (second, 2)] {
        assert!(matches!(
            answer.recv(),
            Ok(Response::Appended { stream_version, .. }) if stream_version == version
        ));
    }
    drop(queue);
    let (writer, result) = thread.join().expect("the writer never broke the log order");
    result.expect("a clean stop");
    assert_eq!(writer.state.stream_version("a"), 2);
}
