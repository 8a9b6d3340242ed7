//! The usage ledger's rules (SPEC §11): what one process records about a key's signatures, how
//! the records of every process add up, and when a key is safe to revoke.
//!
//! The invariant: the recorded latest expiry of a key is never earlier than the real latest
//! `exp` of any token it signed — across crashes and processes — without a database write per
//! token. Each process keeps its own row per key. Before it signs a token whose `exp` is past
//! its row's durable `reserved_until`, it writes a new reservation [`LEASE_SECONDS`] further
//! ahead, and only then signs; so the durable value is always ahead of every token, and one
//! write covers the tokens of the next few minutes. Once the key no longer signs (it stopped
//! being current), the process lowers its reservation to the exact latest expiry it recorded.
//! A process that dies keeps its reservation: later than the truth, never earlier.

use app::keys::KeyState;
use chrono::{DateTime, Utc};

/// How far past the `exp` that needs it a reservation reaches, in seconds.
pub const LEASE_SECONDS: i64 = 300;

/// One process's record of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub kid: String,
    /// The process (one per start) that keeps this row.
    pub writer: String,
    pub tokens_signed: u64,
    pub first_signed_at: Option<DateTime<Utc>>,
    pub last_signed_at: Option<DateTime<Utc>>,
    /// The latest `exp` this process signed, as last flushed (Unix seconds).
    pub latest_expiry: Option<i64>,
    /// Durable bound: no token this process signed with the key expires after it.
    pub reserved_until: i64,
}

impl UsageRow {
    /// A row with nothing signed yet.
    pub fn empty(kid: &str, writer: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            writer: writer.to_owned(),
            tokens_signed: 0,
            first_signed_at: None,
            last_signed_at: None,
            latest_expiry: None,
            reserved_until: i64::MIN,
        }
    }

    /// Whether signing a token expiring at `exp` needs a new reservation first.
    pub fn needs_reservation(&self, exp: i64) -> bool {
        exp > self.reserved_until
    }

    /// The reservation to write before signing tokens expiring at `exp`.
    pub fn reservation_for(exp: i64) -> i64 {
        exp.saturating_add(LEASE_SECONDS)
    }

    /// Counts `count` tokens signed at `now`, the latest expiring at `exp`.
    pub fn count(&mut self, count: u64, exp: i64, now: DateTime<Utc>) {
        self.tokens_signed = self.tokens_signed.saturating_add(count);
        self.first_signed_at.get_or_insert(now);
        self.last_signed_at = Some(self.last_signed_at.map_or(now, |last| last.max(now)));
        self.latest_expiry = Some(self.latest_expiry.map_or(exp, |latest| latest.max(exp)));
    }

    /// The reservation once the key signs no more: the exact latest expiry.
    pub fn settled(&self) -> i64 {
        self.latest_expiry.unwrap_or(i64::MIN)
    }
}

/// A key's usage, every process's rows added up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsage {
    pub kid: String,
    pub tokens_signed: u64,
    pub first_signed_at: Option<DateTime<Utc>>,
    pub last_signed_at: Option<DateTime<Utc>>,
    /// No token the key signed is valid after this (Unix seconds); `None` if it never signed.
    pub live_tokens_until: Option<i64>,
}

impl KeyUsage {
    /// Adds up the rows of one key.
    pub fn combine<'a>(kid: &str, rows: impl IntoIterator<Item = &'a UsageRow>) -> Self {
        let mut usage = Self {
            kid: kid.to_owned(),
            tokens_signed: 0,
            first_signed_at: None,
            last_signed_at: None,
            live_tokens_until: None,
        };
        for row in rows {
            usage.tokens_signed = usage.tokens_signed.saturating_add(row.tokens_signed);
            usage.first_signed_at = earliest(usage.first_signed_at, row.first_signed_at);
            usage.last_signed_at = usage.last_signed_at.max(row.last_signed_at);
            // A row that reserved but never counted (it died between the two) still bounds.
            let bound = row.reserved_until.max(row.settled());
            if bound != i64::MIN {
                usage.live_tokens_until =
                    Some(usage.live_tokens_until.map_or(bound, |b| b.max(bound)));
            }
        }
        usage
    }

    /// Whether a key in `state` can be revoked at `now` without cutting off a live token: a
    /// previous key that never signed, or whose tokens have all expired.
    pub fn safe_to_revoke(&self, state: KeyState, now: DateTime<Utc>) -> bool {
        state == KeyState::Previous
            && self
                .live_tokens_until
                .is_none_or(|until| until <= now.timestamp())
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }

    #[test]
    fn a_reservation_is_needed_only_past_the_durable_bound() {
        let mut row = UsageRow::empty("k", "w");
        assert!(row.needs_reservation(100));
        row.reserved_until = UsageRow::reservation_for(100);
        assert!(!row.needs_reservation(100 + LEASE_SECONDS));
        assert!(row.needs_reservation(101 + LEASE_SECONDS));
        row.count(2, 100, at(10));
        row.count(1, 90, at(20));
        assert_eq!(row.tokens_signed, 3);
        assert_eq!(row.settled(), 100);
        assert_eq!(
            (row.first_signed_at, row.last_signed_at),
            (Some(at(10)), Some(at(20)))
        );
    }

    #[test]
    fn rows_add_up_and_a_dead_writers_reservation_still_bounds() {
        let mut a = UsageRow::empty("k", "a");
        a.count(5, 1000, at(100));
        a.reserved_until = 1000;
        let mut dead = UsageRow::empty("k", "b");
        dead.reserved_until = 1300; // reserved, then killed before it flushed a count
        let usage = KeyUsage::combine("k", [&a, &dead]);
        assert_eq!(usage.tokens_signed, 5);
        assert_eq!(usage.live_tokens_until, Some(1300));
        assert!(!usage.safe_to_revoke(KeyState::Previous, at(1299)));
        assert!(usage.safe_to_revoke(KeyState::Previous, at(1300)));
        assert!(!usage.safe_to_revoke(KeyState::Current, at(5000)));
    }

    #[test]
    fn a_key_that_never_signed_is_safe_to_revoke_once_previous() {
        let usage = KeyUsage::combine("k", []);
        assert_eq!(usage.live_tokens_until, None);
        assert!(usage.safe_to_revoke(KeyState::Previous, at(0)));
        assert!(!usage.safe_to_revoke(KeyState::Next, at(0)));
    }
}
