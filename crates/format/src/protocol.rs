//! Socket protocol: length-prefixed, versioned frames carrying bincode messages
//! (docs/formats.md#socket-protocol).
//!
//! Owns: the frame layout and the `Request`/`Response` messages, with blocking helpers to read
//! and write one frame on any `Read`/`Write`.
//! Must never: allocate more than `FRAME_BYTES_MAX` for a frame, whatever the peer claims.

use crate::limits::FRAME_BYTES_MAX;
use bincode::Options;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Read, Write};

pub const PROTOCOL_VERSION: u8 = 1;
pub const FRAME_LENGTH_BYTES: usize = 4;
/// What [`encode_frame`] allocates up front; larger frames grow as usual (up to
/// `FRAME_BYTES_MAX`).
pub const FRAME_INITIAL_CAPACITY_BYTES: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientKind {
    Php,
    Worker,
    Cli,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Client-generated id (UUID bytes), stored with the event.
    #[serde(with = "crate::id_bytes")]
    pub event_id: [u8; 16],
    pub event_type: String,
    /// vtree
    #[serde(with = "serde_bytes")]
    pub metadata: Vec<u8>,
    /// vtree
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EntityChange {
    /// Insert or replace the entity `uuid` of `class`; `data` is a vtree of its properties.
    Upsert {
        class: String,
        uuid: String,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        position: u64,
    },
    Delete {
        class: String,
        uuid: String,
    },
    /// Remove every entity of `class` (a projection rebuild starts with this).
    ResetClass {
        class: String,
    },
    /// Make the entities of `shadow` (a rebuild built them beside the live ones) the entities of
    /// `class`, in one step readers see whole, and leave `shadow` empty; the entities `class`
    /// had become garbage (docs/region.md, "Swapping a class"). Appended last: variants are
    /// encoded by index.
    SwapClass {
        class: String,
        shadow: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMove {
    pub name: String,
    /// The checkpoint the worker started its batch from; a mismatch means another worker
    /// moved it, and the commit is refused as a whole.
    pub expected: u64,
    pub position: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    Hello {
        client: ClientKind,
        pid: u32,
        version: String,
    },
    Append {
        stream: String,
        expected_version: u64,
        events: Vec<NewEvent>,
    },
    Commit {
        checkpoints: Vec<CheckpointMove>,
        projected_position: Option<u64>,
        changes: Vec<EntityChange>,
    },
    /// This connection is a projector worker until it closes (`persist()` waits for projections
    /// only while at least one worker is attached).
    AttachWorker,
    Status,
    Ping,
    /// Write a snapshot of the state region now (`eventsrv snapshot`); answered once it is
    /// durable. Appended last: variants are encoded by index.
    Snapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    BadRequest,
    FrameTooLarge,
    UnsupportedVersion,
    InvalidEvent,
    RegionFull,
    ShuttingDown,
    Overloaded,
    Storage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Hello {
        daemon_version: String,
        layout_version: u32,
        region_path: String,
    },
    Appended {
        first_position: u64,
        last_position: u64,
        stream_version: u64,
    },
    Conflict {
        stream: String,
        expected_version: u64,
        actual_version: u64,
    },
    CheckpointConflict {
        name: String,
        expected: u64,
        actual: u64,
    },
    Committed {
        position: u64,
    },
    Status {
        json: String,
    },
    Pong,
    Error {
        code: ErrorCode,
        message: String,
    },
    /// A snapshot file is durable at `path`, covering events up to `position`.
    Snapshotted {
        path: String,
        position: u64,
        bytes: u64,
    },
}

#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection cleanly between frames.
    Closed,
    Io(io::Error),
    TooLarge {
        bytes: usize,
    },
    UnsupportedVersion(u8),
    Decode(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Closed => write!(f, "connection closed"),
            FrameError::Io(e) => write!(f, "{e}"),
            FrameError::TooLarge { bytes } => {
                write!(
                    f,
                    "frame of {bytes} bytes exceeds the {FRAME_BYTES_MAX}-byte maximum"
                )
            }
            FrameError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "protocol version {v}, this build speaks {PROTOCOL_VERSION}"
                )
            }
            FrameError::Decode(why) => write!(f, "malformed message: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        FrameError::Io(e)
    }
}

fn bincode_options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(FRAME_BYTES_MAX as u64)
        .reject_trailing_bytes()
}

/// Encode one message as a complete frame (length prefix included).
pub fn encode_frame<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    // Most answers (Appended, Committed, Pong, Conflict) fit without a reallocation.
    let mut out = Vec::with_capacity(FRAME_INITIAL_CAPACITY_BYTES);
    encode_frame_into(&mut out, message)?;
    Ok(out)
}

/// Encode one message as a complete frame into `out` (cleared first), so a caller that sends
/// many frames reuses one buffer. The body is written after a placeholder prefix, which is then
/// patched; with its limit set, bincode sizes the message before writing a byte, so one past
/// `FRAME_BYTES_MAX` is refused without being buffered. On error `out` holds no usable frame.
pub fn encode_frame_into<T: Serialize>(out: &mut Vec<u8>, message: &T) -> Result<(), FrameError> {
    out.clear();
    out.extend_from_slice(&[0; FRAME_LENGTH_BYTES]);
    out.push(PROTOCOL_VERSION);
    bincode_options()
        .serialize_into(&mut *out, message)
        .map_err(|error| match *error {
            bincode::ErrorKind::SizeLimit => FrameError::TooLarge { bytes: usize::MAX },
            other => FrameError::Decode(other.to_string()),
        })?;
    let body_len = out.len() - FRAME_LENGTH_BYTES;
    if body_len > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge { bytes: body_len });
    }
    out[..FRAME_LENGTH_BYTES].copy_from_slice(&(body_len as u32).to_le_bytes());
    Ok(())
}

/// Decode a frame body (the bytes after the length prefix).
pub fn decode_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, FrameError> {
    let (&version, rest) = body
        .split_first()
        .ok_or_else(|| FrameError::Decode("empty".into()))?;
    if version != PROTOCOL_VERSION {
        return Err(FrameError::UnsupportedVersion(version));
    }
    bincode_options()
        .deserialize(rest)
        .map_err(|e| FrameError::Decode(e.to_string()))
}

/// Read the 4-byte length prefix and check it. `Closed` if the peer closed before any byte.
pub fn read_frame_len(reader: &mut impl Read) -> Result<usize, FrameError> {
    let mut prefix = [0u8; FRAME_LENGTH_BYTES];
    let mut got = 0;
    while got < FRAME_LENGTH_BYTES {
        match reader.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    parse_frame_len(prefix)
}

/// Check a frame's 4-byte length prefix: the body length, or why the frame is refused.
pub fn parse_frame_len(prefix: [u8; FRAME_LENGTH_BYTES]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(prefix) as usize;
    if len > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge { bytes: len });
    }
    if len < 2 {
        return Err(FrameError::Decode(format!(
            "frame of {len} bytes is too short"
        )));
    }
    Ok(len)
}

/// Read one whole frame and decode it.
pub fn read_message<T: for<'de> Deserialize<'de>>(reader: &mut impl Read) -> Result<T, FrameError> {
    let len = read_frame_len(reader)?;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    decode_body(&body)
}

pub fn write_message<T: Serialize>(writer: &mut impl Write, message: &T) -> Result<(), FrameError> {
    let frame = encode_frame(message)?;
    writer.write_all(&frame)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let request = Request::Append {
            stream: "s".into(),
            expected_version: 3,
            events: vec![NewEvent {
                event_id: [1; 16],
                event_type: "T".into(),
                metadata: vec![0],
                payload: vec![0],
            }],
        };
        let frame = encode_frame(&request).unwrap();
        let back: Request = read_message(&mut &frame[..]).unwrap();
        assert_eq!(back, request);
    }

    /// The messages as they were before their byte fields were marked `serde_bytes`
    /// (element-wise `Vec<u8>`): the wire format the daemon and older extensions speak.
    mod element_wise {
        use serde::{Deserialize, Serialize};

        #[derive(Serialize, Deserialize)]
        pub struct NewEvent {
            pub event_id: [u8; 16],
            pub event_type: String,
            pub metadata: Vec<u8>,
            pub payload: Vec<u8>,
        }

        #[derive(Serialize, Deserialize)]
        pub enum EntityChange {
            Upsert {
                class: String,
                uuid: String,
                data: Vec<u8>,
                position: u64,
            },
            Delete {
                class: String,
                uuid: String,
            },
            ResetClass {
                class: String,
            },
            SwapClass {
                class: String,
                shadow: String,
            },
        }

        #[derive(Serialize, Deserialize)]
        pub struct CheckpointMove {
            pub name: String,
            pub expected: u64,
            pub position: u64,
        }

        #[derive(Serialize, Deserialize)]
        pub enum Request {
            Hello {
                client: super::ClientKind,
                pid: u32,
                version: String,
            },
            Append {
                stream: String,
                expected_version: u64,
                events: Vec<NewEvent>,
            },
            Commit {
                checkpoints: Vec<CheckpointMove>,
                projected_position: Option<u64>,
                changes: Vec<EntityChange>,
            },
            AttachWorker,
            Status,
            Ping,
            Snapshot,
        }
    }

    #[test]
    fn byte_fields_keep_the_element_wise_wire_format() {
        let bytes = |len: usize| (0..len).map(|i| (i * 37 + 11) as u8).collect::<Vec<u8>>();
        for len in [0, 1, 5, 300, 70_000] {
            let append = Request::Append {
                stream: "s-1".into(),
                expected_version: 7,
                events: vec![
                    NewEvent {
                        event_id: std::array::from_fn(|i| i as u8 * 17),
                        event_type: "Bank\\BalanceIncreased".into(),
                        metadata: bytes(len),
                        payload: bytes(len + 2),
                    },
                    NewEvent {
                        event_id: std::array::from_fn(|i| 255 - i as u8),
                        event_type: "t".into(),
                        metadata: Vec::new(),
                        payload: bytes(len / 2),
                    },
                ],
            };
            let old_append = element_wise::Request::Append {
                stream: "s-1".into(),
                expected_version: 7,
                events: vec![
                    element_wise::NewEvent {
                        event_id: std::array::from_fn(|i| i as u8 * 17),
                        event_type: "Bank\\BalanceIncreased".into(),
                        metadata: bytes(len),
                        payload: bytes(len + 2),
                    },
                    element_wise::NewEvent {
                        event_id: std::array::from_fn(|i| 255 - i as u8),
                        event_type: "t".into(),
                        metadata: Vec::new(),
                        payload: bytes(len / 2),
                    },
                ],
            };
            let commit = Request::Commit {
                checkpoints: vec![CheckpointMove {
                    name: "p".into(),
                    expected: 1,
                    position: 2,
                }],
                projected_position: Some(9),
                changes: vec![
                    EntityChange::Upsert {
                        class: "C".into(),
                        uuid: "u".into(),
                        data: bytes(len),
                        position: 5,
                    },
                    EntityChange::Delete {
                        class: "C".into(),
                        uuid: "v".into(),
                    },
                    EntityChange::ResetClass { class: "D".into() },
                    EntityChange::SwapClass {
                        class: "D".into(),
                        shadow: "E".into(),
                    },
                ],
            };
            let old_commit = element_wise::Request::Commit {
                checkpoints: vec![element_wise::CheckpointMove {
                    name: "p".into(),
                    expected: 1,
                    position: 2,
                }],
                projected_position: Some(9),
                changes: vec![
                    element_wise::EntityChange::Upsert {
                        class: "C".into(),
                        uuid: "u".into(),
                        data: bytes(len),
                        position: 5,
                    },
                    element_wise::EntityChange::Delete {
                        class: "C".into(),
                        uuid: "v".into(),
                    },
                    element_wise::EntityChange::ResetClass { class: "D".into() },
                    element_wise::EntityChange::SwapClass {
                        class: "D".into(),
                        shadow: "E".into(),
                    },
                ],
            };
            for (new, old) in [(&append, &old_append), (&commit, &old_commit)] {
                let frame = encode_frame(new).unwrap();
                assert_eq!(frame, encode_frame(old).unwrap(), "{len}-byte fields");
                let back: Request = read_message(&mut &frame[..]).unwrap();
                assert_eq!(&back, new);
            }
        }
    }

    #[test]
    fn a_reused_frame_buffer_holds_exactly_the_last_frame() {
        let mut out = Vec::new();
        let big = Request::Append {
            stream: "a-longer-stream-name".into(),
            expected_version: 1,
            events: vec![],
        };
        encode_frame_into(&mut out, &big).unwrap();
        encode_frame_into(&mut out, &Request::Ping).unwrap();
        assert_eq!(out, encode_frame(&Request::Ping).unwrap());
        let back: Request = read_message(&mut &out[..]).unwrap();
        assert_eq!(back, Request::Ping);
    }

    #[test]
    fn a_frame_of_exactly_the_limit_is_encoded_and_one_byte_more_is_refused() {
        // Body: version 1 + variant 4 + stream 8+1 + expected 8 + events 8 + id 16 + type 8+1
        // + metadata 8 + payload 8 = 71 bytes besides the payload's own.
        let append = |payload_bytes: usize| Request::Append {
            stream: "s".into(),
            expected_version: 0,
            events: vec![NewEvent {
                event_id: [0; 16],
                event_type: "T".into(),
                metadata: Vec::new(),
                payload: vec![0; payload_bytes],
            }],
        };
        let mut out = Vec::new();
        encode_frame_into(&mut out, &append(FRAME_BYTES_MAX - 71)).unwrap();
        assert_eq!(out.len(), FRAME_LENGTH_BYTES + FRAME_BYTES_MAX);
        assert_eq!(read_frame_len(&mut &out[..]).unwrap(), FRAME_BYTES_MAX);
        assert!(matches!(
            encode_frame_into(&mut out, &append(FRAME_BYTES_MAX - 70)),
            Err(FrameError::TooLarge { bytes }) if bytes == FRAME_BYTES_MAX + 1
        ));
        assert!(matches!(
            encode_frame(&append(FRAME_BYTES_MAX)),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn appended_variants_keep_the_earlier_encodings() {
        // Variant indexes are the wire format: Ping stays 5, Pong stays 6, Error stays 7.
        assert_eq!(
            &encode_frame(&Request::Ping).unwrap()[5..],
            &5u32.to_le_bytes()
        );
        assert_eq!(
            &encode_frame(&Request::Snapshot).unwrap()[5..],
            &6u32.to_le_bytes()
        );
        assert_eq!(
            &encode_frame(&Response::Pong).unwrap()[5..],
            &6u32.to_le_bytes()
        );
        let snapshotted = Response::Snapshotted {
            path: "/d/snapshots/snapshot-00000000000000000007.snap".into(),
            position: 7,
            bytes: 4096,
        };
        let frame = encode_frame(&snapshotted).unwrap();
        assert_eq!(&frame[5..9], &8u32.to_le_bytes());
        let back: Response = read_message(&mut &frame[..]).unwrap();
        assert_eq!(back, snapshotted);
    }

    #[test]
    fn swap_class_is_appended_after_the_earlier_entity_changes() {
        let swap = EntityChange::SwapClass {
            class: "A".into(),
            shadow: "S".into(),
        };
        let bytes = bincode_options().serialize(&swap).unwrap();
        assert_eq!(&bytes[..4], &3u32.to_le_bytes());
        let reset = EntityChange::ResetClass { class: "A".into() };
        assert_eq!(
            &bincode_options().serialize(&reset).unwrap()[..4],
            &2u32.to_le_bytes()
        );
        let back: EntityChange = bincode_options().deserialize(&bytes).unwrap();
        assert_eq!(back, swap);
    }

    #[test]
    fn oversized_and_garbage_frames_are_refused_without_allocating() {
        let claim = (u32::MAX).to_le_bytes();
        assert!(matches!(
            read_message::<Request>(&mut &claim[..]),
            Err(FrameError::TooLarge { .. })
        ));
        let mut garbage = 6u32.to_le_bytes().to_vec();
        garbage.extend_from_slice(&[1, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            read_message::<Request>(&mut &garbage[..]),
            Err(FrameError::Decode(_))
        ));
        let mut wrong_version = 2u32.to_le_bytes().to_vec();
        wrong_version.extend_from_slice(&[9, 0]);
        assert!(matches!(
            read_message::<Request>(&mut &wrong_version[..]),
            Err(FrameError::UnsupportedVersion(9))
        ));
        assert!(matches!(
            read_message::<Request>(&mut &[][..]),
            Err(FrameError::Closed)
        ));
    }

    #[test]
    fn a_bincode_length_claim_cannot_exceed_the_frame() {
        // an Append whose events vec claims 2^60 elements
        let mut body = vec![PROTOCOL_VERSION];
        body.extend_from_slice(&1u32.to_le_bytes()); // variant Append
        body.extend_from_slice(&1u64.to_le_bytes());
        body.push(b's');
        body.extend_from_slice(&0u64.to_le_bytes());
        body.extend_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(decode_body::<Request>(&body).is_err());
    }
}
