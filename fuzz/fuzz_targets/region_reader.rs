//! The state region reader (what every PHP process runs over shared memory), given arbitrary
//! bytes: every query must answer or report `Corrupt`, never panic or read outside the buffer.
//!
//! The input is copied into an 8-aligned heap buffer at least one header long. The first byte
//! picks the mode: 0 leaves the header as the input has it (the magic / version / size checks
//! are fuzzed too); any other mode writes a valid magic, layout version, header size and region
//! size over it, so the fuzzer spends its time in the arena walks behind those checks. Seeds are
//! real regions written by `RegionWriter` (see examples/seed_corpus.rs).
#![no_main]

use eventsrv_format::region::layout::HEADER_BYTES;
use eventsrv_format::region::{RegionView, REGION_LAYOUT_VERSION, REGION_MAGIC};
use libfuzzer_sys::fuzz_target;

/// Bounds on how much of a (possibly huge, claimed) structure one run walks.
const EVENTS_WALKED_MAX: u64 = 4_096;
const ENTITIES_WALKED_MAX: usize = 4_096;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let len = rest.len().max(HEADER_BYTES as usize).next_multiple_of(8);
    let mut words = vec![0u64; len / 8];
    // SAFETY: `words` owns `len` initialized bytes; u64 has no invalid bit patterns.
    let buffer = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, len) };
    buffer[..rest.len()].copy_from_slice(rest);
    if mode != 0 {
        buffer[0..8].copy_from_slice(REGION_MAGIC);
        buffer[8..12].copy_from_slice(&REGION_LAYOUT_VERSION.to_le_bytes());
        buffer[12..16].copy_from_slice(&(HEADER_BYTES as u32).to_le_bytes());
        buffer[16..24].copy_from_slice(&(len as u64).to_le_bytes());
    }
    // SAFETY: the buffer is 8-aligned (a Vec<u64>) and outlives the view; nothing writes to it
    // while the view is alive.
    let Ok(view) = (unsafe { RegionView::from_raw(buffer.as_ptr(), len) }) else {
        return;
    };
    let _ = view.header();
    let _ = view.state();
    let committed = view.committed_position();
    let _ = view.projected_position();
    let mut streams = Vec::new();
    for position in 1..=committed.min(EVENTS_WALKED_MAX) {
        match view.event_at(position) {
            Ok(Some(event)) => {
                assert_eq!(event.position, position, "event_at checks the position");
                if streams.len() < 16 {
                    streams.push(event.stream.to_vec());
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let _ = view.event_at(committed.saturating_add(1));
    let _ = view.event_at(u64::MAX);
    streams.push(b"no such stream".to_vec());
    for stream in &streams {
        let _ = view.stream_version(stream);
        let mut events = Vec::new();
        if view.stream_events(stream, 0, &mut events).is_ok() {
            for pair in events.windows(2) {
                assert!(
                    pair[0].stream_version < pair[1].stream_version,
                    "oldest first"
                );
            }
            for event in &events {
                assert!(event.position <= committed, "only committed events");
            }
        }
    }
    if let Ok(classes) = view.classes() {
        for (name, index, _) in classes.iter().take(16) {
            let _ = view.class_index(name.as_bytes());
            let _ = view.entity_count(*index);
            if let Ok(entities) = view.entities(*index) {
                let mut uuids = Vec::new();
                for entity in entities.take(ENTITIES_WALKED_MAX) {
                    match entity {
                        Ok(entity) => uuids.push(entity.uuid.to_vec()),
                        Err(_) => break,
                    }
                }
                for uuid in uuids.iter().take(16) {
                    let _ = view.find_entity(*index, uuid);
                }
            }
        }
    }
    let _ = view.class_index(b"App\\Missing");
    let _ = view.find_entity(0, b"missing");
    let _ = view.entities(u32::MAX).map(|e| e.take(4).count());
    if let Ok(checkpoints) = view.checkpoints() {
        for (name, _) in checkpoints.iter().take(16) {
            let _ = view.checkpoint(name.as_bytes());
        }
    }
    drop(words);
});
