//! Planning one group commit: every request of a batch checked against the state, the batches
//! written but not yet applied ([`Unapplied`]: their fdatasync is still running), *and* the
//! earlier requests of the same batch; positions assigned, region room reserved.
//!
//! Owns: request validation (lengths, counts, value trees, record size), optimistic
//! concurrency (expected stream versions, expected checkpoints), the records to write, and what
//! unapplied batches did to versions, checkpoints and region room.
//! Must never: touch the log or mutate the state; a refused request leaves no trace in the plan.

use crate::state::StateStore;
use eventsrv_format::limits::{
    CHANGES_PER_COMMIT_MAX, CHECKPOINTS_PER_COMMIT_MAX, EVENTS_PER_APPEND_MAX,
    EXPECTED_VERSION_ANY, KEY_BYTES_MAX, RECORD_BYTES_MAX, STREAM_ID_BYTES_MAX,
    TYPE_NAME_BYTES_MAX,
};
use eventsrv_format::log_record::{
    assert_event_valid, encoded_len, CommitRecord, EventRecord, LogRecord, FRAME_PREFIX_BYTES,
};
use eventsrv_format::protocol::{CheckpointMove, EntityChange, ErrorCode, NewEvent, Response};
use eventsrv_format::vtree;
use std::collections::HashMap;

/// What a planned request will be answered once the batch is durable.
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    /// Answer now: nothing of this request is written (conflict, invalid, region full).
    Refused(Response),
    Appended {
        first_position: u64,
        last_position: u64,
        stream_version: u64,
    },
    Committed {
        position: u64,
    },
}

/// What the batches written but not yet applied to the region will change, keyed by the batch
/// that changed it last (so applying a batch forgets exactly what the region now holds).
#[derive(Debug, Default)]
pub struct Unapplied {
    stream_versions: HashMap<String, (u64, u64)>,
    checkpoints: HashMap<String, (u64, u64)>,
    reserved_bytes: u64,
}

/// What one planned batch changes, handed to [`Unapplied::add`] once it is written.
#[derive(Debug, Default)]
pub struct BatchEffects {
    stream_versions: HashMap<String, u64>,
    checkpoints: HashMap<String, u64>,
    reserved_bytes: u64,
}

/// Keys to forget once the batch is applied (see [`Unapplied::remove`]).
#[derive(Debug, Default)]
pub struct AppliedKeys {
    streams: Vec<String>,
    checkpoints: Vec<String>,
    reserved_bytes: u64,
}

impl Unapplied {
    pub fn is_empty(&self) -> bool {
        self.stream_versions.is_empty() && self.checkpoints.is_empty() && self.reserved_bytes == 0
    }

    /// Batch `batch` was written: later plans see its versions and its reserved room.
    pub fn add(&mut self, batch: u64, effects: BatchEffects) -> AppliedKeys {
        let mut keys = AppliedKeys {
            reserved_bytes: effects.reserved_bytes,
            ..AppliedKeys::default()
        };
        for (stream, version) in effects.stream_versions {
            keys.streams.push(stream.clone());
            self.stream_versions.insert(stream, (version, batch));
        }
        for (name, position) in effects.checkpoints {
            keys.checkpoints.push(name.clone());
            self.checkpoints.insert(name, (position, batch));
        }
        self.reserved_bytes += effects.reserved_bytes;
        keys
    }

    /// Batch `batch` is applied to the region: forget what the region now answers itself
    /// (unless a later unapplied batch changed it again).
    pub fn remove(&mut self, batch: u64, keys: AppliedKeys) {
        for stream in keys.streams {
            if self.stream_versions.get(&stream).map(|(_, b)| *b) == Some(batch) {
                self.stream_versions.remove(&stream);
            }
        }
        for name in keys.checkpoints {
            if self.checkpoints.get(&name).map(|(_, b)| *b) == Some(batch) {
                self.checkpoints.remove(&name);
            }
        }
        assert!(
            self.reserved_bytes >= keys.reserved_bytes,
            "room is released once, by the batch that reserved it"
        );
        self.reserved_bytes -= keys.reserved_bytes;
    }
}

/// The records of one batch and the versions they lead to.
pub struct BatchPlan<'a> {
    pub records: Vec<LogRecord>,
    unapplied: &'a Unapplied,
    recorded_at_us: i64,
    last_position: u64,
    last_commit_position: u64,
    stream_versions: HashMap<String, u64>,
    checkpoints: HashMap<String, u64>,
    reserved_bytes: u64,
}

fn invalid(message: String) -> Planned {
    Planned::Refused(Response::Error {
        code: ErrorCode::InvalidEvent,
        message,
    })
}

fn check_len(what: &str, len: usize, max: usize) -> Result<(), String> {
    if len == 0 || len > max {
        return Err(format!("{what} of {len} bytes (must be 1..={max})"));
    }
    Ok(())
}

impl<'a> BatchPlan<'a> {
    pub fn new(
        unapplied: &'a Unapplied,
        last_position: u64,
        last_commit_position: u64,
        recorded_at_us: i64,
    ) -> BatchPlan<'a> {
        BatchPlan {
            records: Vec::new(),
            unapplied,
            recorded_at_us,
            last_position,
            last_commit_position,
            stream_versions: HashMap::new(),
            checkpoints: HashMap::new(),
            reserved_bytes: 0,
        }
    }

    /// The records to write and what they change.
    pub fn finish(self) -> (Vec<LogRecord>, BatchEffects) {
        let effects = BatchEffects {
            stream_versions: self.stream_versions,
            checkpoints: self.checkpoints,
            reserved_bytes: self.reserved_bytes,
        };
        (self.records, effects)
    }

    pub fn last_position(&self) -> u64 {
        self.last_position
    }

    fn stream_version<S: StateStore>(&self, state: &S, stream: &str) -> u64 {
        self.stream_versions
            .get(stream)
            .copied()
            .or_else(|| self.unapplied.stream_versions.get(stream).map(|(v, _)| *v))
            .unwrap_or_else(|| state.stream_version(stream))
    }

    fn checkpoint<S: StateStore>(&self, state: &S, name: &str) -> u64 {
        self.checkpoints
            .get(name)
            .copied()
            .or_else(|| self.unapplied.checkpoints.get(name).map(|(p, _)| *p))
            .unwrap_or_else(|| state.checkpoint(name))
    }

    fn reserve<S: StateStore>(&mut self, state: &S, bytes: u64) -> Result<(), Planned> {
        let total = self.reserved_bytes.saturating_add(bytes);
        // Room reserved by unapplied batches is not yet used in the region.
        let with_unapplied = total.saturating_add(self.unapplied.reserved_bytes);
        state.ensure_room(with_unapplied).map_err(|e| {
            Planned::Refused(Response::Error {
                code: ErrorCode::RegionFull,
                message: e.to_string(),
            })
        })?;
        self.reserved_bytes = total;
        Ok(())
    }

    pub fn append<S: StateStore>(
        &mut self,
        state: &S,
        stream: String,
        expected_version: u64,
        events: Vec<NewEvent>,
    ) -> Planned {
        if let Err(why) = validate_append(&stream, &events) {
            return invalid(why);
        }
        let current = self.stream_version(state, &stream);
        if expected_version != EXPECTED_VERSION_ANY && expected_version != current {
            return Planned::Refused(Response::Conflict {
                stream,
                expected_version,
                actual_version: current,
            });
        }
        let first_position = self.last_position + 1;
        let mut records = Vec::with_capacity(events.len());
        let mut region_bytes = 0u64;
        for (i, new) in events.into_iter().enumerate() {
            let event = EventRecord {
                stream: stream.clone(),
                stream_version: current + 1 + i as u64,
                event_id: new.event_id,
                event_type: new.event_type,
                recorded_at_us: self.recorded_at_us,
                metadata: new.metadata,
                payload: new.payload,
            };
            if let Err(why) = assert_event_valid(&event) {
                return invalid(format!("event {i}: {why}"));
            }
            region_bytes = region_bytes.saturating_add(state.event_bytes_bound(&event));
            let record = LogRecord::Event {
                position: first_position + i as u64,
                event,
            };
            if let Err(why) = check_record_size(&record) {
                return invalid(format!("event {i}: {why}"));
            }
            records.push(record);
        }
        if let Err(refused) = self.reserve(state, region_bytes) {
            return refused;
        }
        let count = records.len() as u64;
        let stream_version = current + count;
        self.last_position += count;
        self.stream_versions.insert(stream, stream_version);
        self.records.extend(records);
        Planned::Appended {
            first_position,
            last_position: self.last_position,
            stream_version,
        }
    }

    pub fn commit<S: StateStore>(
        &mut self,
        state: &S,
        moves: Vec<CheckpointMove>,
        projected_position: Option<u64>,
        changes: Vec<EntityChange>,
    ) -> Planned {
        if let Err(why) = validate_commit(&moves, projected_position, &changes, self.last_position)
        {
            return invalid(format!("invalid commit: {why}"));
        }
        let mut moved: Vec<(String, u64)> = Vec::with_capacity(moves.len());
        for CheckpointMove {
            name,
            expected,
            position,
        } in moves
        {
            let actual = match moved.iter().rev().find(|(n, _)| *n == name) {
                Some((_, p)) => *p,
                None => self.checkpoint(state, &name),
            };
            if expected != actual {
                return Planned::Refused(Response::CheckpointConflict {
                    name,
                    expected,
                    actual,
                });
            }
            moved.push((name, position));
        }
        let covered = moved
            .iter()
            .map(|(_, p)| *p)
            .chain(projected_position)
            .max()
            .unwrap_or(0);
        let position = self.last_commit_position.max(covered);
        assert!(
            position <= self.last_position,
            "validated: commit positions are at most the last event"
        );
        let region_bytes = changes
            .iter()
            .map(|change| state.change_bytes_bound(change))
            .chain(
                moved
                    .iter()
                    .map(|(name, _)| state.checkpoint_bytes_bound(name)),
            )
            .fold(0u64, u64::saturating_add);
        let record = LogRecord::Commit {
            position,
            commit: CommitRecord {
                checkpoints: moved,
                projected_position,
                changes,
            },
        };
        if let Err(why) = check_record_size(&record) {
            return invalid(format!("invalid commit: {why}"));
        }
        if let Err(refused) = self.reserve(state, region_bytes) {
            return refused;
        }
        if let LogRecord::Commit { commit, .. } = &record {
            for (name, position) in &commit.checkpoints {
                self.checkpoints.insert(name.clone(), *position);
            }
        }
        self.last_commit_position = position;
        self.records.push(record);
        Planned::Committed { position }
    }
}

fn validate_append(stream: &str, events: &[NewEvent]) -> Result<(), String> {
    check_len("stream id", stream.len(), STREAM_ID_BYTES_MAX)?;
    if events.is_empty() {
        return Err("an append needs at least one event".into());
    }
    if events.len() > EVENTS_PER_APPEND_MAX {
        return Err(format!(
            "{} events in one append (at most {EVENTS_PER_APPEND_MAX})",
            events.len()
        ));
    }
    for (i, event) in events.iter().enumerate() {
        check_len("event type", event.event_type.len(), TYPE_NAME_BYTES_MAX)
            .map_err(|why| format!("event {i}: {why}"))?;
        vtree::validate(&event.metadata).map_err(|e| format!("event {i} metadata: {e}"))?;
        vtree::validate(&event.payload).map_err(|e| format!("event {i} payload: {e}"))?;
    }
    Ok(())
}

fn validate_commit(
    moves: &[CheckpointMove],
    projected_position: Option<u64>,
    changes: &[EntityChange],
    last_position: u64,
) -> Result<(), String> {
    if moves.len() > CHECKPOINTS_PER_COMMIT_MAX {
        return Err(format!(
            "{} checkpoints (at most {CHECKPOINTS_PER_COMMIT_MAX})",
            moves.len()
        ));
    }
    if changes.len() > CHANGES_PER_COMMIT_MAX {
        return Err(format!(
            "{} entity changes (at most {CHANGES_PER_COMMIT_MAX})",
            changes.len()
        ));
    }
    let beyond = |what: String, position: u64| -> Result<(), String> {
        if position > last_position {
            return Err(format!(
                "{what} {position} is beyond the last event position {last_position}"
            ));
        }
        Ok(())
    };
    if let Some(projected) = projected_position {
        beyond("projected position".into(), projected)?;
    }
    for moved in moves {
        check_len("checkpoint name", moved.name.len(), KEY_BYTES_MAX)?;
        beyond(
            format!("checkpoint {:?} position", moved.name),
            moved.position,
        )?;
    }
    for (i, change) in changes.iter().enumerate() {
        let at = |why: String| format!("change {i}: {why}");
        match change {
            EntityChange::Upsert {
                class,
                uuid,
                data,
                position,
            } => {
                check_len("class name", class.len(), TYPE_NAME_BYTES_MAX).map_err(at)?;
                check_len("entity uuid", uuid.len(), KEY_BYTES_MAX).map_err(at)?;
                vtree::validate(data).map_err(|e| at(format!("entity data: {e}")))?;
                beyond("entity position".into(), *position).map_err(at)?;
            }
            EntityChange::Delete { class, uuid } => {
                check_len("class name", class.len(), TYPE_NAME_BYTES_MAX).map_err(at)?;
                check_len("entity uuid", uuid.len(), KEY_BYTES_MAX).map_err(at)?;
            }
            EntityChange::ResetClass { class } => {
                check_len("class name", class.len(), TYPE_NAME_BYTES_MAX).map_err(at)?;
            }
            EntityChange::SwapClass { class, shadow } => {
                check_len("class name", class.len(), TYPE_NAME_BYTES_MAX).map_err(at)?;
                check_len("shadow class name", shadow.len(), TYPE_NAME_BYTES_MAX).map_err(at)?;
                if class == shadow {
                    return Err(at(format!("class {class:?} cannot be swapped with itself")));
                }
            }
        }
    }
    Ok(())
}

fn check_record_size(record: &LogRecord) -> Result<(), String> {
    let body = encoded_len(record).saturating_sub(FRAME_PREFIX_BYTES);
    if body > RECORD_BYTES_MAX {
        return Err(format!(
            "{body} bytes as a log record (at most {RECORD_BYTES_MAX})"
        ));
    }
    Ok(())
}
