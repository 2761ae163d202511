//! A 16-byte id (event ids) as one `u128` of its little-endian bytes, for `#[serde(with)]`.
//!
//! bincode (fixint, little-endian: the log and the socket protocol) writes exactly the 16 bytes
//! it writes for a plain `[u8; 16]`, in one call instead of sixteen; the formats are unchanged
//! (tests in `log_record` and `protocol` pin the byte identity).

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(id: &[u8; 16], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u128(u128::from_le_bytes(*id))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 16], D::Error> {
    u128::deserialize(deserializer).map(u128::to_le_bytes)
}
