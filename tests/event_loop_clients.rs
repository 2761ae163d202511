//! Clients the event loop must handle without a thread of their own to block: many at once,
//! ones that never read their answers, pipeline requests, half-close, or vanish with a request
//! in flight. Each keeps its answers in request order, and nobody else waits on them.
//! (Stalled half frames, huge length claims and `CONNECTIONS_MAX` are in tests/bad_clients.rs.)

mod support;

use eventsrv_format::protocol::{encode_frame, Request, Response};
use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use support::{new_event, numbered_stream, Client, TestDaemon, POLL_STEP};

/// Bound on the daemon closing a connection that does not read (its own bound is
/// RESPONSE_WRITE_TIMEOUT, 10 s).
const NOT_READING_CLOSE_WAIT: Duration = Duration::from_secs(60);
/// Bound on the counters in the status report catching up with connections that left.
const COUNTERS_WAIT: Duration = Duration::from_secs(30);

fn append_frame(stream: &str, expected_version: u64, n: i64) -> Vec<u8> {
    encode_frame(&Request::Append {
        stream: stream.into(),
        expected_version,
        events: vec![new_event("Test\\Happened", n)],
    })
    .expect("frame")
}

/// Wait until the status report shows `clients` connections (the asking one included) and
/// `workers` attached workers.
fn wait_for_counters(daemon: &TestDaemon, clients: u64, workers: u64) {
    let deadline = Instant::now() + COUNTERS_WAIT;
    loop {
        let status = daemon.client().status();
        let seen = (
            status["clients_connected"].as_u64().unwrap_or(u64::MAX),
            status["workers_attached"].as_u64().unwrap_or(u64::MAX),
        );
        if seen == (clients, workers) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "counters stay at {seen:?}, expected ({clients}, {workers})"
        );
        std::thread::sleep(POLL_STEP);
    }
}

#[test]
fn two_hundred_clients_appending_at_once_all_get_dense_versions() {
    const CLIENTS: u64 = 200;
    const APPENDS: u64 = 15;
    let daemon = TestDaemon::start_new();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|index| {
            let mut client = daemon.client();
            std::thread::spawn(move || {
                let stream = numbered_stream(7, index);
                for version in 0..APPENDS {
                    assert_eq!(
                        client.append_one(&stream, version, version as i64),
                        version + 1
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("client thread");
    }
    for index in [0, CLIENTS / 2, CLIENTS - 1] {
        assert_eq!(
            daemon.stream_events(&numbered_stream(7, index)).len() as u64,
            APPENDS
        );
    }
    wait_for_counters(&daemon, 1, 0);
}

#[test]
fn pipelined_requests_are_answered_once_each_in_request_order() {
    let daemon = TestDaemon::start_new();
    let mut client = daemon.client();
    let mut bytes = encode_frame(&Request::Ping).expect("frame");
    bytes.extend(append_frame("acc-1", 0, 1));
    bytes.extend(encode_frame(&Request::Ping).expect("frame"));
    bytes.extend(append_frame("acc-1", 1, 2));
    bytes.extend(encode_frame(&Request::Status).expect("frame"));
    client.send_raw(&bytes).expect("send all at once");
    assert_eq!(client.read_response().expect("1st"), Response::Pong);
    assert!(matches!(
        client.read_response().expect("2nd"),
        Response::Appended {
            stream_version: 1,
            ..
        }
    ));
    assert_eq!(client.read_response().expect("3rd"), Response::Pong);
    assert!(matches!(
        client.read_response().expect("4th"),
        Response::Appended {
            stream_version: 2,
            ..
        }
    ));
    assert!(matches!(
        client.read_response().expect("5th"),
        Response::Status { .. }
    ));
    assert_eq!(
        client.append_one("acc-1", 2, 3),
        3,
        "the connection stays usable"
    );
}

#[test]
fn a_client_that_never_reads_is_closed_and_others_are_served_meanwhile() {
    let daemon = TestDaemon::start_new();
    let flooder = UnixStream::connect(&daemon.socket).expect("connect");
    let ping = encode_frame(&Request::Ping).expect("frame");
    let flood: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 200_000)
        .collect();
    // Writes until the socket buffers are full (the daemon stops reading once its answers do not
    // fit), then stays blocked until the daemon closes the connection.
    let writer = {
        let mut flooder = flooder.try_clone().expect("clone");
        std::thread::spawn(move || flooder.write_all(&flood).is_err())
    };
    for version in 0..20 {
        assert_eq!(daemon.client().append_one("acc-1", version, 1), version + 1);
    }
    let deadline = Instant::now() + NOT_READING_CLOSE_WAIT;
    while !daemon.stderr().contains("did not read its answer") {
        assert!(
            Instant::now() < deadline,
            "the daemon closes a client that does not read:\n{}",
            daemon.stderr()
        );
        std::thread::sleep(POLL_STEP);
    }
    assert!(
        writer.join().expect("writer thread"),
        "the flooding writer sees the connection closed"
    );
    drop(flooder);
    assert_eq!(daemon.client().append_one("acc-1", 20, 1), 21);
    wait_for_counters(&daemon, 1, 0);
}

#[test]
fn a_client_that_half_closes_after_its_request_still_gets_the_answer() {
    let daemon = TestDaemon::start_new();
    let mut client = daemon.client();
    client.send_raw(&append_frame("acc-1", 0, 1)).expect("send");
    client.stream.shutdown(Shutdown::Write).expect("half close");
    assert!(matches!(
        client.read_response().expect("answer after half close"),
        Response::Appended {
            stream_version: 1,
            ..
        }
    ));
    assert!(client.read_response().is_err(), "then the daemon closes");
}

#[test]
fn clients_and_workers_that_vanish_mid_request_are_uncounted_and_harm_nobody() {
    let daemon = TestDaemon::start_new();
    for round in 0..50u64 {
        let mut client = Client::connect(&daemon.socket).expect("connect");
        client
            .send_raw(&append_frame(&numbered_stream(9, round), 0, 1))
            .expect("send");
        drop(client);
        let mut worker = Client::connect(&daemon.socket).expect("connect");
        worker
            .send_raw(&encode_frame(&Request::AttachWorker).expect("frame"))
            .expect("send");
        drop(worker);
    }
    // Each append was taken whole or not at all; the daemon serves on and counts nobody gone.
    for round in 0..50u64 {
        assert!(daemon.stream_events(&numbered_stream(9, round)).len() <= 1);
    }
    assert_eq!(daemon.client().append_one("acc-1", 0, 1), 1);
    wait_for_counters(&daemon, 1, 0);
    assert!(daemon.is_running());
}

#[test]
fn sigterm_closes_idle_connections_and_answers_the_request_in_flight() {
    let mut daemon = TestDaemon::start_new();
    let mut idle = daemon.client();
    let mut busy = daemon.client();
    busy.send_raw(&append_frame("acc-1", 0, 1)).expect("send");
    daemon.signal(libc::SIGTERM);
    let answer = busy.read_response();
    assert!(
        idle.read_response().is_err(),
        "the idle connection is closed"
    );
    assert!(
        daemon.wait().success(),
        "a clean stop:\n{}",
        daemon.stderr()
    );
    // Whether the append made it before the signal is a race; what it may not do is reach the
    // log without its answer reaching the client.
    let stored = daemon.stream_events("acc-1").len();
    match answer {
        Ok(Response::Appended { .. }) => assert_eq!(stored, 1),
        other => assert_eq!(stored, 0, "stored, yet the client got {other:?}"),
    }
}
