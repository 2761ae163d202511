//! eventsrv: the daemon and CLI that own the event log and publish the application state in a
//! shared-memory region that PHP processes read.
//!
//! How data moves:
//!
//! ```text
//!  PHP client ──frame──► connection ──WriterMessage──► writer ──one write per batch──► log
//!                ◄─frame── (one event loop) ◄─reply── (one thread) ◄─durable─ syncer (fdatasync)
//!                                                            └──apply + publish──► region
//! ```
//!
//! Map of the crate (one file per concept):
//! - [`access`]: owner, group and mode of the socket and the region (`--owner`, `--group`).
//! - [`cli`]: the command line (`serve`, `status`, `snapshot`, `verify`, `tail`, `events`) and
//!   its dispatch.
//! - [`client`]: a minimal blocking socket client (CLI, stale-socket probe).
//! - [`config`]: resolving `serve` settings (flag > env > config file > default) and the
//!   daemon-only named bounds (timeouts, poll intervals).
//! - [`logging`]: tracing subscriber setup (`EVENTSRV_LOG`, text or JSON).
//! - [`data_dir`]: the data directory and its exclusive `LOCK`.
//! - [`log`]: the append-only segment files: open + recover on start, group-commit appends,
//!   read-only scanning for the CLI.
//! - [`state`]: what the writer needs from the state region, as a trait ([`state::StateStore`]),
//!   implemented by the format crate's `RegionWriter`.
//! - [`batch`]: planning one group commit: validation, expected versions, positions.
//! - [`boot`]: open the log and bring a region up to its end: the surviving region file, else the
//!   newest valid snapshot plus the log tail, else a full replay (docs/snapshots.md).
//! - [`snapshot`]: snapshot files: the writer's schedule, writing them durably on a background
//!   thread, keeping the last K, loading one at boot, `eventsrv snapshot`.
//! - [`verify`]: `eventsrv verify`: every segment and snapshot checked offline.
//! - [`state_dump`]: everything a region holds as comparable values (tests compare a booted
//!   region with a fresh full replay).
//! - [`writer`]: the single writer thread: validate, group-commit, apply, publish, reply.
//! - [`writer_queue`]: the bounded queue into the writer and the syncer's reports back.
//! - [`syncer`]: the thread that runs each batch's `fdatasync` while the writer goes on.
//! - [`reply`]: the single-slot mailbox of a connection's request to the writer, answered on the
//!   client's socket directly when it fits.
//! - [`server`]: the listening socket, the epoll event loop serving every connection, orderly
//!   shutdown.
//! - [`connection`]: one client connection: frames in, requests to the writer, frames out.
//! - [`shutdown`]: the signal/fatal-error trigger that stops the daemon.
//! - [`status`]: the status report (daemon side and `eventsrv status`).
//! - [`inspect`]: `eventsrv tail` / `eventsrv events`: events as JSON lines.
//! - [`serve`]: `eventsrv serve`, wiring all of the above together.
//!
//! Byte layouts live in the `eventsrv-format` crate only; nothing here encodes one by hand.

pub mod access;
pub mod batch;
pub mod boot;
pub mod cli;
pub mod client;
pub mod config;
pub mod connection;
pub mod data_dir;
pub mod inspect;
pub mod log;
pub mod logging;
pub mod reply;
pub mod serve;
pub mod server;
pub mod shutdown;
pub mod snapshot;
pub mod state;
pub mod state_dump;
pub mod status;
pub mod syncer;
pub mod verify;
pub mod writer;
pub mod writer_queue;
