//! The value tree: a self-describing encoding of PHP values (see docs/formats.md#value-tree-vtree).
//!
//! Owns: the tag table, the streaming [`Encoder`] (used by the extension to encode PHP values),
//! the streaming [`Decoder`] (used by the extension to build PHP values straight from shared
//! memory, and by the daemon to validate and print), [`validate`] and [`to_json`].
//! Must never: panic or read out of bounds on arbitrary bytes.

use crate::limits::{FRAME_BYTES_MAX, VALUE_DEPTH_MAX};
use std::fmt;

pub const TAG_NULL: u8 = 0x00;
pub const TAG_FALSE: u8 = 0x01;
pub const TAG_TRUE: u8 = 0x02;
pub const TAG_INT: u8 = 0x03;
pub const TAG_FLOAT: u8 = 0x04;
pub const TAG_STRING: u8 = 0x05;
pub const TAG_LIST: u8 = 0x06;
pub const TAG_MAP: u8 = 0x07;
pub const TAG_OBJECT: u8 = 0x08;
pub const TAG_ENUM: u8 = 0x09;
pub const TAG_DATETIME: u8 = 0x0A;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VtreeError {
    Truncated { offset: usize },
    UnknownTag { offset: usize, tag: u8 },
    TooDeep { offset: usize },
    BadMapKey { offset: usize },
    TrailingBytes { offset: usize },
    TooLarge { bytes: usize },
}

impl fmt::Display for VtreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VtreeError::Truncated { offset } => write!(f, "value truncated at byte {offset}"),
            VtreeError::UnknownTag { offset, tag } => {
                write!(f, "unknown value tag 0x{tag:02x} at byte {offset}")
            }
            VtreeError::TooDeep { offset } => {
                write!(
                    f,
                    "value nested deeper than {VALUE_DEPTH_MAX} at byte {offset}"
                )
            }
            VtreeError::BadMapKey { offset } => {
                write!(f, "map key at byte {offset} is neither int nor string")
            }
            VtreeError::TrailingBytes { offset } => write!(f, "bytes after the value at {offset}"),
            VtreeError::TooLarge { bytes } => {
                write!(
                    f,
                    "value of {bytes} bytes exceeds the {FRAME_BYTES_MAX}-byte maximum"
                )
            }
        }
    }
}

impl std::error::Error for VtreeError {}

/// Streaming encoder. Containers announce their element count up front; when the count is only
/// known afterwards, `begin_*` returns a mark to [`Encoder::patch_count`].
#[derive(Default, Debug, Clone)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

/// Where a container's count lives in the buffer, for [`Encoder::patch_count`].
#[derive(Debug, Clone, Copy)]
pub struct CountMark(usize);

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_capacity(bytes: usize) -> Self {
        Encoder {
            buf: Vec::with_capacity(bytes),
        }
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn null(&mut self) {
        self.buf.push(TAG_NULL);
    }
    pub fn bool(&mut self, value: bool) {
        self.buf.push(if value { TAG_TRUE } else { TAG_FALSE });
    }
    pub fn int(&mut self, value: i64) {
        self.buf.push(TAG_INT);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }
    pub fn float(&mut self, value: f64) {
        self.buf.push(TAG_FLOAT);
        self.buf.extend_from_slice(&value.to_bits().to_le_bytes());
    }
    pub fn string(&mut self, value: &[u8]) {
        self.buf.push(TAG_STRING);
        self.raw_bytes(value);
    }
    pub fn begin_list(&mut self, count: u32) -> CountMark {
        self.buf.push(TAG_LIST);
        self.count(count)
    }
    pub fn begin_map(&mut self, count: u32) -> CountMark {
        self.buf.push(TAG_MAP);
        self.count(count)
    }
    /// Follow with `count` × ([`Encoder::prop_name`], value).
    pub fn begin_object(&mut self, class: &[u8], count: u32) -> CountMark {
        self.buf.push(TAG_OBJECT);
        self.raw_bytes(class);
        self.count(count)
    }
    pub fn prop_name(&mut self, name: &[u8]) {
        self.raw_bytes(name);
    }
    /// Follow with exactly one value: the backing value, or the case name for a pure enum.
    pub fn begin_enum(&mut self, class: &[u8]) {
        self.buf.push(TAG_ENUM);
        self.raw_bytes(class);
    }
    pub fn datetime(&mut self, class: &[u8], text: &[u8]) {
        self.buf.push(TAG_DATETIME);
        self.raw_bytes(class);
        self.raw_bytes(text);
    }
    pub fn patch_count(&mut self, mark: CountMark, count: u32) {
        self.buf[mark.0..mark.0 + 4].copy_from_slice(&count.to_le_bytes());
    }
    fn count(&mut self, count: u32) -> CountMark {
        let mark = CountMark(self.buf.len());
        self.buf.extend_from_slice(&count.to_le_bytes());
        mark
    }
    fn raw_bytes(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(bytes);
    }
}

/// One step of a decode. Containers give their count; their items follow as further nodes
/// (map: key node then value node; object: [`Decoder::prop_name`] then value node).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a [u8]),
    List(u32),
    Map(u32),
    Object {
        class: &'a [u8],
        count: u32,
    },
    /// Followed by one node: the backing value or case name.
    Enum {
        class: &'a [u8],
    },
    DateTime {
        class: &'a [u8],
        text: &'a [u8],
    },
}

/// Streaming, bounds-checked decoder over borrowed bytes.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Decoder { bytes, offset: 0 }
    }
    /// A decoder over `bytes` that continues at `offset` (a reader that parsed the bytes
    /// before it by hand), so error offsets stay those of the whole value.
    pub fn starting_at(bytes: &'a [u8], offset: usize) -> Self {
        Decoder {
            bytes,
            offset: offset.min(bytes.len()),
        }
    }
    pub fn offset(&self) -> usize {
        self.offset
    }
    pub fn is_at_end(&self) -> bool {
        self.offset == self.bytes.len()
    }

    pub fn node(&mut self) -> Result<Node<'a>, VtreeError> {
        let at = self.offset;
        let tag = self.take(1)?[0];
        Ok(match tag {
            TAG_NULL => Node::Null,
            TAG_FALSE => Node::Bool(false),
            TAG_TRUE => Node::Bool(true),
            TAG_INT => Node::Int(i64::from_le_bytes(self.array8()?)),
            TAG_FLOAT => Node::Float(f64::from_bits(u64::from_le_bytes(self.array8()?))),
            TAG_STRING => Node::Str(self.raw_bytes()?),
            TAG_LIST => Node::List(self.u32()?),
            TAG_MAP => Node::Map(self.u32()?),
            TAG_OBJECT => {
                let class = self.raw_bytes()?;
                Node::Object {
                    class,
                    count: self.u32()?,
                }
            }
            TAG_ENUM => Node::Enum {
                class: self.raw_bytes()?,
            },
            TAG_DATETIME => {
                let class = self.raw_bytes()?;
                Node::DateTime {
                    class,
                    text: self.raw_bytes()?,
                }
            }
            tag => return Err(VtreeError::UnknownTag { offset: at, tag }),
        })
    }

    /// A property name inside an object.
    pub fn prop_name(&mut self) -> Result<&'a [u8], VtreeError> {
        self.raw_bytes()
    }

    /// Skip one whole value (with everything nested in it).
    pub fn skip_value(&mut self, depth: usize) -> Result<(), VtreeError> {
        if depth > VALUE_DEPTH_MAX {
            return Err(VtreeError::TooDeep {
                offset: self.offset,
            });
        }
        let at = self.offset;
        match self.node()? {
            Node::List(count) => {
                for _ in 0..count {
                    self.skip_value(depth + 1)?;
                }
            }
            Node::Map(count) => {
                for _ in 0..count {
                    let key_at = self.offset;
                    match self.node()? {
                        Node::Int(_) | Node::Str(_) => {}
                        _ => return Err(VtreeError::BadMapKey { offset: key_at }),
                    }
                    self.skip_value(depth + 1)?;
                }
            }
            Node::Object { count, .. } => {
                for _ in 0..count {
                    self.prop_name()?;
                    self.skip_value(depth + 1)?;
                }
            }
            Node::Enum { .. } => {
                let inner_at = self.offset;
                match self.node()? {
                    Node::Int(_) | Node::Str(_) => {}
                    _ => return Err(VtreeError::BadMapKey { offset: inner_at }),
                }
            }
            _ => {}
        }
        debug_assert!(self.offset > at);
        Ok(())
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], VtreeError> {
        let end = self
            .offset
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(VtreeError::Truncated {
                offset: self.offset,
            })?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }
    fn array8(&mut self) -> Result<[u8; 8], VtreeError> {
        Ok(self.take(8)?.try_into().expect("take(8) returns 8 bytes"))
    }
    fn u32(&mut self) -> Result<u32, VtreeError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("take(4) returns 4 bytes"),
        ))
    }
    fn raw_bytes(&mut self) -> Result<&'a [u8], VtreeError> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

/// Check that `bytes` is exactly one well-formed value within every bound.
pub fn validate(bytes: &[u8]) -> Result<(), VtreeError> {
    if bytes.len() > FRAME_BYTES_MAX {
        return Err(VtreeError::TooLarge { bytes: bytes.len() });
    }
    let mut decoder = Decoder::new(bytes);
    decoder.skip_value(0)?;
    if !decoder.is_at_end() {
        return Err(VtreeError::TrailingBytes {
            offset: decoder.offset(),
        });
    }
    Ok(())
}

/// Render one value as JSON (for the CLI and logs). See docs/formats.md for the conventions.
pub fn to_json(bytes: &[u8]) -> Result<serde_json::Value, VtreeError> {
    let mut decoder = Decoder::new(bytes);
    let value = node_to_json(&mut decoder, 0)?;
    if !decoder.is_at_end() {
        return Err(VtreeError::TrailingBytes {
            offset: decoder.offset(),
        });
    }
    Ok(value)
}

fn bytes_to_json(bytes: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::Value::String(text.to_owned()),
        Err(_) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            serde_json::json!({ "$bytes_hex": hex })
        }
    }
}

fn key_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn node_to_json(decoder: &mut Decoder<'_>, depth: usize) -> Result<serde_json::Value, VtreeError> {
    use serde_json::{Map, Value};
    if depth > VALUE_DEPTH_MAX {
        return Err(VtreeError::TooDeep {
            offset: decoder.offset(),
        });
    }
    Ok(match decoder.node()? {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::from(i),
        Node::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Node::Str(s) => bytes_to_json(s),
        Node::List(count) => {
            let mut items = Vec::with_capacity(count.min(1024) as usize);
            for _ in 0..count {
                items.push(node_to_json(decoder, depth + 1)?);
            }
            Value::Array(items)
        }
        Node::Map(count) => {
            let mut map = Map::new();
            for _ in 0..count {
                let key_at = decoder.offset();
                let key = match decoder.node()? {
                    Node::Int(i) => i.to_string(),
                    Node::Str(s) => key_string(s),
                    _ => return Err(VtreeError::BadMapKey { offset: key_at }),
                };
                map.insert(key, node_to_json(decoder, depth + 1)?);
            }
            Value::Object(map)
        }
        Node::Object { class, count } => {
            let mut map = Map::new();
            map.insert("$class".into(), Value::String(key_string(class)));
            for _ in 0..count {
                let name = key_string(decoder.prop_name()?);
                map.insert(name, node_to_json(decoder, depth + 1)?);
            }
            Value::Object(map)
        }
        Node::Enum { class } => {
            let value = node_to_json(decoder, depth + 1)?;
            serde_json::json!({ "$enum": key_string(class), "value": value })
        }
        Node::DateTime { class, text } => {
            serde_json::json!({ "$datetime": key_string(text), "$class": key_string(class) })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut e = Encoder::new();
        e.begin_object(b"App\\Account", 4);
        e.prop_name(b"uuid");
        e.string(b"a-1");
        e.prop_name(b"balance");
        e.int(-42);
        e.prop_name(b"tags");
        e.begin_list(2);
        e.string(b"x");
        e.float(1.5);
        e.prop_name(b"extra");
        e.begin_map(2);
        e.int(7);
        e.null();
        e.string(b"k");
        e.begin_enum(b"App\\Currency");
        e.string(b"EUR");
        e.into_bytes()
    }

    #[test]
    fn round_trips_through_json() {
        let bytes = sample();
        validate(&bytes).unwrap();
        let json = to_json(&bytes).unwrap();
        assert_eq!(json["$class"], "App\\Account");
        assert_eq!(json["balance"], -42);
        assert_eq!(json["tags"][1], 1.5);
        assert_eq!(json["extra"]["7"], serde_json::Value::Null);
        assert_eq!(json["extra"]["k"]["value"], "EUR");
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = sample();
        for len in 0..bytes.len() {
            assert!(
                validate(&bytes[..len]).is_err(),
                "prefix of {len} bytes validated"
            );
        }
    }

    #[test]
    fn trailing_bytes_and_unknown_tags_are_refused() {
        let mut bytes = sample();
        bytes.push(0);
        assert!(matches!(
            validate(&bytes),
            Err(VtreeError::TrailingBytes { .. })
        ));
        assert!(matches!(
            validate(&[0x7f]),
            Err(VtreeError::UnknownTag { tag: 0x7f, .. })
        ));
    }

    #[test]
    fn depth_is_bounded() {
        let mut e = Encoder::new();
        for _ in 0..=VALUE_DEPTH_MAX + 1 {
            e.begin_list(1);
        }
        e.null();
        assert!(matches!(validate(&e.buf), Err(VtreeError::TooDeep { .. })));
    }

    #[test]
    fn non_utf8_strings_print_as_hex() {
        let mut e = Encoder::new();
        e.string(&[0xff, 0x00]);
        assert_eq!(to_json(&e.buf).unwrap()["$bytes_hex"], "ff00");
    }

    #[test]
    fn map_keys_must_be_scalar() {
        let mut e = Encoder::new();
        e.begin_map(1);
        e.begin_list(0);
        e.null();
        assert!(matches!(
            validate(&e.buf),
            Err(VtreeError::BadMapKey { .. })
        ));
    }
}
