//! The reading half of `EventSrv\Native`: entities, streams, events, positions and checkpoints,
//! straight from the shared mapping, plus the futex waits on the region's positions.
//!
//! Must never: talk to the daemon, or sleep without a bound.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use eventsrv_format::futex;
use eventsrv_format::limits::EVENTS_PER_READ_MAX;
use eventsrv_format::region::{EntityRef, RegionState, RegionView};
use ext_php_rs::types::Zval;
use ext_php_rs::zend::ClassEntry;

use crate::decode::{self, PropertyPlan, Source, What};
use crate::engine::{self, ArrayBuilder};
use crate::entity_classes;
use crate::events::EventBuilder;
use crate::exceptions::{ExtError, ExtResult};
use crate::mapping::{self, Mapping};

/// Longest single futex sleep: a waiter re-checks which file is current at least this often, so
/// a daemon restart (which supersedes the file it sleeps on) cannot leave it asleep for long.
const WAIT_SLICE_MAX: Duration = Duration::from_secs(1);

pub fn find(class: &[u8], uuid: &[u8]) -> ExtResult<Zval> {
    let mapping = mapping::current()?;
    let view = mapping.view();
    let class = entity_classes::get(engine::normalize_class(class));
    let Some(index) = class.region_index(&mapping)? else {
        return Ok(engine::null());
    };
    let Some(entity) = view
        .find_entity(index, uuid)
        .map_err(|e| mapping.error(e))?
    else {
        return Ok(engine::null());
    };
    let entry = class.entry()?;
    class.with_plan(entry, |plan| {
        entity_object(entry, class.name(), &entity, plan)
    })
}

pub fn all(class: &[u8]) -> ExtResult<Zval> {
    let mapping = mapping::current()?;
    let view = mapping.view();
    let class = entity_classes::get(engine::normalize_class(class));
    let Some(index) = class.region_index(&mapping)? else {
        return Ok(ArrayBuilder::with_capacity(0).into_zval());
    };
    let count = view.entity_count(index).map_err(|e| mapping.error(e))?;
    let entry = class.entry()?;
    let mut list = ArrayBuilder::with_capacity(count.min(u32::MAX as u64) as u32);
    class.with_plan(entry, |plan| {
        for entity in view.entities(index).map_err(|e| mapping.error(e))? {
            let entity = entity.map_err(|e| mapping.error(e))?;
            list.push(entity_object(entry, class.name(), &entity, plan)?);
        }
        Ok::<(), ExtError>(())
    })?;
    Ok(list.into_zval())
}

pub fn count(class: &[u8]) -> ExtResult<i64> {
    let mapping = mapping::current()?;
    let class = entity_classes::get(engine::normalize_class(class));
    match class.region_index(&mapping)? {
        Some(index) => Ok(mapping
            .view()
            .entity_count(index)
            .map_err(|e| mapping.error(e))? as i64),
        None => Ok(0),
    }
}

fn entity_object(
    entry: &ClassEntry,
    class: &[u8],
    entity: &EntityRef<'_>,
    plan: &mut PropertyPlan,
) -> ExtResult<Zval> {
    let what = What::Entity {
        class,
        uuid: entity.uuid,
    };
    let source = Source {
        what,
        from_region: true,
    };
    let mut object = decode::instantiate(entry, &source)?;
    decode::hydrate(&mut object, entry, entity.data, &source, plan)?;
    Ok(engine::object(object))
}

pub fn stream_version(stream: &[u8]) -> ExtResult<i64> {
    let mapping = mapping::current()?;
    Ok(mapping
        .view()
        .stream_version(stream)
        .map_err(|e| mapping.error(e))? as i64)
}

pub fn stream_events(stream: &[u8], after_version: i64) -> ExtResult<Zval> {
    let mapping = mapping::current()?;
    let view = mapping.view();
    let mut found = Vec::new();
    view.stream_events(stream, after_version.max(0) as u64, &mut found)
        .map_err(|e| mapping.error(e))?;
    let mut builder = EventBuilder::new();
    let mut list = ArrayBuilder::with_capacity(found.len().min(u32::MAX as usize) as u32);
    for event in &found {
        list.push(builder.build(event)?);
    }
    Ok(list.into_zval())
}

pub fn events_after(position: i64, limit: i64) -> ExtResult<Zval> {
    let mapping = mapping::current()?;
    let view = mapping.view();
    let first = position.max(0) as u64 + 1;
    let limit = limit.clamp(0, EVENTS_PER_READ_MAX as i64) as u64;
    let last = view
        .committed_position()
        .min(first.saturating_add(limit).saturating_sub(1));
    let mut builder = EventBuilder::new();
    let mut list = ArrayBuilder::with_capacity(last.saturating_sub(first).saturating_add(1) as u32);
    for at in first..=last {
        match view.event_at(at).map_err(|e| mapping.error(e))? {
            Some(event) => list.push(builder.build(&event)?),
            None => break,
        }
    }
    Ok(list.into_zval())
}

/// Sleep until `ready(view)` holds or the timeout ends; returns the last mapping seen.
fn wait_until(
    timeout_ms: i64,
    seq_word: for<'v> fn(&RegionView<'v>) -> &'v AtomicU32,
    ready: impl Fn(&RegionView<'_>) -> bool,
) -> ExtResult<std::rc::Rc<Mapping>> {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms.max(0) as u64);
    loop {
        mapping::recheck_path();
        let mapping = mapping::current()?;
        let view = mapping.view();
        let word = seq_word(&view);
        // Load the futex word before checking the position: a publish after our check bumps
        // the word, so the wait below returns at once instead of missing the wake-up.
        let seq = word.load(Ordering::Acquire);
        if ready(&view) {
            return Ok(mapping);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(mapping);
        }
        futex::wait(word, seq, left.min(WAIT_SLICE_MAX));
    }
}

pub fn wait_for_events(after_position: i64, timeout_ms: i64) -> ExtResult<i64> {
    let after = after_position.max(0) as u64;
    let mapping = wait_until(
        timeout_ms,
        |view| view.commit_seq(),
        |view| view.committed_position() > after,
    )?;
    Ok(mapping.view().committed_position() as i64)
}

pub fn wait_for_projection(position: i64, timeout_ms: i64) -> ExtResult<bool> {
    let target = position.max(0) as u64;
    let mapping = wait_until(
        timeout_ms,
        |view| view.projected_seq(),
        |view| view.projected_position() >= target,
    )?;
    Ok(mapping.view().projected_position() >= target)
}

pub fn positions() -> ExtResult<Zval> {
    let mapping = mapping::current()?;
    let header = mapping.view().header();
    let mut out = ArrayBuilder::with_capacity(8);
    out.insert_str("committed", engine::long(header.committed_position as i64));
    out.insert_str("projected", engine::long(header.projected_position as i64));
    out.insert_str("generation", engine::long(header.generation as i64));
    out.insert_str("workers", engine::long(i64::from(header.workers_attached)));
    out.insert_str("daemon_pid", engine::long(i64::from(header.daemon_pid)));
    out.insert_str("state", engine::bytes(state_name(header.state).as_bytes()));
    Ok(out.into_zval())
}

pub fn state_name(state: RegionState) -> &'static str {
    match state {
        RegionState::Building => "building",
        RegionState::Live => "live",
        RegionState::Superseded => "superseded",
    }
}

pub fn checkpoint(name: &[u8]) -> ExtResult<i64> {
    let mapping = mapping::current()?;
    Ok(mapping
        .view()
        .checkpoint(name)
        .map_err(|e| mapping.error(e))?
        .unwrap_or(0) as i64)
}

pub fn checkpoints() -> ExtResult<Zval> {
    let mapping = mapping::current()?;
    let all = mapping.view().checkpoints().map_err(|e| mapping.error(e))?;
    let mut out = ArrayBuilder::with_capacity(all.len() as u32);
    for (name, position) in all {
        out.insert(
            engine::Key::Str(name.as_bytes()),
            engine::long(position as i64),
        );
    }
    Ok(out.into_zval())
}
