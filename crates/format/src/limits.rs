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
