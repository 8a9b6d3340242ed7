//! The `signet` binary: parse the command line, set up logging, run, and report failure in one line.

use std::process::ExitCode;

use clap::Parser;
use signet::{
    cli::{Cli, Command},
    http::{log_line::LogLines, request_log::RequestLog},
    log::BatchedWriter,
};
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

/// How log lines are written (`SIGNET_LOG_FORMAT`).
fn log_format() -> Result<LogLines, String> {
    match std::env::var("SIGNET_LOG_FORMAT").as_deref() {
        Err(_) | Ok("" | "text") => Ok(LogLines::Text),
        Ok("json") => Ok(LogLines::Json),
        Ok(other) => Err(format!(
            "SIGNET_LOG_FORMAT is {other:?}; it must be \"text\" or \"json\""
        )),
    }
}

/// Starts logging to `writer`; `true` if the lines are coloured (stderr is a terminal).
fn init_log<W>(lines: LogLines, filter: EnvFilter, writer: W) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let ansi =
        matches!(lines, LogLines::Text) && std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .event_format(lines)
        .init();
    ansi
}

/// glibc's allocator, told to give memory back: large blocks (a JWKS or key list of a thousand
/// keys is megabytes, rebuilt after every change) come from `mmap` and return to the system
/// when freed, instead of the threshold rising until they stay in the heap for good; the heap's
/// free top is trimmed past 128 KiB; and two arenas rather than eight per core. Measured after
/// growing the history to 1,000 previous keys: 65 MB resident by default, 43 MB like this.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    const THRESHOLD: libc::c_int = 128 * 1024;
    // SAFETY: `mallopt` only sets allocator parameters; it is called first thing in `main`,
    // before any other thread exists. A refused parameter (return value 0) leaves the default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, THRESHOLD);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
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
    // The server's lines are gathered in memory and written by a thread of its own in batches
    // (`signet::log`): a request never waits for stderr nor wakes another thread. The guard
    // writes what is left when `signet serve` returns.
    let log_writer = if matches!(cli.command, None | Some(Command::Serve)) {
        match BatchedWriter::start(std::io::stderr()) {
            Ok((writer, guard)) => {
                let ansi = init_log(format, filter, writer.clone());
                // Each request's line is written straight into the batch (a terminal's
                // lines stay coloured by `tracing`).
                if !ansi {
                    RequestLog::install(format, move |lines| writer.append(lines));
                }
                Some(guard)
            }
            Err(error) => {
                eprintln!("signet: cannot start the log writer: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        let _coloured = init_log(format, filter, std::io::stderr);
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
