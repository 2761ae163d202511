//! The socket frame decoder, given arbitrary bytes: the length prefix (`read_message` over a
//! byte stream) and the body decoder (`decode_body`) for both directions. Never a panic, never
//! an allocation the length claim alone asks for, and a decoded request re-encodes to an equal one.
#![no_main]

use eventsrv_format::protocol::{decode_body, encode_frame, read_message, Request, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As a stream: length prefix, version byte, body.
    let mut stream = data;
    if let Ok(request) = read_message::<Request>(&mut stream) {
        let frame = encode_frame(&request).expect("a decoded request encodes");
        let mut again = frame.as_slice();
        assert_eq!(
            read_message::<Request>(&mut again).expect("re-decodes"),
            request
        );
    }
    let mut stream = data;
    let _ = read_message::<Response>(&mut stream);
    // As a body (what follows the length prefix).
    if let Ok(request) = decode_body::<Request>(data) {
        let frame = encode_frame(&request).expect("a decoded request encodes");
        assert_eq!(
            decode_body::<Request>(&frame[4..]).expect("re-decodes"),
            request
        );
    }
    let _ = decode_body::<Response>(data);
});
