//! The log record decoder (`decode_record`) and the segment header decoder, given arbitrary
//! bytes: they must never panic, and what they accept must encode back to the same record.
//!
//! Input: the first byte picks the mode. Mode 0 hands the rest to the decoders as it is (length
//! and CRC checks first). Any other mode treats the rest as a record *body* and frames it with a
//! correct length and CRC, so the fuzzer gets past the CRC into the kind / bincode / invariant
//! checks behind it.
#![no_main]

use eventsrv_format::log_record::{decode_record, encode_record, SegmentHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let framed;
    let bytes = if mode == 0 {
        let _ = SegmentHeader::decode(rest);
        rest
    } else {
        let mut frame = Vec::with_capacity(rest.len() + 8);
        frame.extend_from_slice(&(rest.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc32c::crc32c(rest).to_le_bytes());
        frame.extend_from_slice(rest);
        framed = frame;
        &framed
    };
    if let Ok((record, used)) = decode_record(bytes) {
        assert!(used <= bytes.len(), "used more bytes than given");
        let mut again = Vec::new();
        encode_record(&record, &mut again);
        let (round_trip, again_used) = decode_record(&again).expect("an encoded record decodes");
        assert_eq!(round_trip, record, "record survives encode + decode");
        assert_eq!(again_used, again.len());
    }
});
