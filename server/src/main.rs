//! The `signet` binary: parse the command line, set up logging, run, and report failure in one line.

use std::process::ExitCode;

use clap::Parser;
use signet::cli::{Cli, Command};
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

/// How log lines are written (`SIGNET_LOG_FORMAT`).
#[derive(Debug, Clone, Copy)]
enum LogFormat {
    /// One line of text per event, for people.
    Text,
    /// One JSON object per line, the request's span (method, uri, request id) inside, for log
    /// pipelines.
    Json,
}

fn log_format() -> Result<LogFormat, String> {
    match std::env::var("SIGNET_LOG_FORMAT").as_deref() {
        Err(_) | Ok("" | "text") => Ok(LogFormat::Text),
        Ok("json") => Ok(LogFormat::Json),
        Ok(other) => Err(format!(
            "SIGNET_LOG_FORMAT is {other:?}; it must be \"text\" or \"json\""
        )),
    }
}

/// Starts logging to `writer`.
fn init_log<W>(format: LogFormat, filter: EnvFilter, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => log
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => log
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match log_format() {
        Ok(format) => format,
        Err(message) => {
            eprintln!("signet: error: {message}");
            return ExitCode::FAILURE;
        }
    };
    // The server logs each request at info; CLI commands stay quiet unless asked.
    let default_filter = match cli.command {
        None | Some(Command::Serve) => "info",
        Some(_) => "warn",
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // The server writes its one line per request from a thread of its own, in batches: a request
    // never waits for stderr, and a busy server makes one write per batch instead of one per
    // line. Nothing is dropped (a full queue slows requests down instead); the guard writes what
    // is queued when `signet serve` returns.
    let log_writer = if matches!(cli.command, None | Some(Command::Serve)) {
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .thread_name("signet-log")
            .finish(std::io::BufWriter::new(std::io::stderr()));
        init_log(format, filter, writer);
        Some(guard)
    } else {
        init_log(format, filter, std::io::stderr);
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
