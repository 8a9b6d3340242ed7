//! The `signet` binary: parse the command line, set up logging, run, and report failure in one line.

use std::process::ExitCode;

use clap::Parser;
use signet::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server logs each request at info; CLI commands stay quiet unless asked.
    let default_filter = match cli.command {
        None | Some(Command::Serve) => "info",
        Some(_) => "warn",
    };
    let log = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // The server writes its one line per request from a thread of its own, in batches: a request
    // never waits for stderr, and a busy server makes one write per batch instead of one per
    // line. Nothing is dropped (a full queue slows requests down instead); the guard writes what
    // is queued when `signet serve` returns.
    let log_writer = if matches!(cli.command, None | Some(Command::Serve)) {
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .thread_name("signet-log")
            .finish(std::io::BufWriter::new(std::io::stderr()));
        log.with_writer(writer).init();
        Some(guard)
    } else {
        log.with_writer(std::io::stderr).init();
        None
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("signet: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // What the log still holds comes first, then the reason Signet stops.
            drop(log_writer);
            // `{:#}` prints the whole cause chain on one line.
            eprintln!("signet: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
