//! Where the server's log lines go: gathered in memory and written to stderr by a thread of its
//! own every few milliseconds, in one write per batch.
//!
//! A request appends its line under a mutex and returns: it never waits for stderr and never
//! wakes another thread (a queue with a blocked reader, such as `tracing_appender`'s, costs a
//! futex wake-up and a context switch per line: measured, a quarter of the JWKS's CPU). Nothing
//! is dropped: past [`BATCH_LIMIT`] bytes the request that fills the batch writes it itself.
//! Lines written in the last [`FLUSH_EVERY`] before an abort are lost, as with any buffered log;
//! a clean stop writes everything ([`FlushGuard`]).

use std::{
    io::{self, Write},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use tracing_subscriber::fmt::MakeWriter;

/// How long a line waits, at most, before it reaches stderr.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// A batch this large is written at once, by the request that filled it.
pub const BATCH_LIMIT: usize = 256 * 1024;

struct Shared<W> {
    batch: Mutex<Vec<u8>>,
    /// Held while a batch is written, taken before the batch is released: batches reach the
    /// output in the order their lines were appended.
    output: Mutex<Output<W>>,
    stopping: AtomicBool,
}

/// The output, and the buffer of the batch written last, emptied: the two buffers take turns,
/// so gathering lines does not allocate once both have grown to a batch's size (a new buffer per
/// batch was a 256 KiB block grown by doubling, then given back to the system: the allocator
/// returns freed pages within milliseconds, `main.rs`).
struct Output<W> {
    to: W,
    spare: Vec<u8>,
}

impl<W: Write> Shared<W> {
    /// Writes what is gathered; `at_least` bytes must be there (0: anything).
    fn write_out(&self, at_least: usize) {
        let mut batch = self.batch.lock().unwrap_or_else(PoisonError::into_inner);
        if batch.is_empty() || batch.len() < at_least {
            return;
        }
        let mut output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        let Output { to, spare } = &mut *output;
        std::mem::swap(&mut *batch, spare);
        drop(batch);
        // Nowhere to report a failing stderr: the lines are dropped, as `eprintln!` would.
        let _ = to.write_all(spare).and_then(|()| to.flush());
        spare.clear();
    }
}

/// The [`MakeWriter`] of the server's log.
pub struct BatchedWriter<W> {
    shared: Arc<Shared<W>>,
}

impl<W> Clone for BatchedWriter<W> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Writes what is left and stops the writing thread when dropped.
pub struct FlushGuard<W: Write + Send + 'static> {
    shared: Arc<Shared<W>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl<W: Write + Send + 'static> BatchedWriter<W> {
    /// Starts the thread that writes to `output` every [`FLUSH_EVERY`].
    pub fn start(output: W) -> io::Result<(Self, FlushGuard<W>)> {
        let shared = Arc::new(Shared {
            batch: Mutex::new(Vec::with_capacity(64 * 1024)),
            output: Mutex::new(Output {
                to: output,
                spare: Vec::with_capacity(64 * 1024),
            }),
            stopping: AtomicBool::new(false),
        });
        let writer = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("signet-log".into())
            .spawn(move || {
                while !writer.stopping.load(Ordering::Acquire) {
                    thread::park_timeout(FLUSH_EVERY);
                    writer.write_out(0);
                }
            })?;
        Ok((
            Self {
                shared: Arc::clone(&shared),
            },
            FlushGuard {
                shared,
                thread: Some(thread),
            },
        ))
    }
}

impl<W: Write + Send + 'static> Drop for FlushGuard<W> {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
        self.shared.write_out(0);
    }
}

/// One event's line (the formatter writes each event whole, in one call).
pub struct Line<'a, W> {
    shared: &'a Shared<W>,
}

impl<W: Write> Shared<W> {
    /// Adds whole lines to the batch; the caller writes it out when it is full.
    fn append(&self, bytes: &[u8]) {
        let full = {
            let mut batch = self.batch.lock().unwrap_or_else(PoisonError::into_inner);
            batch.extend_from_slice(bytes);
            batch.len() >= BATCH_LIMIT
        };
        if full {
            self.write_out(BATCH_LIMIT);
        }
    }
}

impl<W: Write> BatchedWriter<W> {
    /// Adds whole lines, written as they are (the request log's own line:
    /// `http::request_log`).
    pub fn append(&self, lines: &[u8]) {
        self.shared.append(lines);
    }
}

impl<W: Write> Write for Line<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.shared.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a, W: Write + Send + 'static> MakeWriter<'a> for BatchedWriter<W> {
    type Writer = Line<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// An output the test can read while the writer owns it.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_and_the_guard_writes_the_rest() {
        let sink = Sink::default();
        let (writer, guard) = BatchedWriter::start(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                thread::spawn(move || {
                    for i in 0..5_000 {
                        // Whole, in one call, as the formatter writes each event.
                        let line = format!("{t} {i:05} {}\n", "x".repeat(40));
                        writer.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 20_000);
        for t in 0..4 {
            let mine: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(&format!("{t} ")))
                .collect();
            let mut sorted = mine.clone();
            sorted.sort_unstable();
            assert!(mine == sorted, "thread {t}'s lines out of order");
        }
    }
}
