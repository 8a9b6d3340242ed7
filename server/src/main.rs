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

/// mimalloc: each thread allocates from pages of its own, without the locks and the free-list
/// consolidation that were a third of a dashboard page's CPU under glibc's `malloc` (a page:
/// 666 → 408 µs of CPU, the same build otherwise).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc, told to give memory back soon: a freed page goes back to the system a few
/// milliseconds later (the option is 1 ms; mimalloc multiplies it by 10 for its arenas) rather
/// than a second later (a thousand-key JWKS is megabytes, rebuilt after every change). Not at
/// once: at 0 every page freed was a system call and a TLB shootdown on the other core, and the
/// next allocation a page fault (a signed-in page with 12 keys: 1,488–1,494 µs of CPU at 0,
/// 919–933 µs at 1). Not later either: from 2 up, the memory freed as the server starts is still
/// held when it goes idle (idle: 17.7–18.1 MB at 1, up to 21.1 MB at 2 and 20.8 MB at 10).
fn tune_allocator() {
    // `mi_option_e` in mimalloc.h (the version is pinned in Cargo.toml; the index is the same in
    // its v2 and v3).
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // mimalloc reads `MIMALLOC_PURGE_DELAY` itself; an operator's value stays.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` only stores an option's value; 1 is valid for this one.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 1) };
}

/// No transparent huge pages for this process. Where the system turns them on for every
/// process, each 2 MiB of mimalloc's reserved arenas that is touched would be resident whole
/// (idle: 26.4 MB with them, 22 MB without). Set by a constructor, before `main`: the runtime
/// allocates before `main`, and numbered `.init_array` entries run before mimalloc's own.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array.00100")]
static NO_HUGE_PAGES: extern "C" fn() = {
    extern "C" fn no_huge_pages() {
        // SAFETY: PR_SET_THP_DISABLE only sets a flag of this process; a refusal leaves the
        // system's setting.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
    no_huge_pages
};

/// The server's threads run under `SCHED_BATCH` (Linux): a thread the network wakes no longer
/// preempts one that is signing. Under the default policy a token's RSA signature (about 250 µs)
/// was cut into by the async workers the next requests woke, about 1.4 times a signature (the
/// signing threads' involuntary context switches): `POST /oauth/token` cost 317 µs of CPU and
/// ran at 5,810 tokens/s, against 287 µs and 6,452 tokens/s under `SCHED_BATCH` (4 alternating
/// pairs, `wrk -t2 -c16`, `openssl speed` 8,003 signatures/s). The JWKS's rate and latency, alone
/// or beside the token load, did not move. Every thread, the database's included: with SQLite's
/// threads left at the default they still woke into the signatures and the tokens gained nothing.
/// It first cost the signed-in page's p99 at 32 connections saturating both cores (14–17 ms went
/// to 50–80 ms): every request in flight rechecked its session at once, a burst of writes a
/// second in which a SQLite thread holding the write lock no longer cut in and the others slept in
/// SQLite's busy handler. One request rechecks now (`OperatorService::check`), and the p99 is
/// 12–15 ms under either policy. Batch threads are still preempted by the scheduler's tick, and
/// other processes' threads still preempt Signet's as before: the policy asks nothing of the
/// system. Set on the main thread before any other starts, so every thread inherits it; `None`
/// when it was set, else the reason it was not.
#[cfg(target_os = "linux")]
fn batch_scheduling() -> Option<std::io::Error> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `sched_setscheduler` reads `param`, a valid `sched_param` for SCHED_BATCH, and
    // changes only the calling thread's policy (pid 0); no privilege is needed to lower it.
    let failed = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } != 0;
    failed.then(std::io::Error::last_os_error)
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let serving = matches!(cli.command, None | Some(Command::Serve));
    #[cfg(target_os = "linux")]
    let scheduling = serving.then(batch_scheduling).flatten();
    let format = match log_format() {
        Ok(format) => format,
        Err(message) => {
            eprintln!("signet: error: {message}");
            return ExitCode::FAILURE;
        }
    };
    // The server logs each request at info; CLI commands stay quiet unless asked.
    let default_filter = if serving { "info" } else { "warn" };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // The server's lines are gathered in memory and written by a thread of its own in batches
    // (`signet::log`): a request never waits for stderr nor wakes another thread. The guard
    // writes what is left when `signet serve` returns.
    let log_writer = if serving {
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
    #[cfg(target_os = "linux")]
    if let Some(error) = scheduling {
        tracing::warn!(%error, "cannot run the server's threads under SCHED_BATCH; they keep the default policy");
    }
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
