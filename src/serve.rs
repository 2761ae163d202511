//! `eventsrv serve`: the daemon's life from start to exit code.
//!
//! Owns: the start-up order (lock the data dir, install signal handlers, bind the socket, boot,
//! start the writer, serve) and the shutdown order (stop accepting and remove the socket, close
//! connections, let the writer answer what is queued, sync, write a final snapshot, clear the
//! daemon pid).
//! Must never: exit 0 after a storage failure, or leave its socket file behind on a clean stop.

use crate::boot::{self, BootSummary};
use crate::config::ServeConfig;
use crate::connection::ConnectionContext;
use crate::data_dir;
use crate::log::Log;
use crate::server::{self, Server};
use crate::shutdown::ShutdownHandle;
use crate::snapshot::SnapshotSchedule;
use crate::state::StateStore;
use crate::status::DaemonFacts;
use crate::writer::{Counters, Writer, WriterExit, WriterMessage};
use crate::writer_queue::writer_queue;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::sync::Arc;

/// Run the daemon; returns the process exit code.
pub fn run(config: ServeConfig) -> ExitCode {
    match start(&config) {
        Ok(code) => code,
        Err(why) => {
            tracing::error!("eventsrv cannot start: {why}");
            ExitCode::from(1)
        }
    }
}

fn start(config: &ServeConfig) -> Result<ExitCode, String> {
    tracing::info!(
        data_dir = %config.data_dir.display(),
        socket = %config.socket.display(),
        region = %config.region.display(),
        region_bytes = config.region_bytes,
        version = env!("CARGO_PKG_VERSION"),
        "eventsrv starting"
    );
    let _lock = data_dir::lock(&config.data_dir).map_err(|e| e.to_string())?;
    let (shutdown, waiter) =
        ShutdownHandle::new().map_err(|e| format!("cannot create the shutdown pipe: {e}"))?;
    shutdown
        .install_signal_handlers()
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let listener = server::bind(&config.socket, config.socket_mode).map_err(|e| e.to_string())?;
    let access = config.access();
    let booted = access
        .apply_to_socket(&config.socket)
        .map_err(|e| e.to_string())
        .and_then(|()| boot::boot(config).map_err(|e| e.to_string()))
        .and_then(|booted| {
            // Adopted or newly built, the region gets the configured owner, group and mode
            // before the first client is served (it is created owner-only).
            access
                .apply_to_region(&config.region)
                .map_err(|e| e.to_string())?;
            Ok(booted)
        });
    let (log, region, summary) = match booted {
        Ok(booted) => booted,
        Err(error) => {
            let _ = std::fs::remove_file(&config.socket);
            return Err(error);
        }
    };
    Ok(run_daemon(
        config, listener, log, region, summary, shutdown, waiter,
    ))
}

/// Serve with a booted log and state until shutdown. Generic so tests can run it on an
/// in-memory state.
pub fn run_daemon<S: StateStore + Send + 'static>(
    config: &ServeConfig,
    listener: UnixListener,
    log: Log,
    state: S,
    summary: BootSummary,
    shutdown: ShutdownHandle,
    waiter: UnixStream,
) -> ExitCode {
    let counters = Arc::new(Counters::default());
    let (queue_tx, queue_rx) = writer_queue();
    let facts = DaemonFacts::now(config.socket.clone(), config.data_dir.clone());
    let schedule = SnapshotSchedule::new(config, summary.newest_snapshot);
    let writer = Writer::new(
        log,
        state,
        Arc::clone(&counters),
        summary,
        facts,
        shutdown.clone(),
    )
    .with_snapshots(schedule);
    let writer_thread = match std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || writer.run(queue_rx))
    {
        Ok(thread) => thread,
        Err(e) => {
            tracing::error!("cannot start the writer thread: {e}");
            let _ = std::fs::remove_file(&config.socket);
            return ExitCode::from(1);
        }
    };
    let context = Arc::new(ConnectionContext {
        writer: queue_tx.clone(),
        counters,
        region_path: config.region.display().to_string(),
    });
    tracing::info!(socket = %config.socket.display(), pid = std::process::id(), "eventsrv ready");
    match Server::new(listener, config.socket.clone(), context, waiter) {
        Ok(server) => server.run(),
        Err(e) => {
            tracing::error!("cannot start the event loop: {e}");
            let _ = std::fs::remove_file(&config.socket);
            shutdown.fail();
        }
    }
    tracing::info!("shutting down: socket closed, letting the writer finish what is queued");
    // A writer that already stopped (storage failure) no longer receives: that is fine.
    let _ = queue_tx.send(WriterMessage::Shutdown);
    drop(queue_tx);
    let exit = writer_thread.join().unwrap_or(WriterExit::Failed);
    if exit == WriterExit::Clean && !shutdown.failed() {
        tracing::info!("eventsrv stopped cleanly");
        ExitCode::SUCCESS
    } else {
        tracing::error!("eventsrv stopped after a failure");
        ExitCode::from(1)
    }
}
