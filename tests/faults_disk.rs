//! Disk faults on real file systems: a full disk (ENOSPC, a size-limited tmpfs), an I/O error on
//! write (EIO: an ext4 image shut down with EXT4_IOC_SHUTDOWN, as xfstests' `godown` does), and
//! an I/O error on fdatasync (EIO: an ext4 image on a loop device whose sparse backing file sits
//! on a full tmpfs, so writeback fails while the write itself succeeded).
//!
//! What a user must see: the append fails with a clear storage error, the daemon stops with a
//! non-zero exit instead of acknowledging anything it cannot prove durable, and after the disk
//! is healthy again the daemon starts, every acknowledged event is there, and the log holds no
//! complete record that is wrong (recovery refuses those, so a clean start proves it).
//!
//! Mounting needs root (CAP_SYS_ADMIN) and loop devices; without them each test says SKIPPED
//! and passes.

mod crash_support;
mod php_support;
mod support;

use crash_support::read_log;
use eventsrv_format::limits::EXPECTED_VERSION_ANY;
use eventsrv_format::protocol::{ErrorCode, NewEvent, Request, Response};
use eventsrv_format::vtree;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{uuid_text, Client, TestDaemon};

/// Bound on appends before the fault must have shown (the file systems are a few MiB).
const APPENDS_MAX: u64 = 10_000;
/// Events per append: a batch of several records, so a partial write could leave whole ones.
const EVENTS_PER_APPEND: u64 = 3;

/// A mount point that is unmounted (lazily if busy) when dropped.
struct Mount {
    point: PathBuf,
}

impl Mount {
    fn new(point: PathBuf, args: &[&str]) -> Option<Mount> {
        std::fs::create_dir_all(&point).expect("mount point");
        let output = Command::new("mount").args(args).arg(&point).output().ok()?;
        if !output.status.success() {
            eprintln!(
                "mount {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            return None;
        }
        Some(Mount { point })
    }

    fn remount(&self, options: &str) {
        run(
            "mount",
            &["-o", &format!("remount,{options}"), path(&self.point)],
        );
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.point)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.point).status();
        }
    }
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn can_mount() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: disk fault tests need root to mount file systems");
        return false;
    }
    true
}

/// A daemon whose data directory is `data_dir` (on the faulty file system).
fn daemon_on(data_dir: PathBuf) -> TestDaemon {
    let mut daemon = TestDaemon::new();
    daemon.data_dir = data_dir;
    daemon
}

fn event(sequence: u64, payload_bytes: usize) -> NewEvent {
    let mut payload = vtree::Encoder::new();
    payload.begin_map(1);
    payload.string(b"blob");
    payload.string(&vec![b'x' + (sequence % 3) as u8; payload_bytes]);
    let mut metadata = vtree::Encoder::new();
    metadata.begin_map(0);
    let mut event_id = [0u8; 16];
    event_id[..8].copy_from_slice(&0x0190_a7f3_fa17_0000u64.to_be_bytes());
    event_id[8..].copy_from_slice(&sequence.to_be_bytes());
    NewEvent {
        event_id,
        event_type: "Test\\Blob".into(),
        metadata: metadata.into_bytes(),
        payload: payload.into_bytes(),
    }
}

fn id_text(event: &NewEvent) -> String {
    uuid_text(&event.event_id)
}

/// Appends until the daemon answers with an error.
struct Outcome {
    acked: Vec<String>,
    failed: Vec<String>,
    code: ErrorCode,
    message: String,
}

fn append_until_error(daemon: &TestDaemon, client: &mut Client, payload_bytes: usize) -> Outcome {
    let mut acked = Vec::new();
    let mut sequence = 0;
    for _ in 0..APPENDS_MAX {
        let events: Vec<NewEvent> = (0..EVENTS_PER_APPEND)
            .map(|_| {
                sequence += 1;
                event(sequence, payload_bytes)
            })
            .collect();
        let ids: Vec<String> = events.iter().map(id_text).collect();
        let request = Request::Append {
            stream: "blobs".into(),
            expected_version: EXPECTED_VERSION_ANY,
            events,
        };
        let answer = client.request(&request).unwrap_or_else(|e| {
            panic!(
                "no answer to an append ({e}); daemon stderr:\n{}",
                daemon.stderr()
            )
        });
        match answer {
            Response::Appended { .. } => acked.extend(ids),
            Response::Error { code, message } => {
                return Outcome {
                    acked,
                    failed: ids,
                    code,
                    message,
                }
            }
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    panic!("no fault after {APPENDS_MAX} appends");
}

/// After the fault: the daemon exits non-zero on its own, and nothing else is acknowledged.
fn assert_stopped_after_failure(daemon: &mut TestDaemon) -> String {
    let status = daemon.wait();
    let stderr = daemon.stderr();
    assert!(
        !status.success(),
        "a storage failure is a failed exit: {status}\n{stderr}"
    );
    assert!(
        stderr.contains("FATAL"),
        "stderr says why it stopped:\n{stderr}"
    );
    assert!(
        !daemon.ping(),
        "nobody answers on the socket after the failure"
    );
    stderr
}

/// Restart on the healed disk: recovery must accept the log (no complete-but-wrong record),
/// every acknowledged event is there exactly once, and versions are gapless.
fn assert_recovers(daemon: &mut TestDaemon, outcome: &Outcome) -> crash_support::LogEvents {
    daemon.start();
    let status = daemon.client().status();
    daemon.stop_clean();
    let log = read_log(daemon);
    for id in &outcome.acked {
        assert_eq!(
            log.id_counts.get(id),
            Some(&1),
            "acknowledged {id} is there once"
        );
    }
    assert_eq!(status["committed_position"], log.events.len() as u64);
    log
}

#[test]
fn a_full_disk_fails_the_append_clearly_and_nothing_of_it_is_kept() {
    if !can_mount() {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let Some(disk) = Mount::new(
        scratch.path().join("disk"),
        &["-t", "tmpfs", "-o", "size=1m", "tmpfs"],
    ) else {
        eprintln!("SKIPPED: cannot mount a tmpfs");
        return;
    };
    let mut daemon = daemon_on(disk.point.join("data"));
    daemon.start();
    let mut client = daemon.client();
    let outcome = append_until_error(&daemon, &mut client, 3_000);
    assert_eq!(outcome.code, ErrorCode::Storage, "{}", outcome.message);
    assert!(
        outcome.message.contains("No space left on device"),
        "the error says the disk is full: {}",
        outcome.message
    );
    let stderr = assert_stopped_after_failure(&mut daemon);
    assert!(stderr.contains("No space left on device"), "{stderr}");

    // A start on the still-full disk works: recovery only ever shrinks the log.
    daemon.start();
    daemon.stop_clean();
    disk.remount("size=16m");
    let log = assert_recovers(&mut daemon, &outcome);
    for id in &outcome.failed {
        assert!(
            !log.id_counts.contains_key(id),
            "an event of the refused append is in the log: {id}"
        );
    }
    eprintln!(
        "ENOSPC: {} events acknowledged before the disk filled, the next append ({} events) \
         failed with {:?} ({}); after freeing space the log holds {} events, lost 0, none of \
         the refused append",
        outcome.acked.len(),
        outcome.failed.len(),
        outcome.code,
        outcome.message,
        log.events.len()
    );
}

/// An ext4 file system in `image_bytes`-sized sparse image `image`, loop-mounted at `point`.
fn ext4(image: &Path, image_bytes: u64, point: PathBuf) -> Option<Mount> {
    let file = std::fs::File::create(image).expect("image file");
    file.set_len(image_bytes).expect("size the image");
    drop(file);
    let mkfs = Command::new("mkfs.ext4")
        .args([
            "-q",
            "-F",
            "-E",
            "nodiscard,lazy_itable_init=0,lazy_journal_init=0",
        ])
        .arg(image)
        .output()
        .ok()?;
    if !mkfs.status.success() {
        eprintln!(
            "mkfs.ext4 failed: {}",
            String::from_utf8_lossy(&mkfs.stderr)
        );
        return None;
    }
    Mount::new(point, &["-o", "loop", path(image)])
}

/// EXT4_IOC_SHUTDOWN with EXT4_GOING_FLAGS_NOLOGFLUSH: every later write and fsync on the file
/// system fails with EIO, as if the disk died.
fn shut_down_ext4(mount_point: &Path) {
    const EXT4_IOC_SHUTDOWN: libc::c_ulong = 0x8004_587d;
    const EXT4_GOING_FLAGS_NOLOGFLUSH: u32 = 2;
    let dir = std::fs::File::open(mount_point).expect("open the mount point");
    let flags = EXT4_GOING_FLAGS_NOLOGFLUSH;
    // SAFETY: the ioctl reads one u32 through the pointer, which outlives the call.
    let result = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&dir),
            EXT4_IOC_SHUTDOWN as _,
            &flags as *const u32,
        )
    };
    assert_eq!(
        result,
        0,
        "EXT4_IOC_SHUTDOWN: {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn an_io_error_on_write_fails_the_append_and_stops_the_daemon() {
    if !can_mount() {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let image = scratch.path().join("disk.img");
    let Some(disk) = ext4(&image, 32 << 20, scratch.path().join("disk")) else {
        eprintln!("SKIPPED: cannot loop-mount an ext4 image");
        return;
    };
    let mut daemon = daemon_on(disk.point.join("data"));
    daemon.start();
    let mut client = daemon.client();
    let mut acked = Vec::new();
    for sequence in 1..=20 {
        let event = event(sequence, 500);
        let id = id_text(&event);
        match client.append("blobs", sequence - 1, vec![event]) {
            Response::Appended { .. } => acked.push(id),
            other => panic!("append before the fault: {other:?}"),
        }
    }
    shut_down_ext4(&disk.point);
    let outcome = append_until_error(&daemon, &mut client, 500);
    assert_eq!(outcome.code, ErrorCode::Storage, "{}", outcome.message);
    assert!(
        outcome.message.contains("Input/output error"),
        "the error names the I/O error: {}",
        outcome.message
    );
    assert!(
        outcome.acked.is_empty(),
        "nothing acknowledged after the fault"
    );
    assert_stopped_after_failure(&mut daemon);

    // "Replace the disk": unmount (the shut-down file system keeps what was synced) and mount
    // the image again.
    drop(disk);
    let disk = Mount::new(scratch.path().join("disk"), &["-o", "loop", path(&image)])
        .expect("mount the image again");
    let outcome = Outcome { acked, ..outcome };
    let log = assert_recovers(&mut daemon, &outcome);
    eprintln!(
        "EIO on write: {} events acknowledged before the file system died, the next append \
         failed with {:?} ({}); after remounting the log holds {} events, lost 0",
        outcome.acked.len(),
        outcome.code,
        outcome.message,
        log.events.len()
    );
    drop(disk);
}

#[test]
fn an_io_error_on_fdatasync_is_fatal_and_nothing_after_it_is_acknowledged() {
    if !can_mount() {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    // The image claims 64 MiB but its backing tmpfs holds 8: once the tmpfs is full, the loop
    // device fails writeback with EIO while writes into the page cache still succeed.
    let Some(backing) = Mount::new(
        scratch.path().join("backing"),
        &["-t", "tmpfs", "-o", "size=8m", "tmpfs"],
    ) else {
        eprintln!("SKIPPED: cannot mount a tmpfs");
        return;
    };
    let image = backing.point.join("disk.img");
    let Some(disk) = ext4(&image, 64 << 20, scratch.path().join("disk")) else {
        eprintln!("SKIPPED: cannot loop-mount an ext4 image");
        return;
    };
    let mut daemon = daemon_on(disk.point.join("data"));
    daemon.start();
    let mut client = daemon.client();
    let outcome = append_until_error(&daemon, &mut client, 20_000);
    assert_eq!(outcome.code, ErrorCode::Storage, "{}", outcome.message);
    // The kernel reports the failed writeback as EIO, or as ENOSPC when only data blocks were
    // being written (the log overwrites its zero-filled tail, so no journal commit fails first).
    assert!(
        outcome.message.contains("Input/output error")
            || outcome.message.contains("No space left on device"),
        "the error names the I/O error: {}",
        outcome.message
    );
    let stderr = assert_stopped_after_failure(&mut daemon);
    let failed_on = if stderr.contains("fdatasync") {
        "fdatasync"
    } else {
        "write"
    };

    // Give the backing store room, remount (the journal replays), restart.
    drop(disk);
    backing.remount("size=96m");
    let disk = Mount::new(scratch.path().join("disk"), &["-o", "loop", path(&image)])
        .expect("mount the image again");
    let log = assert_recovers(&mut daemon, &outcome);
    let refused_kept = outcome
        .failed
        .iter()
        .filter(|id| log.id_counts.contains_key(*id))
        .count();
    eprintln!(
        "writeback error on {failed_on}: {} events acknowledged, the next append failed with \
         {:?} ({}); \
         after remounting the log holds {} events, lost 0 ({refused_kept} of the {} events of \
         the failed append reached the disk anyway: an fsync error leaves the outcome unknown)",
        outcome.acked.len(),
        outcome.code,
        outcome.message,
        log.events.len(),
        outcome.failed.len()
    );
    drop(disk);
    drop(backing);
}
