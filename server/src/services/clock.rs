//! Where the time comes from. Production reads the system clock; tests set it. The edge of each
//! request (handler, CLI command, watcher tick) reads it once and hands `now` down.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The time now.
    fn now(&self) -> DateTime<Utc>;
}

/// How a clock travels through the application.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// For tests of the built binary only (`SIGNET_TEST_CLOCK_FILE`): the system clock plus the
/// whole seconds written in a file, read at every clock read, so an end-to-end test moves the
/// server's time (and the CLI's) without sleeping. A missing, empty or unreadable file adds
/// nothing.
#[derive(Debug, Clone)]
pub struct OffsetFileClock {
    file: std::path::PathBuf,
}

impl OffsetFileClock {
    pub fn new(file: std::path::PathBuf) -> Self {
        Self { file }
    }

    fn offset(&self) -> TimeDelta {
        std::fs::read_to_string(&self.file)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .and_then(TimeDelta::try_seconds)
            .unwrap_or_default()
    }
}

impl Clock for OffsetFileClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
            .checked_add_signed(self.offset())
            .unwrap_or_else(Utc::now)
    }
}

/// A clock that stands still until told to move: tests drive time with it instead of sleeping.
#[derive(Debug)]
pub struct SettableClock {
    now: Mutex<DateTime<Utc>>,
}

impl SettableClock {
    /// A clock showing `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    /// Shows `now` from here on.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = now;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: TimeDelta) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Clock for SettableClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settable_clock_moves_only_when_told() {
        let start = DateTime::<Utc>::UNIX_EPOCH;
        let clock = SettableClock::at(start);
        assert_eq!(clock.now(), start);
        clock.advance(TimeDelta::minutes(1));
        assert_eq!(clock.now(), start + TimeDelta::minutes(1));
        clock.set(start);
        assert_eq!(clock.now(), start);
        assert!(SystemClock.now() > start);
    }
}
