//! The `eventsrv` binary: parses the command line and hands over to [`eventsrv_daemon::cli`].

fn main() -> std::process::ExitCode {
    eventsrv_daemon::cli::main()
}
