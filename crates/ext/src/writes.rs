//! The writing half of `EventSrv\Native`: appends, projector commits and daemon status, each
//! one request over this process's connection.
//!
//! Owns: turning PHP arguments into protocol requests (checked before anything is sent) and
//! responses into the arrays of docs/extension.md.
//! Must never: send a request built from arguments that failed a check.

use eventsrv_format::limits::EXPECTED_VERSION_ANY;
use eventsrv_format::protocol::{CheckpointMove, EntityChange, Request, Response};
use ext_php_rs::types::{ZendCallable, ZendHashTable, Zval};

use crate::client;
use crate::encode::{self, lossy};
use crate::engine::{self, ArrayBuilder};
use crate::events;
use crate::exceptions::{ExtError, ExtResult};
use crate::mapping;

pub fn append(
    stream: &[u8],
    expected_version: i64,
    events: &ZendHashTable,
    metadata: &ZendHashTable,
) -> ExtResult<Zval> {
    let expected = match expected_version {
        -1 => EXPECTED_VERSION_ANY,
        version if version >= 0 => version as u64,
        other => {
            return Err(ExtError::InvalidArgument(format!(
                "append(): expected version {other} is neither a version (>= 0) nor -1 (no check)"
            )))
        }
    };
    let mut list = Vec::with_capacity(events.len());
    let mut builder = events::NewEventBuilder::new();
    let mut index = 0usize;
    engine::for_each(events, |_, event| {
        let meta = metadata.get_index(index as i64);
        let event = builder.build(index, event, meta, list.last())?;
        list.push(event);
        index += 1;
        Ok(())
    })?;
    let request = Request::Append {
        stream: text(stream),
        expected_version: expected,
        events: list,
    };
    let mut out = ArrayBuilder::with_capacity(4);
    match client::check_not_error(client::request(&request)?)? {
        Response::Appended {
            first_position,
            last_position,
            stream_version,
        } => {
            // Interned keys (the userland's own literals): no key string allocated per call.
            let key = engine::shared_str;
            out.add_new(&key(b"first_position"), engine::long(first_position as i64));
            out.add_new(&key(b"last_position"), engine::long(last_position as i64));
            out.add_new(&key(b"version"), engine::long(stream_version as i64));
            // What persist() needs next (whether to wait for a projector), read here from the
            // mapped header instead of a second call building the whole positions() array.
            if let Ok(mapping) = mapping::current() {
                let workers = mapping.view().header().workers_attached;
                out.add_new(&key(b"workers"), engine::long(i64::from(workers)));
            }
        }
        Response::Conflict {
            expected_version,
            actual_version,
            ..
        } => {
            let shown = if expected_version == EXPECTED_VERSION_ANY {
                -1
            } else {
                expected_version as i64
            };
            out.insert_str("conflict", engine::bool_value(true));
            out.insert_str("expected", engine::long(shown));
            out.insert_str("actual", engine::long(actual_version as i64));
        }
        other => return Err(unexpected("append", &other)),
    }
    Ok(out.into_zval())
}

pub fn commit(
    changes: &ZendHashTable,
    checkpoints: &ZendHashTable,
    projected_position: Option<i64>,
) -> ExtResult<Zval> {
    let mut change_list = Vec::with_capacity(changes.len());
    let mut index = 0usize;
    engine::for_each(changes, |_, change| {
        change_list.push(entity_change(index, change)?);
        index += 1;
        Ok(())
    })?;
    let mut moves = Vec::with_capacity(checkpoints.len());
    index = 0;
    engine::for_each(checkpoints, |_, entry| {
        let bad = || {
            ExtError::InvalidArgument(format!(
                "commit(): checkpoints[{index}] must be [string \\$name, int \\$expected, int \\$position]"
            ))
        };
        let entry = engine::deref(entry).array().ok_or_else(bad)?;
        let name = string_at(entry, 0).ok_or_else(bad)?;
        let expected = int_at(entry, 1).filter(|v| *v >= 0).ok_or_else(bad)?;
        let position = int_at(entry, 2).filter(|v| *v >= 0).ok_or_else(bad)?;
        moves.push(CheckpointMove {
            name: text(name),
            expected: expected as u64,
            position: position as u64,
        });
        index += 1;
        Ok(())
    })?;
    let request = Request::Commit {
        checkpoints: moves,
        projected_position: projected_position.map(|p| p.max(0) as u64),
        changes: change_list,
    };
    let mut out = ArrayBuilder::with_capacity(4);
    match client::check_not_error(client::request(&request)?)? {
        Response::Committed { position } => {
            out.insert_str("position", engine::long(position as i64));
        }
        Response::CheckpointConflict {
            name,
            expected,
            actual,
        } => {
            out.insert_str("checkpoint_conflict", engine::bool_value(true));
            out.insert_str("name", engine::bytes(name.as_bytes()));
            out.insert_str("expected", engine::long(expected as i64));
            out.insert_str("actual", engine::long(actual as i64));
        }
        other => return Err(unexpected("commit", &other)),
    }
    Ok(out.into_zval())
}

fn entity_change(index: usize, change: &Zval) -> ExtResult<EntityChange> {
    let bad = |why: &str| {
        ExtError::InvalidArgument(format!(
            "commit(): changes[{index}] {why}; expected ['upsert', \\$class, \\$uuid, \\$entity, \
             \\$position], ['delete', \\$class, \\$uuid], ['reset', \\$class] or ['swap', \\$class, \\$shadow]"
        ))
    };
    let change = engine::deref(change)
        .array()
        .ok_or_else(|| bad("is not an array"))?;
    let op = string_at(change, 0).ok_or_else(|| bad("has no operation"))?;
    let class = string_at(change, 1)
        .map(|c| text(engine::normalize_class(c)))
        .ok_or_else(|| bad("has no class"))?;
    match op {
        b"upsert" => {
            let uuid = string_at(change, 2).ok_or_else(|| bad("has no uuid"))?;
            let entity = change
                .get_index(3)
                .and_then(|value| engine::deref(value).object())
                .ok_or_else(|| bad("has no entity object"))?;
            let position = int_at(change, 4)
                .filter(|p| *p >= 0)
                .ok_or_else(|| bad("has no position"))?;
            let data = encode::encode_public_properties(entity)?;
            Ok(EntityChange::Upsert {
                class,
                uuid: text(uuid),
                data,
                position: position as u64,
            })
        }
        b"delete" => {
            let uuid = string_at(change, 2).ok_or_else(|| bad("has no uuid"))?;
            Ok(EntityChange::Delete {
                class,
                uuid: text(uuid),
            })
        }
        b"reset" => Ok(EntityChange::ResetClass { class }),
        b"swap" => {
            let shadow = string_at(change, 2)
                .map(|c| text(engine::normalize_class(c)))
                .ok_or_else(|| bad("has no shadow class"))?;
            Ok(EntityChange::SwapClass { class, shadow })
        }
        other => Err(bad(&format!(
            "has the unknown operation '{}'",
            lossy(other)
        ))),
    }
}

pub fn attach_worker() -> ExtResult<()> {
    client::attach_worker()
}

pub fn status() -> ExtResult<Zval> {
    match client::check_not_error(client::request(&Request::Status)?)? {
        Response::Status { json } => {
            let decoded = ZendCallable::try_from_name("json_decode")
                .ok()
                .and_then(|decode| decode.try_call(vec![&json.as_str(), &true]).ok())
                .filter(|value| value.is_array());
            Ok(decoded.unwrap_or_else(|| {
                let mut raw = ArrayBuilder::with_capacity(1);
                raw.insert_str("json", engine::bytes(json.as_bytes()));
                raw.into_zval()
            }))
        }
        other => Err(unexpected("status", &other)),
    }
}

pub fn ping() -> bool {
    matches!(client::request(&Request::Ping), Ok(Response::Pong))
}

fn unexpected(what: &str, response: &Response) -> ExtError {
    ExtError::Daemon {
        code: 0,
        message: format!("the daemon answered {what} with {response:?}"),
    }
}

fn string_at(table: &ZendHashTable, index: i64) -> Option<&[u8]> {
    table
        .get_index(index)
        .and_then(|value| engine::deref(value).zend_str())
        .map(|s| s.as_bytes())
}

fn int_at(table: &ZendHashTable, index: i64) -> Option<i64> {
    table
        .get_index(index)
        .and_then(|value| engine::deref(value).long())
}

fn text(bytes: &[u8]) -> String {
    // The validity check alone is a fraction of the lossy walk, and names are valid UTF-8.
    match std::str::from_utf8(bytes) {
        Ok(valid) => valid.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}
