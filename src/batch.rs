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
    encoded_len, CommitRecord, EventRecord, LogRecord, FRAME_PREFIX_BYTES,
};
use eventsrv_format::protocol::{CheckpointMove, EntityChange, ErrorCode, NewEvent, Response};
use eventsrv_format::vtree;
use std::collections::VecDeque;

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

/// Stream versions or checkpoints by name. foldhash, not the std SipHash: these maps are hashed
/// a few times per request on the writer thread (SipHash was ~15% of its instructions), and
/// foldhash keeps a per-process random seed, so a client cannot pick colliding stream ids
/// offline.
type ByName = foldhash::HashMap<String, u64>;

/// Emptied [`BatchEffects`] kept for the next plans, so a batch allocates no maps.
const SPARE_EFFECTS_MAX: usize = 4;

/// What the batches written but not yet applied to the region will change: each batch's
/// [`BatchEffects`], in log order (so applying a batch forgets exactly what the region now holds,
/// with no per-key work). Planning looks them up newest first; few batches are ever unapplied
/// (one being synced, one durable being applied).
#[derive(Debug, Default)]
pub struct Unapplied {
    batches: VecDeque<(u64, BatchEffects)>,
    reserved_bytes: u64,
    spare: Vec<BatchEffects>,
}

/// What one planned batch changes, handed to [`Unapplied::add`] once it is written.
#[derive(Debug, Default)]
pub struct BatchEffects {
    stream_versions: ByName,
    checkpoints: ByName,
    reserved_bytes: u64,
}

impl BatchEffects {
    fn is_empty(&self) -> bool {
        self.stream_versions.is_empty() && self.checkpoints.is_empty() && self.reserved_bytes == 0
    }
}

impl Unapplied {
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty() && self.reserved_bytes == 0
    }

    /// Batch `batch` was written: later plans see its versions and its reserved room.
    pub fn add(&mut self, batch: u64, effects: BatchEffects) {
        if let Some((last, _)) = self.batches.back() {
            assert!(*last < batch, "batches are written in order");
        }
        self.reserved_bytes += effects.reserved_bytes;
        self.batches.push_back((batch, effects));
    }

    /// Batch `batch` is applied to the region: forget what the region now answers itself.
    /// Batches are applied in log order, so it is the oldest unapplied one.
    pub fn remove(&mut self, batch: u64) {
        let (oldest, effects) = self
            .batches
            .pop_front()
            .expect("a batch is applied once, after it was added");
        assert_eq!(oldest, batch, "batches are applied in log order");
        assert!(
            self.reserved_bytes >= effects.reserved_bytes,
            "room is released once, by the batch that reserved it"
        );
        self.reserved_bytes -= effects.reserved_bytes;
        self.recycle(effects);
    }

    /// Empty maps (with their room) for the next plan.
    pub fn spare_effects(&mut self) -> BatchEffects {
        self.spare.pop().unwrap_or_default()
    }

    /// Keep `effects` (of an applied batch, or a plan that wrote nothing) for a later plan.
    pub fn recycle(&mut self, mut effects: BatchEffects) {
        if self.spare.len() < SPARE_EFFECTS_MAX {
            effects.stream_versions.clear();
            effects.checkpoints.clear();
            effects.reserved_bytes = 0;
            self.spare.push(effects);
        }
    }

    /// The version of `stream` after the newest batch not yet applied that wrote it, if any.
    pub fn stream_version(&self, stream: &str) -> Option<u64> {
        self.batches
            .iter()
            .rev()
            .find_map(|(_, effects)| effects.stream_versions.get(stream).copied())
    }

    fn checkpoint(&self, name: &str) -> Option<u64> {
        self.batches
            .iter()
            .rev()
            .find_map(|(_, effects)| effects.checkpoints.get(name).copied())
    }
}

/// The records of one batch and the versions they lead to.
pub struct BatchPlan<'a> {
    pub records: Vec<LogRecord>,
    unapplied: &'a Unapplied,
    recorded_at_us: i64,
    last_position: u64,
    last_commit_position: u64,
    effects: BatchEffects,
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
    /// A plan on top of `unapplied`, recording what it changes into `effects` (empty: see
    /// [`Unapplied::spare_effects`]).
    pub fn new(
        unapplied: &'a Unapplied,
        effects: BatchEffects,
        last_position: u64,
        last_commit_position: u64,
        recorded_at_us: i64,
    ) -> BatchPlan<'a> {
        assert!(effects.is_empty(), "a plan starts from empty effects");
        BatchPlan {
            records: Vec::new(),
            unapplied,
            recorded_at_us,
            last_position,
            last_commit_position,
            effects,
        }
    }

    /// The records to write and what they change.
    pub fn finish(self) -> (Vec<LogRecord>, BatchEffects) {
        (self.records, self.effects)
    }

    pub fn last_position(&self) -> u64 {
        self.last_position
    }

    fn stream_version<S: StateStore>(&self, state: &S, stream: &str) -> u64 {
        self.effects
            .stream_versions
            .get(stream)
            .copied()
            .or_else(|| self.unapplied.stream_version(stream))
            .unwrap_or_else(|| state.stream_version(stream))
    }

    fn checkpoint<S: StateStore>(&self, state: &S, name: &str) -> u64 {
        self.effects
            .checkpoints
            .get(name)
            .copied()
            .or_else(|| self.unapplied.checkpoint(name))
            .unwrap_or_else(|| state.checkpoint(name))
    }

    fn reserve<S: StateStore>(&mut self, state: &S, bytes: u64) -> Result<(), Planned> {
        let total = self.effects.reserved_bytes.saturating_add(bytes);
        // Room reserved by unapplied batches is not yet used in the region.
        let with_unapplied = total.saturating_add(self.unapplied.reserved_bytes);
        state.ensure_room(with_unapplied).map_err(|e| {
            Planned::Refused(Response::Error {
                code: ErrorCode::RegionFull,
                message: e.to_string(),
            })
        })?;
        self.effects.reserved_bytes = total;
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
            // validate_append checked what assert_event_valid does (lengths, value trees; the
            // version is at least 1); encode_record asserts it again before the write.
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
        self.effects.stream_versions.insert(stream, stream_version);
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
                self.effects.checkpoints.insert(name.clone(), *position);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryState;
    use eventsrv_format::vtree;

    fn event() -> NewEvent {
        let mut tree = vtree::Encoder::new();
        tree.begin_map(0);
        let tree = tree.into_bytes();
        NewEvent {
            event_id: [1; 16],
            event_type: "Deposited".into(),
            metadata: tree.clone(),
            payload: tree,
        }
    }

    /// Plan one append of one event to `stream` expecting `expected` on top of `unapplied`.
    fn plan_append(
        unapplied: &mut Unapplied,
        state: &MemoryState,
        stream: &str,
        expected: u64,
    ) -> (Planned, BatchEffects) {
        let effects = unapplied.spare_effects();
        let mut plan = BatchPlan::new(unapplied, effects, 0, 0, 0);
        let planned = plan.append(state, stream.into(), expected, vec![event()]);
        let (_, effects) = plan.finish();
        (planned, effects)
    }

    #[test]
    fn plans_see_unapplied_batches_newest_first_until_each_is_applied() {
        let state = MemoryState::default();
        let mut unapplied = Unapplied::default();
        let (planned, effects) = plan_append(&mut unapplied, &state, "a", 0);
        assert!(matches!(
            planned,
            Planned::Appended {
                stream_version: 1,
                ..
            }
        ));
        unapplied.add(1, effects);
        let (planned, effects) = plan_append(&mut unapplied, &state, "a", 1);
        assert!(matches!(
            planned,
            Planned::Appended {
                stream_version: 2,
                ..
            }
        ));
        unapplied.add(2, effects);
        // Batch 2 is newest: a plan expecting batch 1's version conflicts.
        let (planned, effects) = plan_append(&mut unapplied, &state, "a", 1);
        assert!(matches!(
            planned,
            Planned::Refused(Response::Conflict {
                actual_version: 2,
                ..
            })
        ));
        unapplied.recycle(effects);
        unapplied.remove(1);
        unapplied.remove(2);
        assert!(unapplied.is_empty());
        // Applied: the (here unchanged) state answers again.
        let (planned, _) = plan_append(&mut unapplied, &state, "a", 0);
        assert!(matches!(
            planned,
            Planned::Appended {
                stream_version: 1,
                ..
            }
        ));
    }

    #[test]
    fn recycled_effects_come_back_empty_and_the_spares_are_bounded() {
        let state = MemoryState::default();
        let mut unapplied = Unapplied::default();
        for batch in 1..=(SPARE_EFFECTS_MAX as u64 + 2) {
            let (_, effects) = plan_append(&mut unapplied, &state, "a", EXPECTED_VERSION_ANY);
            unapplied.add(batch, effects);
        }
        for batch in 1..=(SPARE_EFFECTS_MAX as u64 + 2) {
            unapplied.remove(batch);
        }
        assert_eq!(unapplied.spare.len(), SPARE_EFFECTS_MAX);
        assert!(unapplied.spare_effects().is_empty());
    }

    #[test]
    #[should_panic(expected = "batches are applied in log order")]
    fn applying_out_of_log_order_is_a_bug() {
        let state = MemoryState::default();
        let mut unapplied = Unapplied::default();
        for batch in 1..=2 {
            let (_, effects) = plan_append(&mut unapplied, &state, "a", EXPECTED_VERSION_ANY);
            unapplied.add(batch, effects);
        }
        unapplied.remove(2);
    }
}
