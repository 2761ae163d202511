//! eventsrv-format: the only place that knows eventsrv's byte layouts.
//!
//! Both the daemon (`eventsrv` binary) and the PHP extension (`eventsrv.so`) use this crate;
//! neither defines a layout of its own. The layouts are written down in `docs/formats.md` and
//! `docs/region.md`; this crate implements them and asserts their invariants on both sides.
//!
//! - [`limits`]: every named bound (frame, record, value depth, batch sizes).
//! - [`vtree`]: the self-describing value tree used for payloads, metadata and entity rows.
//! - [`log_record`]: segment headers and CRC-framed log records (events, projection commits).
//! - [`protocol`]: socket frames and the request/response messages.
//! - [`region`]: the shared-memory state region: writer (daemon) and reader (extension).
//! - [`snapshot`]: snapshot files: a region image with its log location and a checksum.
//! - [`futex`]: cross-process wait/wake on a region word.

pub mod futex;
mod id_bytes;
pub mod limits;
pub mod log_record;
pub mod protocol;
pub mod region;
pub mod snapshot;
pub mod vtree;
