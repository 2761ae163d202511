//! The value tree decoders, given arbitrary bytes: `validate`, `to_json` and a full `Decoder`
//! walk never panic, and agree: what `validate` accepts, `to_json` renders.
#![no_main]

use eventsrv_format::vtree::{to_json, validate, Decoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let valid = validate(data).is_ok();
    let json = to_json(data);
    if valid {
        assert!(
            json.is_ok(),
            "validate accepted what to_json refuses: {json:?}"
        );
    }
    let mut decoder = Decoder::new(data);
    let _ = decoder.skip_value(0);
    let mut decoder = Decoder::new(data);
    for _ in 0..1024 {
        if decoder.is_at_end() || decoder.node().is_err() {
            break;
        }
    }
});
