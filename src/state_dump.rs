//! Everything a state region holds, read through the format crate's reader into plain values
//! that compare with `==`: positions, every event, every stream's version (looked up through the
//! stream index and walked through its chain), every class's entities in insertion order with
//! their data bytes, and the checkpoints.
//!
//! Tests use it to prove that a region booted from a surviving file or a snapshot plus the log
//! tail equals a fresh full replay of the same log ([`first_difference`] names where they
//! differ); operators can use it to compare two region files.
//! Must never: write to the region; every read goes through `RegionView`, which bounds-checks.

use eventsrv_format::region::{MappedRegion, RegionError, RegionView};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateDump {
    pub committed_position: u64,
    pub projected_position: u64,
    /// The header's counters.
    pub stream_count: u64,
    pub entity_count: u64,
    /// Events 1..=committed position, in order.
    pub events: Vec<EventDump>,
    /// stream id → version, from the stream index (not from the events list).
    pub streams: BTreeMap<Vec<u8>, u64>,
    /// Classes in class-index order.
    pub classes: Vec<ClassDump>,
    /// Checkpoints in creation order.
    pub checkpoints: Vec<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventDump {
    pub position: u64,
    pub stream: Vec<u8>,
    pub stream_version: u64,
    pub event_type: Vec<u8>,
    pub event_id: [u8; 16],
    pub recorded_at_us: i64,
    pub metadata: Vec<u8>,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassDump {
    pub name: String,
    pub live_count: u64,
    /// Live entities in insertion order.
    pub entities: Vec<EntityDump>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityDump {
    pub uuid: Vec<u8>,
    pub data: Vec<u8>,
    pub position: u64,
}

/// Dump the region file at `path` (mapped read-only).
pub fn dump_file(path: &Path) -> Result<StateDump, RegionError> {
    let mapped = MappedRegion::open(path)?;
    dump_view(&mapped.view())
}

/// Dump what `view` shows now. Meant for a region nobody writes at the moment (a stopped
/// daemon, or between requests in a test); a concurrent writer makes it a mix of moments.
pub fn dump_view(view: &RegionView<'_>) -> Result<StateDump, RegionError> {
    let header = view.header();
    let mut events = Vec::with_capacity(header.committed_position as usize);
    let mut streams = BTreeMap::new();
    for position in 1..=header.committed_position {
        let Some(event) = view.event_at(position)? else {
            return Err(RegionError::Corrupt {
                offset: 0,
                what: format!("event {position} is missing"),
            });
        };
        streams.insert(event.stream.to_vec(), 0);
        events.push(EventDump {
            position: event.position,
            stream: event.stream.to_vec(),
            stream_version: event.stream_version,
            event_type: event.event_type.to_vec(),
            event_id: event.event_id,
            recorded_at_us: event.recorded_at_us,
            metadata: event.metadata.to_vec(),
            payload: event.payload.to_vec(),
        });
    }
    let mut chain = Vec::new();
    for (stream, version) in streams.iter_mut() {
        *version = view.stream_version(stream)?;
        chain.clear();
        view.stream_events(stream, 0, &mut chain)?;
        if chain.len() as u64 != *version {
            return Err(RegionError::Corrupt {
                offset: 0,
                what: format!(
                    "stream {:?} is at version {version} but its chain has {} events",
                    String::from_utf8_lossy(stream),
                    chain.len()
                ),
            });
        }
    }
    let mut classes = Vec::new();
    for (name, index, live_count) in view.classes()? {
        let mut entities = Vec::new();
        for entity in view.entities(index)? {
            let entity = entity?;
            entities.push(EntityDump {
                uuid: entity.uuid.to_vec(),
                data: entity.data.to_vec(),
                position: entity.position,
            });
        }
        classes.push(ClassDump {
            name,
            live_count,
            entities,
        });
    }
    Ok(StateDump {
        committed_position: header.committed_position,
        projected_position: header.projected_position,
        stream_count: header.stream_count,
        entity_count: header.entity_count,
        events,
        streams,
        classes,
        checkpoints: view.checkpoints()?,
    })
}

/// The first place where two dumps differ, in words (None if equal). A full `Debug` diff of two
/// large dumps is unreadable; this names the position, stream, class or entity.
pub fn first_difference(left: &StateDump, right: &StateDump) -> Option<String> {
    let scalar = |what: &str, a: u64, b: u64| (a != b).then(|| format!("{what}: {a} vs {b}"));
    let found = scalar(
        "committed position",
        left.committed_position,
        right.committed_position,
    )
    .or_else(|| {
        scalar(
            "projected position",
            left.projected_position,
            right.projected_position,
        )
    })
    .or_else(|| scalar("stream count", left.stream_count, right.stream_count))
    .or_else(|| scalar("entity count", left.entity_count, right.entity_count));
    if found.is_some() {
        return found;
    }
    if let Some((a, b)) = left.events.iter().zip(&right.events).find(|(a, b)| a != b) {
        return Some(format!("event at position {}: {a:?} vs {b:?}", a.position));
    }
    if left.streams != right.streams {
        let stream = left
            .streams
            .iter()
            .find(|(stream, version)| right.streams.get(*stream) != Some(version))
            .or_else(|| {
                right
                    .streams
                    .iter()
                    .find(|(stream, _)| !left.streams.contains_key(*stream))
            })
            .map(|(stream, _)| String::from_utf8_lossy(stream).into_owned());
        return Some(format!("stream versions differ (first: {stream:?})"));
    }
    if left.classes.len() != right.classes.len() {
        return Some(format!(
            "{} classes vs {}",
            left.classes.len(),
            right.classes.len()
        ));
    }
    for (a, b) in left.classes.iter().zip(&right.classes) {
        if a.name != b.name || a.live_count != b.live_count {
            return Some(format!(
                "class {} ({} live) vs class {} ({} live)",
                a.name, a.live_count, b.name, b.live_count
            ));
        }
        if let Some((x, y)) = a.entities.iter().zip(&b.entities).find(|(x, y)| x != y) {
            return Some(format!("class {}: entity {x:?} vs {y:?}", a.name));
        }
        if a.entities.len() != b.entities.len() {
            return Some(format!(
                "class {}: {} entities vs {}",
                a.name,
                a.entities.len(),
                b.entities.len()
            ));
        }
    }
    if left.checkpoints != right.checkpoints {
        return Some(format!(
            "checkpoints {:?} vs {:?}",
            left.checkpoints, right.checkpoints
        ));
    }
    None
}
