//! Bad bytes on the socket close that connection only: the daemon keeps serving and the log is
//! untouched.

mod support;

use eventsrv_format::protocol::{
    encode_frame, ErrorCode, FrameError, Request, Response, PROTOCOL_VERSION,
};
use support::{new_event, Client, TestDaemon};

/// After the daemon's answer (if any) the connection must be closed.
fn assert_closed(client: &mut Client) {
    match client.read_response() {
        Err(FrameError::Closed) | Err(FrameError::Io(_)) => {}
        other => panic!("connection still open: {other:?}"),
    }
}

fn expect_error(client: &mut Client, code: ErrorCode) {
    match client.read_response() {
        Ok(Response::Error { code: got, .. }) => assert_eq!(got, code),
        other => panic!("expected an {code:?} error, got {other:?}"),
    }
    assert_closed(client);
}

#[test]
fn abusive_clients_are_disconnected_and_nothing_else_changes() {
    let daemon = TestDaemon::start_new();
    let mut good = daemon.client();
    good.append_one("acc-1", 0, 1);
    good.append_one("acc-1", 1, 2);
    let log_before = daemon.log_bytes();

    // Garbage: text whose first four bytes read as a huge length.
    let mut client = daemon.client();
    client
        .send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    expect_error(&mut client, ErrorCode::FrameTooLarge);

    // A frame claiming 4 GiB.
    let mut client = daemon.client();
    client.send_raw(&u32::MAX.to_le_bytes()).expect("send");
    expect_error(&mut client, ErrorCode::FrameTooLarge);

    // A well-sized frame of garbage.
    let mut client = daemon.client();
    let mut frame = 9u32.to_le_bytes().to_vec();
    frame.push(PROTOCOL_VERSION);
    frame.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff]);
    client.send_raw(&frame).expect("send");
    expect_error(&mut client, ErrorCode::BadRequest);

    // A frame too short to hold a version and a message. One send: the daemon may refuse the
    // length before a second send, which would then meet a closed socket.
    let mut client = daemon.client();
    let mut frame = 1u32.to_le_bytes().to_vec();
    frame.push(PROTOCOL_VERSION);
    client.send_raw(&frame).expect("send");
    expect_error(&mut client, ErrorCode::BadRequest);

    // A valid request under the wrong protocol version.
    let mut client = daemon.client();
    let mut frame = encode_frame(&Request::Append {
        stream: "acc-1".into(),
        expected_version: 2,
        events: vec![new_event("Evil", 3)],
    })
    .expect("frame");
    frame[4] = PROTOCOL_VERSION + 1;
    client.send_raw(&frame).expect("send");
    expect_error(&mut client, ErrorCode::UnsupportedVersion);

    // Half a frame, then close.
    let mut client = daemon.client();
    let frame = encode_frame(&Request::Append {
        stream: "acc-1".into(),
        expected_version: 2,
        events: vec![new_event("Half", 4)],
    })
    .expect("frame");
    client.send_raw(&frame[..frame.len() / 2]).expect("send");
    drop(client);

    // Only the length prefix's first bytes, then close.
    let mut client = daemon.client();
    client.send_raw(&[7, 0]).expect("send");
    drop(client);

    // The daemon still serves, the earlier connection included, and the log is unchanged.
    assert!(daemon.ping());
    assert_eq!(good.request(&Request::Ping).expect("ping"), Response::Pong);
    assert_eq!(daemon.log_bytes(), log_before);
    let mut client = daemon.client();
    assert_eq!(client.status()["committed_position"], 2);
    assert_eq!(client.append_one("acc-1", 2, 5), 3);
}

#[test]
fn invalid_events_are_answered_and_the_connection_stays_usable() {
    let daemon = TestDaemon::start_new();
    let mut client = daemon.client();
    let mut event = new_event("Bad", 1);
    event.payload = vec![0x0F, 1, 2, 3];
    match client.append("acc-1", 0, vec![event]) {
        Response::Error {
            code: ErrorCode::InvalidEvent,
            message,
        } => assert!(message.contains("payload"), "{message}"),
        other => panic!("expected InvalidEvent, got {other:?}"),
    }
    let long_stream = "s".repeat(300);
    match client.append(&long_stream, 0, vec![new_event("T", 1)]) {
        Response::Error {
            code: ErrorCode::InvalidEvent,
            message,
        } => assert!(message.contains("stream id"), "{message}"),
        other => panic!("expected InvalidEvent, got {other:?}"),
    }
    assert_eq!(client.append_one("acc-1", 0, 1), 1);
    match client.append("acc-1", 0, vec![new_event("T", 2)]) {
        Response::Conflict {
            expected_version: 0,
            actual_version: 1,
            ..
        } => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
}
