//! Clients that misbehave, on the socket and in PHP. Each is handled with bounded memory and
//! time, the daemon keeps serving everyone else, and nothing of theirs reaches the log.
//! (Garbage frames, wrong versions and half frames that then close are in
//! tests/daemon_socket_abuse.rs.)

mod php_support;
mod support;

use eventsrv_format::limits::{CONNECTIONS_MAX, FRAME_BYTES_MAX};
use eventsrv_format::protocol::{encode_frame, ErrorCode, FrameError, Request, Response};
use php_support::Php;
use std::os::unix::net::UnixStream;
use std::time::Duration;
use support::{new_event, Client, TestDaemon};

/// Bound on the daemon closing a stalled connection (its own bound is FRAME_REST_TIMEOUT, 10 s).
const STALL_CLOSE_WAIT: Duration = Duration::from_secs(60);
/// The daemon's resident memory may grow by this much while the bad clients are connected:
/// generous, yet far below what trusting their length claims would cost.
const RSS_GROWTH_BYTES_MAX: u64 = 256 << 20;

/// Resident memory of a process (VmRSS).
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

fn assert_serves_others(daemon: &TestDaemon, stream: &str, expected_version: u64) {
    let mut client = daemon.client();
    assert_eq!(
        client.append_one(stream, expected_version, 1),
        expected_version + 1,
        "another client appends while the bad ones are connected"
    );
}

#[test]
fn a_client_that_connects_and_never_sends_does_not_hold_anyone_up() {
    let daemon = TestDaemon::start_new();
    let silent: Vec<UnixStream> = (0..10)
        .map(|_| UnixStream::connect(&daemon.socket).expect("connect"))
        .collect();
    for version in 0..20 {
        assert_serves_others(&daemon, "acc-1", version);
    }
    let status = daemon.client().status();
    assert!(
        status["clients_connected"].as_u64().unwrap_or(0) >= silent.len() as u64,
        "silent clients stay connected (idle between frames is allowed): {status}"
    );
    eprintln!(
        "silent clients: {} connected and never sent, 20 appends by another client served",
        silent.len()
    );
}

#[test]
fn half_a_frame_then_silence_is_dropped_and_others_are_served_meanwhile() {
    let daemon = TestDaemon::start_new();
    let frame = encode_frame(&Request::Append {
        stream: "acc-1".into(),
        expected_version: 0,
        events: vec![new_event("Half", 1)],
    })
    .expect("frame");
    let mut stalled = Vec::new();
    for cut in [2, 4, 5, frame.len() / 2, frame.len() - 1] {
        let mut client = Client::connect(&daemon.socket).expect("connect");
        client
            .stream
            .set_read_timeout(Some(STALL_CLOSE_WAIT))
            .expect("timeout");
        client
            .send_raw(&frame[..cut])
            .expect("send part of a frame");
        stalled.push((cut, client));
    }
    for version in 0..10 {
        assert_serves_others(&daemon, "acc-2", version);
    }
    for (cut, client) in &mut stalled {
        match client.read_response() {
            Err(FrameError::Closed) | Err(FrameError::Io(_)) => {}
            other => panic!("a frame stalled after {cut} bytes got {other:?}"),
        }
    }
    assert!(
        daemon.stderr().contains("frame incomplete"),
        "the daemon logs why:\n{}",
        daemon.stderr()
    );
    assert!(
        daemon.stream_events("acc-1").is_empty(),
        "nothing of a half frame is written"
    );
    eprintln!(
        "stalled half frames: {} connections closed by the daemon, 10 appends by another client \
         served meanwhile",
        stalled.len()
    );
}

#[test]
fn a_thousand_connections_at_once_are_served_and_the_rest_refused_clearly() {
    const CONNECTIONS: usize = 1_000;
    let daemon = TestDaemon::start_new();
    let rss_before = rss_bytes(daemon.pid());
    let mut clients: Vec<Client> = (0..CONNECTIONS)
        .map(|_| Client::connect(&daemon.socket).expect("connect"))
        .collect();
    // Every connection asks at once, then every one reads its answer.
    let ping = encode_frame(&Request::Ping).expect("frame");
    for client in &mut clients {
        client.send_raw(&ping).expect("send");
    }
    for client in &mut clients {
        assert_eq!(client.read_response().expect("answer"), Response::Pong);
    }
    assert_serves_others(&daemon, "acc-1", 0);
    let rss_with_clients = rss_bytes(daemon.pid());

    // Past CONNECTIONS_MAX a connection gets a clear Overloaded error and is closed.
    let extra = CONNECTIONS_MAX + 10 - CONNECTIONS;
    let mut refused = 0;
    let mut more = Vec::new();
    for _ in 0..extra {
        let mut client = Client::connect(&daemon.socket).expect("connect");
        // A refused connection may already be closed by the time the ping goes out (EPIPE);
        // its Overloaded answer is still there to read.
        let _ = client.send_raw(&ping);
        match client.read_response() {
            Ok(Response::Pong) => more.push(client),
            Ok(Response::Error {
                code: ErrorCode::Overloaded,
                message,
            }) => {
                assert!(message.contains("connections"), "{message}");
                refused += 1;
            }
            other => panic!("over the limit: {other:?}"),
        }
    }
    assert!(
        refused >= 1,
        "connections past {CONNECTIONS_MAX} are refused"
    );
    drop(clients);
    drop(more);
    // Once they are gone, new clients are served again.
    let mut served = false;
    for _ in 0..500 {
        if let Ok(mut client) = Client::connect(&daemon.socket) {
            if client.request(&Request::Ping).ok() == Some(Response::Pong) {
                served = true;
                break;
            }
        }
        std::thread::sleep(support::POLL_STEP);
    }
    assert!(served, "the daemon serves again after the crowd left");
    assert_serves_others(&daemon, "acc-1", 1);
    eprintln!(
        "{CONNECTIONS} connections at once: all answered; {refused} of {extra} more refused with \
         Overloaded; daemon RSS {} MiB before, {} MiB with {CONNECTIONS} clients",
        rss_before >> 20,
        rss_with_clients >> 20
    );
    assert!(
        rss_with_clients < rss_before + RSS_GROWTH_BYTES_MAX,
        "memory stays bounded: {rss_before} -> {rss_with_clients} bytes"
    );
}

#[test]
fn frames_claiming_huge_sizes_cost_only_what_was_sent() {
    const LIARS: usize = 200;
    let daemon = TestDaemon::start_new();
    let rss_before = rss_bytes(daemon.pid());

    // Claims of 4 GiB are refused at once, with a clear error.
    for _ in 0..10 {
        let mut client = daemon.client();
        client.send_raw(&u32::MAX.to_le_bytes()).expect("send");
        match client.read_response() {
            Ok(Response::Error {
                code: ErrorCode::FrameTooLarge,
                ..
            }) => {}
            other => panic!("a 4 GiB claim: {other:?}"),
        }
    }
    // Claims of the largest allowed frame that then send 1 KiB and stall: the daemon must not
    // reserve 8 MiB for each.
    let mut liars = Vec::new();
    for _ in 0..LIARS {
        let mut client = daemon.client();
        let mut bytes = (FRAME_BYTES_MAX as u32).to_le_bytes().to_vec();
        bytes.push(eventsrv_format::protocol::PROTOCOL_VERSION);
        bytes.extend_from_slice(&[0u8; 1024]);
        client.send_raw(&bytes).expect("send");
        liars.push(client);
    }
    assert_serves_others(&daemon, "acc-1", 0);
    let rss_with_liars = rss_bytes(daemon.pid());
    eprintln!(
        "huge claims: 10 x 4 GiB refused; {LIARS} x {} MiB claims holding 1 KiB each: daemon RSS \
         {} MiB before, {} MiB with them (trusting the claims would need {} MiB)",
        FRAME_BYTES_MAX >> 20,
        rss_before >> 20,
        rss_with_liars >> 20,
        (LIARS * FRAME_BYTES_MAX) >> 20
    );
    assert!(
        rss_with_liars < rss_before + RSS_GROWTH_BYTES_MAX,
        "memory follows what arrived, not what was claimed: {rss_before} -> {rss_with_liars}"
    );
    drop(liars);
    assert_serves_others(&daemon, "acc-1", 1);
}

#[test]
fn php_values_that_cannot_be_stored_throw_clearly_and_write_nothing() {
    let daemon = TestDaemon::start_new();
    let php = Php::new(&daemon.socket, &daemon.region);
    let log_before = daemon.log_bytes();
    let output = php.run(
        "bad_values.php",
        &["bad", "0190a7f3-0000-7000-8000-0000000ee000"],
    );
    let expectations = [
        ("resource", "SerializationException", "resource"),
        ("closure", "SerializationException", "Closure"),
        ("closure in a list", "SerializationException", "Closure"),
        ("generator", "SerializationException", "Generator"),
        ("anonymous class", "SerializationException", "anonymous"),
        ("recursive array", "SerializationException", "recurs"),
        ("recursive object", "SerializationException", "recurs"),
        ("too deep", "SerializationException", "64"),
        ("built-in object", "SerializationException", "ArrayObject"),
        ("huge string", "FrameTooLargeException", "MiB"),
    ];
    for (case, class, detail) in expectations {
        let line = output
            .lines()
            .find(|l| l.starts_with(&format!("{case}: ")))
            .unwrap_or_else(|| panic!("no line for {case}:\n{output}"));
        assert!(
            line.contains(&format!("EventSrv\\{class}")),
            "{case} throws {class}: {line}"
        );
        assert!(
            line.to_lowercase().contains(&detail.to_lowercase()),
            "{case}: the message says why ({detail}): {line}"
        );
    }
    assert!(output.contains("version 0"), "{output}");
    assert_eq!(daemon.log_bytes(), log_before, "nothing was written");

    let prefix = "0190a7f3-0000-7000-8000-0000000ee00";
    let written = php.run("bad_values.php", &["write", prefix]);
    assert!(written.starts_with("written 1"), "{written}");
    let read = php.run("bad_values.php", &["read", prefix]);
    let line = |stream: &str| {
        read.lines()
            .find(|l| l.starts_with(&format!("{stream}: ")))
            .unwrap_or_else(|| panic!("no line for {stream}:\n{read}"))
            .to_owned()
    };
    assert_eq!(
        line("bytes"),
        "bytes: ok 1 same bytes",
        "non-UTF-8 strings round-trip byte for byte"
    );
    let nested = line("nested");
    assert!(
        nested.contains("EventSrv\\SerializationException") && nested.contains("Ghost\\Thing"),
        "an unknown nested class names the class: {nested}"
    );
    let event = line("event");
    assert!(
        event.contains("EventSrv\\UnknownEventTypeException") && event.contains("Ghost\\Appeared"),
        "an unknown event class names the type: {event}"
    );
    eprintln!(
        "PHP bad values: {} refused before sending (log unchanged); read-back:\n{read}",
        expectations.len()
    );
}
