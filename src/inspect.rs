//! `eventsrv tail` and `eventsrv events`: events read straight from the log files, printed as
//! one JSON object per line.
//!
//! Owns: the JSON shape of an event line (`position`, `stream`, `version`, `type`, `event_id`
//! as uuid text, `recorded_at` as RFC 3339 UTC with microseconds, `metadata`, `payload` via
//! `vtree::to_json`).
//! Must never: write to the data directory: it works with or without a daemon running and
//! never repairs anything it finds.

use crate::config::FOLLOW_POLL_INTERVAL;
use crate::log::reader::LogCursor;
use eventsrv_format::log_record::{EventRecord, LogRecord};
use eventsrv_format::vtree;
use serde::Serialize;
use std::cell::Cell;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Serialize)]
pub struct EventLine<'a> {
    pub position: u64,
    pub stream: &'a str,
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub event_id: String,
    pub recorded_at: String,
    pub metadata: serde_json::Value,
    pub payload: serde_json::Value,
}

pub fn event_line(position: u64, event: &EventRecord) -> EventLine<'_> {
    EventLine {
        position,
        stream: &event.stream,
        version: event.stream_version,
        event_type: &event.event_type,
        event_id: uuid::Uuid::from_bytes(event.event_id)
            .hyphenated()
            .to_string(),
        recorded_at: rfc3339_us(event.recorded_at_us),
        metadata: value_json(&event.metadata),
        payload: value_json(&event.payload),
    }
}

fn value_json(bytes: &[u8]) -> serde_json::Value {
    vtree::to_json(bytes).unwrap_or_else(|e| serde_json::json!({ "$invalid": e.to_string() }))
}

/// `2026-11-23T08:00:00.123456Z`
pub fn rfc3339_us(unix_us: i64) -> String {
    let format = time::format_description::parse_borrowed::<2>(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z",
    )
    .expect("a valid static format description");
    time::OffsetDateTime::from_unix_timestamp_nanos(unix_us as i128 * 1000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("@{unix_us}us"))
}

/// `eventsrv tail`: events with position >= `from`, then (with `follow`) new ones as they come.
pub fn run_tail(data_dir: &Path, from: u64, follow: bool) -> ExitCode {
    print_events(data_dir, follow, &mut |position, _event| position >= from)
}

/// `eventsrv events --stream ID`: the stream's events, oldest first.
pub fn run_events(data_dir: &Path, stream: &str) -> ExitCode {
    print_events(data_dir, false, &mut |_, event| event.stream == stream)
}

fn print_events(
    data_dir: &Path,
    follow: bool,
    wanted: &mut dyn FnMut(u64, &EventRecord) -> bool,
) -> ExitCode {
    let mut cursor = match LogCursor::open(data_dir) {
        Ok(cursor) => cursor,
        Err(e) => {
            eprintln!("eventsrv: {e}");
            return ExitCode::from(1);
        }
    };
    let write_failed = Cell::new(false);
    let mut visit = |record: &LogRecord| -> bool {
        let LogRecord::Event { position, event } = record else {
            return true;
        };
        if !wanted(*position, event) {
            return true;
        }
        let line = serde_json::to_string(&event_line(*position, event))
            .expect("an event line always serializes");
        // Stdout is line-buffered: each event reaches a `--follow` reader at once.
        if writeln!(std::io::stdout().lock(), "{line}").is_err() {
            // The reader went away (e.g. `| head`): stop quietly.
            write_failed.set(true);
            return false;
        }
        true
    };
    loop {
        if let Err(e) = cursor.poll(&mut visit) {
            eprintln!("eventsrv: {e}");
            return ExitCode::from(1);
        }
        if write_failed.get() || !follow {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(FOLLOW_POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        assert_eq!(rfc3339_us(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_us(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
    }
}
