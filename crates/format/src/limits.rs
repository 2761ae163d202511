//! Every bound eventsrv enforces, as named constants. Nothing else in the code base
//! invents a limit inline: it refers to one of these.

/// Largest socket frame (length prefix excluded), either direction.
pub const FRAME_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Largest log record body.
pub const RECORD_BYTES_MAX: usize = FRAME_BYTES_MAX;
/// Deepest nesting of a value tree.
pub const VALUE_DEPTH_MAX: usize = 64;
/// Longest stream (aggregate) id.
pub const STREAM_ID_BYTES_MAX: usize = 255;
/// Longest event type name or entity class name.
pub const TYPE_NAME_BYTES_MAX: usize = 512;
/// Longest entity uuid / projector name.
pub const KEY_BYTES_MAX: usize = 255;
/// Most events in one append.
pub const EVENTS_PER_APPEND_MAX: usize = 10_000;
/// Most entity changes in one projector commit.
pub const CHANGES_PER_COMMIT_MAX: usize = 100_000;
/// Most checkpoints moved by one commit.
pub const CHECKPOINTS_PER_COMMIT_MAX: usize = 1_024;
/// Messages waiting for the writer thread. Above `CONNECTIONS_MAX`: each connection has at most
/// one request in the queue, so the event loop never waits on a full queue (asserted in the
/// daemon's server).
pub const WRITER_QUEUE_MAX: usize = 4_096;
/// Most requests the writer folds into one group commit.
pub const BATCH_REQUESTS_MAX: usize = 1_024;
/// Most record bytes the writer folds into one group commit (a single request may exceed it).
pub const BATCH_BYTES_MAX: usize = 16 * 1024 * 1024;
/// A segment is sealed once it passes this size (at a batch boundary).
pub const SEGMENT_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// Most bytes one group commit writes to the log: `BATCH_BYTES_MAX` of requests plus the one
/// request that crossed it (≤ `FRAME_BYTES_MAX`), whose records repeat the stream name per event
/// (≤ `EVENTS_PER_APPEND_MAX` × (`STREAM_ID_BYTES_MAX` + record overhead), about 3.2 MiB).
/// Asserted by the daemon on every write; recovery relies on it (docs/formats.md, "Zero-filled
/// tail"): a torn write damages at most this many bytes.
pub const LOG_WRITE_BYTES_MAX: usize = BATCH_BYTES_MAX + 2 * FRAME_BYTES_MAX;
/// Zero bytes the daemon keeps written ahead of the active segment's last record (it writes
/// this many more once fewer than half remain): overwriting blocks that are already written
/// costs its `fdatasync` no file-system journal commit (docs/formats.md, "Zero-filled tail").
pub const LOG_ZEROED_AHEAD_BYTES: u64 = 2 * 1024 * 1024;
/// The unit a disk writes whole or not at all, as recovery assumes when it tells a torn write
/// from a damaged record.
pub const DISK_SECTOR_BYTES: usize = 512;
/// Most client connections served at once; further connections are refused with an error.
pub const CONNECTIONS_MAX: usize = 1_024;
/// Most events one `eventsAfter` call hands to PHP.
pub const EVENTS_PER_READ_MAX: usize = 10_000;
/// Smallest, default and largest state region size. The largest is what a hash slot can
/// address: it holds a cell offset / 8 in 40 bits (docs/region.md, "Hash table").
pub const REGION_BYTES_MIN: u64 = 1024 * 1024;
pub const REGION_BYTES_DEFAULT: u64 = 1024 * 1024 * 1024;
pub const REGION_BYTES_MAX: u64 = 1 << 43;
/// Sentinel for "append whatever the stream's version is".
pub const EXPECTED_VERSION_ANY: u64 = u64::MAX;
