//! Cells, class headers, entity records and event records: their checked decoding (reader) and
//! their encoding into freshly allocated arena bytes (writer). Layouts: docs/region.md.
//! Must never: decode a length without checking it against the record and the arena tail, or
//! write into bytes that a published pointer already reaches.

use super::layout::*;
use super::reader::{corrupt, le_u32, le_u64};
use super::{EntityRef, EventRef, RegionError, RegionView, RegionWriter};
use crate::log_record::EventRecord;
use std::sync::atomic::{AtomicU64, Ordering};

/// Event record: the stream version (u64) at this byte (docs/region.md).
pub(super) const EVENT_OFF_STREAM_VERSION: usize = 16;

/// A hash-table cell: the atomic value and the immutable kind and key.
pub(super) struct Cell<'a> {
    pub off: u64,
    pub value: &'a AtomicU64,
    pub kind: u8,
    pub key: &'a [u8],
}

pub(super) struct ClassHeader<'a> {
    pub off: u64,
    pub class_index: u32,
    pub live_count: &'a AtomicU64,
    pub name: &'a [u8],
}

/// An event record and the offset of the previous record of its stream (0 for the first).
pub(super) struct EventLink<'a> {
    pub event: EventRef<'a>,
    pub prev: u64,
}

impl<'a> RegionView<'a> {
    /// The cell at `off`, whatever its kind.
    #[inline]
    pub(super) fn cell_any(&self, off: u64) -> Result<Cell<'a>, RegionError> {
        self.arena_check(off, CELL_HEADER_BYTES, "cell")?;
        let head = self.bytes(off + 8, 8)?;
        let kind = head[0];
        let key_len = u64::from(le_u32(head, 4));
        self.arena_check(off, CELL_HEADER_BYTES + key_len, "cell key")?;
        Ok(Cell {
            off,
            value: self.atomic_u64(off)?,
            kind,
            key: self.bytes(off + CELL_HEADER_BYTES, key_len)?,
        })
    }

    /// The cell at `off`, which must be of `kind`.
    pub(super) fn cell(&self, off: u64, kind: u8) -> Result<Cell<'a>, RegionError> {
        let cell = self.cell_any(off)?;
        if cell.kind != kind {
            return corrupt(
                off,
                format!("cell of kind {} where kind {kind} belongs", cell.kind),
            );
        }
        Ok(cell)
    }

    #[inline]
    pub(super) fn class_header(&self, off: u64) -> Result<ClassHeader<'a>, RegionError> {
        self.arena_check(off, CLASS_HEADER_BYTES, "class header")?;
        let head = self.bytes(off, 8)?;
        let class_index = le_u32(head, 0);
        let name_len = u64::from(le_u32(head, 4));
        self.arena_check(off, CLASS_HEADER_BYTES + name_len, "class name")?;
        Ok(ClassHeader {
            off,
            class_index,
            live_count: self.atomic_u64(off + CLASS_OFF_LIVE_COUNT)?,
            name: self.bytes(off + CLASS_HEADER_BYTES, name_len)?,
        })
    }

    /// The record at `off` must start with `u32 record bytes, u8 kind` of `kind` and fit.
    #[inline]
    fn record_head(
        &self,
        off: u64,
        kind: u8,
        head_bytes: u64,
        what: &str,
    ) -> Result<(&'a [u8], u64), RegionError> {
        self.arena_check(off, head_bytes, what)?;
        let head = self.bytes(off, head_bytes)?;
        let record_bytes = u64::from(le_u32(head, 0));
        if head[4] != kind {
            return corrupt(
                off,
                format!("{what}: kind {} where {kind} belongs", head[4]),
            );
        }
        if record_bytes < head_bytes {
            return corrupt(
                off,
                format!("{what}: {record_bytes} record bytes, less than its header"),
            );
        }
        self.arena_check(off, record_bytes, what)?;
        Ok((head, record_bytes))
    }

    /// The entity record at `off`, reached through the cell whose key holds `uuid`.
    #[inline]
    pub(super) fn entity_record(
        &self,
        off: u64,
        uuid: &'a [u8],
    ) -> Result<EntityRef<'a>, RegionError> {
        let what = "entity record";
        let (head, record_bytes) =
            self.record_head(off, RECORD_ENTITY, ENTITY_RECORD_HEADER_BYTES, what)?;
        self.entity_in_head(off, head, record_bytes, uuid)
    }

    /// The entity of a record whose kind and `record_bytes` extent the caller checked: its data
    /// and position, with the `uuid` of the cell the caller came from (the record holds no id).
    /// One place for the part of an entity record's checks that `entity_record` and `all()`'s
    /// hot loop share.
    #[inline]
    pub(super) fn entity_in_head(
        &self,
        off: u64,
        head: &[u8],
        record_bytes: u64,
        uuid: &'a [u8],
    ) -> Result<EntityRef<'a>, RegionError> {
        let padding = u64::from(head[ENTITY_OFF_PADDING]);
        if padding > 7
            || !record_bytes.is_multiple_of(8)
            || ENTITY_RECORD_HEADER_BYTES + padding > record_bytes
        {
            return corrupt(
                off,
                format!("entity record of {record_bytes} bytes with {padding} padding bytes"),
            );
        }
        let data_len = record_bytes - ENTITY_RECORD_HEADER_BYTES - padding;
        Ok(EntityRef {
            uuid,
            data: self.bytes(off + ENTITY_RECORD_HEADER_BYTES, data_len)?,
            position: le_u64(head, ENTITY_OFF_POSITION),
        })
    }

    pub(super) fn event_record(&self, off: u64) -> Result<EventLink<'a>, RegionError> {
        let what = "event record";
        let (head, record_bytes) =
            self.record_head(off, RECORD_EVENT, EVENT_RECORD_HEADER_BYTES, what)?;
        let stream_len = u64::from(le_u32(head, 56));
        let type_len = u64::from(le_u32(head, 60));
        let metadata_len = u64::from(le_u32(head, 64));
        let payload_len = u64::from(le_u32(head, 68));
        if EVENT_RECORD_HEADER_BYTES + stream_len + type_len + metadata_len + payload_len
            > record_bytes
        {
            return corrupt(
                off,
                format!("{what}: fields overrun its {record_bytes} bytes"),
            );
        }
        let stream_off = off + EVENT_RECORD_HEADER_BYTES;
        let type_off = stream_off + stream_len;
        let metadata_off = type_off + type_len;
        let payload_off = metadata_off + metadata_len;
        let event = EventRef {
            position: le_u64(head, 8),
            stream_version: le_u64(head, EVENT_OFF_STREAM_VERSION),
            recorded_at_us: le_u64(head, 32) as i64,
            event_id: head[40..56].try_into().expect("slice of 16 bytes"),
            stream: self.bytes(stream_off, stream_len)?,
            event_type: self.bytes(type_off, type_len)?,
            metadata: self.bytes(metadata_off, metadata_len)?,
            payload: self.bytes(payload_off, payload_len)?,
        };
        Ok(EventLink {
            event,
            prev: le_u64(head, 24),
        })
    }
}

fn len_u32(bytes: &[u8], what: &str) -> u32 {
    u32::try_from(bytes.len())
        .unwrap_or_else(|_| panic!("{what} of {} bytes exceeds u32", bytes.len()))
}

impl RegionWriter {
    /// Allocate and write a cell holding `value`; it is reachable only once a slot points to it.
    pub(super) fn write_cell(
        &mut self,
        kind: u8,
        key: &[u8],
        value: u64,
    ) -> Result<u64, RegionError> {
        let off = self.allocate(cell_bytes(key.len() as u64))?;
        let mut head = [0u8; 8];
        head[0] = kind;
        head[4..8].copy_from_slice(&len_u32(key, "cell key").to_le_bytes());
        self.write_at(off + 8, &head);
        self.write_at(off + CELL_HEADER_BYTES, key);
        self.atomic_u64(off).store(value, Ordering::Release);
        Ok(off)
    }

    pub(super) fn write_class_header(
        &mut self,
        class_index: u32,
        name: &[u8],
    ) -> Result<u64, RegionError> {
        let off = self.allocate(class_header_bytes(name.len() as u64))?;
        let mut head = [0u8; 8];
        head[0..4].copy_from_slice(&class_index.to_le_bytes());
        head[4..8].copy_from_slice(&len_u32(name, "class name").to_le_bytes());
        self.write_at(off, &head);
        self.write_at(off + CLASS_HEADER_BYTES, name);
        Ok(off)
    }

    /// Write an entity record (data and position; the id lives in the cell that will point here)
    /// and check it reads back as written before anything can point at it.
    pub(super) fn write_entity_record(
        &mut self,
        data: &[u8],
        position: u64,
    ) -> Result<u64, RegionError> {
        let record_bytes = entity_record_bytes(data.len() as u64);
        let record_bytes_u32 =
            u32::try_from(record_bytes).expect("entity record below 4 GiB (limits)");
        let padding = record_bytes - ENTITY_RECORD_HEADER_BYTES - data.len() as u64;
        let off = self.allocate(record_bytes)?;
        let mut head = [0u8; ENTITY_RECORD_HEADER_BYTES as usize];
        head[0..4].copy_from_slice(&record_bytes_u32.to_le_bytes());
        head[4] = RECORD_ENTITY;
        head[ENTITY_OFF_PADDING] = u8::try_from(padding).expect("padding to 8 is below 8");
        head[ENTITY_OFF_POSITION..ENTITY_OFF_POSITION + 8].copy_from_slice(&position.to_le_bytes());
        self.write_at(off, &head);
        self.write_at(off + ENTITY_RECORD_HEADER_BYTES, data);
        let written = self
            .view()
            .entity_record(off, &[])
            .expect("the entity record just written decodes");
        assert!(
            written.data.len() == data.len() && written.position == position,
            "entity record at {off} reads back as written"
        );
        Ok(off)
    }

    pub(super) fn write_event_record(
        &mut self,
        position: u64,
        prev: u64,
        event: &EventRecord,
    ) -> Result<u64, RegionError> {
        let record_bytes = event_record_bytes_of(event);
        let record_bytes_u32 =
            u32::try_from(record_bytes).expect("event record below 4 GiB (limits)");
        let off = self.allocate(record_bytes)?;
        let mut head = [0u8; EVENT_RECORD_HEADER_BYTES as usize];
        head[0..4].copy_from_slice(&record_bytes_u32.to_le_bytes());
        head[4] = RECORD_EVENT;
        head[8..16].copy_from_slice(&position.to_le_bytes());
        head[EVENT_OFF_STREAM_VERSION..EVENT_OFF_STREAM_VERSION + 8]
            .copy_from_slice(&event.stream_version.to_le_bytes());
        head[24..32].copy_from_slice(&prev.to_le_bytes());
        head[32..40].copy_from_slice(&event.recorded_at_us.to_le_bytes());
        head[40..56].copy_from_slice(&event.event_id);
        let fields: [&[u8]; 4] = [
            event.stream.as_bytes(),
            event.event_type.as_bytes(),
            &event.metadata,
            &event.payload,
        ];
        let mut field_off = off + EVENT_RECORD_HEADER_BYTES;
        for (index, field) in fields.iter().enumerate() {
            let at = 56 + 4 * index;
            head[at..at + 4].copy_from_slice(&len_u32(field, "event field").to_le_bytes());
            self.write_at(field_off, field);
            field_off += field.len() as u64;
        }
        self.write_at(off, &head);
        Ok(off)
    }

    /// The stream version of the event record at `record_off`, which the writer's own stream
    /// cell points to: one field read, not a checked decode of the whole record (this runs
    /// twice per appended event: planning and applying).
    pub(super) fn stream_version_at(&self, record_off: u64) -> u64 {
        let head = self
            .view()
            .bytes(record_off, EVENT_OFF_STREAM_VERSION as u64 + 8)
            .expect("own event record inside the mapping");
        debug_assert_eq!(
            head[4], RECORD_EVENT,
            "a stream cell points to an event record"
        );
        le_u64(head, EVENT_OFF_STREAM_VERSION)
    }

    /// Bytes of the record of `record_off` (entity or event), for garbage accounting.
    pub(super) fn record_bytes_at(&self, record_off: u64) -> u64 {
        let head = self
            .view()
            .bytes(record_off, 4)
            .expect("own record inside the mapping");
        u64::from(le_u32(head, 0))
    }
}

pub(super) fn event_record_bytes_of(event: &EventRecord) -> u64 {
    event_record_bytes(
        event.stream.len() as u64,
        event.event_type.len() as u64,
        event.metadata.len() as u64,
        event.payload.len() as u64,
    )
}
