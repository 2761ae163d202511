//! Log output: tracing to stderr, filtered by `EVENTSRV_LOG` (RUST_LOG syntax, default `info`),
//! as human-readable text or one JSON object per line.
//! Must never: write to stdout (the CLI's stdout carries data: JSON lines, status output).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub const FILTER_ENV: &str = "EVENTSRV_LOG";
pub const FILTER_DEFAULT: &str = "info";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Install the global subscriber (once; later calls are ignored).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env(FILTER_ENV).unwrap_or_else(|_| EnvFilter::new(FILTER_DEFAULT));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
