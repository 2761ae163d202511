//! Concurrent writers on one stream: optimistic concurrency keeps versions dense, nothing lost.

mod support;

use eventsrv_format::protocol::Response;
use support::{new_event, TestDaemon};

const THREADS: u64 = 8;
const APPENDS_PER_THREAD: u64 = 200;
/// Bound on conflicts one thread may see before the test calls it livelock.
const CONFLICTS_MAX: u64 = 1_000_000;

#[test]
fn eight_writers_on_one_stream_end_with_dense_versions() {
    let mut daemon = TestDaemon::start_new();
    let socket = daemon.socket.clone();
    let writers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut client = support::Client::connect(&socket).expect("connect");
                let mut expected = 0;
                let mut conflicts = 0;
                for i in 0..APPENDS_PER_THREAD {
                    loop {
                        let n = (thread * APPENDS_PER_THREAD + i) as i64;
                        match client.append("shared", expected, vec![new_event("Test\\Counted", n)])
                        {
                            Response::Appended { stream_version, .. } => {
                                expected = stream_version;
                                break;
                            }
                            Response::Conflict { actual_version, .. } => {
                                expected = actual_version;
                                conflicts += 1;
                                assert!(conflicts < CONFLICTS_MAX, "livelock");
                            }
                            other => panic!("unexpected answer {other:?}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer thread");
    }
    let mut client = daemon.client();
    match client.append("shared", 0, vec![new_event("Probe", 0)]) {
        Response::Conflict { actual_version, .. } => {
            assert_eq!(actual_version, THREADS * APPENDS_PER_THREAD)
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        client.status()["committed_position"],
        THREADS * APPENDS_PER_THREAD
    );
    drop(client);
    daemon.stop_clean();

    let events = daemon.stream_events("shared");
    assert_eq!(events.len() as u64, THREADS * APPENDS_PER_THREAD);
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["version"], i as u64 + 1);
        assert_eq!(event["position"], i as u64 + 1);
    }
}
