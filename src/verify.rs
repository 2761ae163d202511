//! `eventsrv verify`: check every log segment (header, every record's frame and CRC, the
//! ordering invariants) and every snapshot (header, checksum, trailer, and that the log location
//! it covers is a record boundary of this log), offline and read-only, and print what was found.
//!
//! Owns: the verification report and its exit code (0 nothing wrong, 1 problems found).
//! Must never: write, truncate or lock anything (a torn tail is reported, not cut: the daemon
//! cuts it at its next start). Safe to run beside a running daemon, which may show its newest
//! record as a torn tail while it is being written.

use crate::log::scan::{check_header, next_record, Next, OrderCheck};
use crate::log::segment::{list_segments, log_dir, segment_path};
use crate::snapshot::{list_snapshots, snapshots_dir, verify_snapshot_file};
use eventsrv_format::log_record::{LogRecord, SegmentHeader, SEGMENT_HEADER_BYTES};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub data_dir: PathBuf,
    pub segments: Vec<SegmentReport>,
    pub snapshots: Vec<SnapshotReport>,
    pub records: u64,
    pub events: u64,
    pub last_position: u64,
    /// Things that are wrong (corruption, gaps, bad snapshots). A torn tail is not one.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub records: u64,
    /// "ok", "torn tail: ...", or "corrupt at byte N: ...".
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotReport {
    pub path: PathBuf,
    pub position: Option<u64>,
    pub records: Option<u64>,
    pub bytes: u64,
    /// "ok" or what is wrong.
    pub status: String,
}

/// Where a wanted log location was found: (records up to it, last event position).
type Found = HashMap<(u64, u64), (u64, u64)>;

pub fn verify(data_dir: &Path) -> VerifyReport {
    let mut report = VerifyReport {
        data_dir: data_dir.to_path_buf(),
        segments: Vec::new(),
        snapshots: Vec::new(),
        records: 0,
        events: 0,
        last_position: 0,
        problems: Vec::new(),
    };

    // Snapshots first: their covered locations are looked for while the log is scanned.
    let dir = snapshots_dir(data_dir);
    let mut wanted: Found = HashMap::new();
    let mut headers = Vec::new();
    match list_snapshots(&dir) {
        Ok(snapshots) => {
            for (_, path) in snapshots {
                let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                match verify_snapshot_file(&path) {
                    Ok(header) => {
                        wanted.insert((header.location.segment, header.location.offset), (0, 0));
                        headers.push((path, bytes, Some(header)));
                    }
                    Err(error) => {
                        report
                            .problems
                            .push(format!("snapshot {}: {error}", path.display()));
                        report.snapshots.push(SnapshotReport {
                            path,
                            position: None,
                            records: None,
                            bytes,
                            status: error.to_string(),
                        });
                    }
                }
            }
        }
        Err(error) => report
            .problems
            .push(format!("cannot list {}: {error}", dir.display())),
    }

    let found = verify_log(data_dir, &mut report, &mut wanted);

    for (path, bytes, header) in headers {
        let header = header.expect("only verified headers are kept");
        let location = header.location;
        let status = if location.records == 0 {
            if (location.segment, location.offset) == (1, SEGMENT_HEADER_BYTES as u64) {
                "ok".to_string()
            } else {
                format!("an empty state at {location:?}, which is no start of this log")
            }
        } else {
            match found.get(&(location.segment, location.offset)) {
                Some(&(records, position))
                    if records == location.records && position == header.committed_position =>
                {
                    "ok".to_string()
                }
                Some(&(records, position)) => format!(
                    "covers {} records up to position {}, but the record ending at segment {} \
                     byte {} is record {records} after position {position}: another log's \
                     snapshot",
                    location.records, header.committed_position, location.segment, location.offset
                ),
                None if location.records > report.records => format!(
                    "covers {} records but the log has only {}: the snapshot is ahead of the log",
                    location.records, report.records
                ),
                None => format!(
                    "segment {} byte {} is not a record boundary of this log",
                    location.segment, location.offset
                ),
            }
        };
        if status != "ok" {
            report
                .problems
                .push(format!("snapshot {}: {status}", path.display()));
        }
        report.snapshots.push(SnapshotReport {
            path,
            position: Some(header.committed_position),
            records: Some(location.records),
            bytes,
            status,
        });
    }
    report.snapshots.sort_by(|a, b| a.path.cmp(&b.path));
    report
}

/// Scan every segment; returns where each wanted location was found.
fn verify_log(data_dir: &Path, report: &mut VerifyReport, wanted: &mut Found) -> Found {
    let dir = log_dir(data_dir);
    let mut found = Found::new();
    let indices = match list_segments(&dir) {
        Ok(indices) => indices,
        Err(error) => {
            report.problems.push(error.to_string());
            return found;
        }
    };
    let last = indices.last().copied().unwrap_or(0);
    let mut order = OrderCheck::new();
    // After a corrupt record the ordering of later records cannot be checked; their frames are.
    let mut ordered = true;
    for index in indices {
        let path = segment_path(&dir, index);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => {
                report
                    .problems
                    .push(format!("cannot read {}: {error}", path.display()));
                ordered = false;
                continue;
            }
        };
        let mut segment = SegmentReport {
            path: path.clone(),
            bytes: bytes.len() as u64,
            records: 0,
            status: "ok".into(),
        };
        let header = if ordered {
            check_header(&path, &bytes, index, order.last_position()).map_err(|e| e.to_string())
        } else {
            SegmentHeader::decode(&bytes)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        if let Err(why) = header {
            segment.status = format!("corrupt header: {why}");
            report
                .problems
                .push(format!("{}: {}", path.display(), segment.status));
            report.segments.push(segment);
            ordered = false;
            continue;
        }
        let mut at = SEGMENT_HEADER_BYTES;
        loop {
            match next_record(&bytes, at, 0) {
                Next::Record { record, len } => {
                    if ordered {
                        if let Err(why) = order.check_and_apply(&record) {
                            segment.status = format!("corrupt at byte {at}: {why}");
                            ordered = false;
                            break;
                        }
                    }
                    at += len;
                    segment.records += 1;
                    report.records += 1;
                    if let LogRecord::Event { position, .. } = record {
                        report.events += 1;
                        report.last_position = position;
                    }
                    let end = (index, at as u64);
                    if ordered && wanted.contains_key(&end) {
                        found.insert(end, (report.records, order.last_position()));
                    }
                }
                Next::End => break,
                Next::ZeroTail { .. } if index == last => break,
                Next::ZeroTail { bytes: zeros } => {
                    segment.status = format!(
                        "corrupt at byte {at}: sealed segment does not end after its last record \
                         ({zeros} zero bytes follow it)"
                    );
                    ordered = false;
                    break;
                }
                Next::Torn { why } if index == last => {
                    segment.status = format!(
                        "torn tail at byte {at} ({} bytes; the daemon cuts it at its next start): \
                         {why}",
                        bytes.len() - at
                    );
                    break;
                }
                Next::Torn { why } => {
                    segment.status =
                        format!("corrupt at byte {at}: sealed segment ends early: {why}");
                    ordered = false;
                    break;
                }
                Next::Corrupt { why } => {
                    segment.status = format!("corrupt at byte {at}: {why}");
                    ordered = false;
                    break;
                }
            }
        }
        if segment.status.starts_with("corrupt") {
            report
                .problems
                .push(format!("{}: {}", path.display(), segment.status));
        }
        report.segments.push(segment);
    }
    found
}

pub fn render_text(report: &VerifyReport) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "data dir:   {}", report.data_dir.display());
    let _ = writeln!(
        w,
        "log:        {} segments, {} records, {} events, last position {}",
        report.segments.len(),
        report.records,
        report.events,
        report.last_position
    );
    for segment in &report.segments {
        let _ = writeln!(
            w,
            "  {}  {} bytes, {} records: {}",
            segment.path.display(),
            segment.bytes,
            segment.records,
            segment.status
        );
    }
    let _ = writeln!(w, "snapshots:  {}", report.snapshots.len());
    for snapshot in &report.snapshots {
        let covers = match (snapshot.position, snapshot.records) {
            (Some(position), Some(records)) => {
                format!("position {position}, {records} records, ")
            }
            _ => String::new(),
        };
        let _ = writeln!(
            w,
            "  {}  {covers}{} bytes: {}",
            snapshot.path.display(),
            snapshot.bytes,
            snapshot.status
        );
    }
    if report.problems.is_empty() {
        let _ = writeln!(w, "result:     ok");
    } else {
        let _ = writeln!(w, "result:     {} problem(s)", report.problems.len());
        for problem in &report.problems {
            let _ = writeln!(w, "  PROBLEM: {problem}");
        }
    }
    out
}

/// `eventsrv verify`: exit 0 if nothing is wrong, 1 if something is.
pub fn run_verify_command(data_dir: &Path, json: bool) -> ExitCode {
    let report = verify(data_dir);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a verify report always serializes")
        );
    } else {
        print!("{}", render_text(&report));
    }
    if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
