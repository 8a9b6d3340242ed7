//! The usage ledger of this process: counts every signature, keeps the durable reservation
//! ahead of every `exp` it signs (the rule is in `domain/usage.rs`), and flushes the counts
//! every second — so signing writes to the database once per lease, not once per token.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use app::keys::KeyState;
use chrono::{DateTime, Utc};

use super::ServiceError;
use crate::{
    domain::usage::{KeyUsage, UsageRow},
    store::UsageStore,
};

/// How often the counts are flushed and retired keys' reservations settled.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// How long the dashboard shows other processes' rows as last read: they flush only every
/// [`FLUSH_EVERY`] anyway, and a signed-in page then reads no database.
pub const OTHERS_SHOWN_FOR: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// Cheap to clone; every clone is the same ledger.
#[derive(Clone)]
pub struct UsageLedger {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn UsageStore>,
    /// This process's name in the ledger: one per start.
    writer: String,
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Entry>>>>,
    /// Other processes' rows as the dashboard last read them ([`UsageLedger::usage_shown`]).
    shown: Mutex<Option<OthersRead>>,
}

/// Other processes' rows for `kids`, read at `at`.
struct OthersRead {
    at: DateTime<Utc>,
    kids: Vec<String>,
    rows: Vec<UsageRow>,
}

/// This process's row for one key, and whether the database has seen it as it stands.
struct Entry {
    row: UsageRow,
    dirty: bool,
}

impl std::fmt::Debug for UsageLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UsageLedger({})", self.inner.writer)
    }
}

impl UsageLedger {
    /// A ledger writing as a new process.
    pub fn new(store: Arc<dyn UsageStore>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                writer: crate::domain::material::new_kid(),
                entries: Mutex::default(),
                shown: Mutex::default(),
            }),
        }
    }

    fn entry(&self, kid: &str) -> Arc<tokio::sync::Mutex<Entry>> {
        let mut entries = self
            .inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(entries.entry(kid.to_owned()).or_insert_with(|| {
            Arc::new(tokio::sync::Mutex::new(Entry {
                row: UsageRow::empty(kid, &self.inner.writer),
                dirty: false,
            }))
        }))
    }

    /// Every key's entry, as a snapshot: the table is not held while an entry is awaited.
    fn entries(&self) -> Vec<Arc<tokio::sync::Mutex<Entry>>> {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Records `count` tokens about to be signed by `kid` at `now`, the latest expiring at
    /// `exp`. Call it before signing: when `exp` is past the durable reservation, a new one is
    /// written first, and if that write fails nothing may be signed.
    pub async fn record(
        &self,
        kid: &str,
        count: u64,
        exp: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let entry = self.entry(kid);
        let mut entry = entry.lock().await;
        if entry.row.needs_reservation(exp) {
            let mut reserved = entry.row.clone();
            reserved.count(count, exp, now);
            reserved.reserved_until = UsageRow::reservation_for(exp);
            self.inner.store.write_usage(&reserved).await?;
            entry.row = reserved;
            entry.dirty = false;
        } else {
            entry.row.count(count, exp, now);
            entry.dirty = true;
        }
        Ok(())
    }

    /// Writes the counts that changed, and settles the reservation of every key other than
    /// `current` (it signs no more) down to the exact latest expiry it signed.
    pub async fn flush(&self, current: Option<&str>) -> Result<(), ServiceError> {
        Self::flush_together(&[(self, current)]).await
    }

    /// [`flush`](Self::flush) for several ledgers (a process's tenants): every count that
    /// changed is written in one transaction, so a thousand tenants cost one commit a second.
    pub async fn flush_together(
        ledgers: &[(&UsageLedger, Option<&str>)],
    ) -> Result<(), ServiceError> {
        let mut taken = Vec::new();
        let mut settled = Ok(());
        for (ledger, current) in ledgers {
            match ledger.settle_and_take(*current, &mut taken).await {
                Ok(()) => {}
                // The counts taken so far are still written; the settling is tried again.
                Err(error) => settled = Err(error),
            }
        }
        let Some((first, _)) = ledgers.first() else {
            return settled;
        };
        let rows: Vec<UsageRow> = taken.iter().map(|(_, row)| row.clone()).collect();
        if let Err(error) = first.inner.store.write_counts_together(&rows).await {
            for (entry, _) in taken {
                entry.lock().await.dirty = true;
            }
            return Err(error.into());
        }
        settled
    }

    /// Settles retired keys' reservations (written at once, the entry locked), and takes the
    /// other entries' changed counts into `taken`, marked clean (written unlocked, so signing
    /// goes on while the database is slow or away: the write only moves counts forward).
    async fn settle_and_take(
        &self,
        current: Option<&str>,
        taken: &mut Vec<(Arc<tokio::sync::Mutex<Entry>>, UsageRow)>,
    ) -> Result<(), ServiceError> {
        for entry in self.entries() {
            let mut locked = entry.lock().await;
            let retired = current != Some(locked.row.kid.as_str());
            if retired && locked.row.reserved_until > locked.row.settled() {
                // Lowering the reservation must not cross a signature raising it: the entry
                // stays locked until the write is done.
                let mut row = locked.row.clone();
                row.reserved_until = row.settled();
                self.inner.store.write_usage(&row).await?;
                locked.row = row;
                locked.dirty = false;
            } else if locked.dirty {
                let row = locked.row.clone();
                locked.dirty = false;
                drop(locked);
                taken.push((entry, row));
            }
        }
        Ok(())
    }

    /// This process's rows as they stand (also what is not flushed yet).
    async fn own_rows(&self) -> HashMap<String, UsageRow> {
        let entries = self.entries();
        let mut rows = HashMap::new();
        for entry in entries {
            let row = entry.lock().await.row.clone();
            rows.insert(row.kid.clone(), row);
        }
        rows
    }

    /// The usage of each key in `kids`: every process's rows, this one's as it stands.
    pub async fn usage(&self, kids: &[String]) -> Result<Vec<KeyUsage>, ServiceError> {
        let others = self.others(kids).await?;
        Ok(self.combine(kids, others).await)
    }

    /// [`usage`](Self::usage) for the dashboard at `now`: other processes' rows as read within
    /// [`OTHERS_SHOWN_FOR`] for the same keys, this one's as they stand. Never a decision's
    /// input: revocations read [`usage`](Self::usage).
    pub async fn usage_shown(
        &self,
        kids: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<KeyUsage>, ServiceError> {
        let recent = self
            .inner
            .shown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|read| read.kids == kids && read.at <= now && now - read.at < OTHERS_SHOWN_FOR)
            .map(|read| read.rows.clone());
        let others = match recent {
            Some(rows) => rows,
            None => {
                let rows = self.others(kids).await?;
                *self
                    .inner
                    .shown
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(OthersRead {
                    at: now,
                    kids: kids.to_vec(),
                    rows: rows.clone(),
                });
                rows
            }
        };
        Ok(self.combine(kids, others).await)
    }

    /// Other processes' rows for `kids`, from the database.
    async fn others(&self, kids: &[String]) -> Result<Vec<UsageRow>, ServiceError> {
        let mut stored = self.inner.store.keys_usage(kids).await?;
        stored.retain(|row| row.writer != self.inner.writer);
        Ok(stored)
    }

    /// Each key's usage from `others` and this process's rows as they stand.
    async fn combine(&self, kids: &[String], mut rows: Vec<UsageRow>) -> Vec<KeyUsage> {
        let own = self.own_rows().await;
        rows.extend(own.into_values().filter(|row| kids.contains(&row.kid)));
        kids.iter()
            .map(|kid| KeyUsage::combine(kid, rows.iter().filter(|row| &row.kid == kid)))
            .collect()
    }
}

/// A key's usage as the API, the page and the CLI show it.
pub fn usage_view(usage: &KeyUsage, state: KeyState, now: DateTime<Utc>) -> app::keys::KeyUsage {
    let iso = super::published::iso;
    app::keys::KeyUsage {
        kid: usage.kid.clone(),
        tokens_signed: usage.tokens_signed,
        first_signed_at: usage.first_signed_at.map(iso),
        last_signed_at: usage.last_signed_at.map(iso),
        live_tokens_until: usage
            .live_tokens_until
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .map(iso),
        safe_to_revoke: usage.safe_to_revoke(state, now),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::SqlStore;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    async fn ledger() -> (UsageLedger, Arc<SqlStore>) {
        let store = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
        (UsageLedger::new(store.clone()), store)
    }

    #[tokio::test]
    async fn a_reservation_is_durable_before_the_token_and_one_covers_many() {
        let (ledger, store) = ledger().await;
        ledger.record("k1", 1, 1_000, at(100)).await.unwrap();
        let stored = store.key_usage("k1").await.unwrap();
        assert_eq!(stored.len(), 1);
        assert!(stored[0].reserved_until >= 1_000);
        // Tokens within the lease write nothing.
        ledger.record("k1", 1, 1_100, at(200)).await.unwrap();
        assert_eq!(store.key_usage("k1").await.unwrap(), stored);
        let usage = ledger.usage(&["k1".into()]).await.unwrap();
        assert_eq!(usage[0].tokens_signed, 2);
        assert!(usage[0].live_tokens_until.unwrap() >= 1_100);
    }

    #[tokio::test]
    async fn the_ledgers_of_many_tenants_are_flushed_together() {
        let store = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
        let (a, b) = (
            UsageLedger::new(store.clone()),
            UsageLedger::new(store.clone()),
        );
        a.record("ka", 1, 1_000, at(100)).await.unwrap();
        b.record("kb", 1, 1_000, at(100)).await.unwrap();
        a.record("ka", 2, 1_010, at(110)).await.unwrap();
        b.record("kb", 4, 1_020, at(120)).await.unwrap();
        // b's key is retired: its reservation settles; a's counts go in the one commit.
        UsageLedger::flush_together(&[(&a, Some("ka")), (&b, Some("other"))])
            .await
            .unwrap();
        let (ka, kb) = (
            store.key_usage("ka").await.unwrap().remove(0),
            store.key_usage("kb").await.unwrap().remove(0),
        );
        assert_eq!((ka.tokens_signed, ka.latest_expiry), (3, Some(1_010)));
        assert!(ka.reserved_until > 1_010, "a's reservation stands");
        assert_eq!((kb.tokens_signed, kb.reserved_until), (5, 1_020));
        // Nothing changed since: nothing to write.
        UsageLedger::flush_together(&[(&a, Some("ka")), (&b, Some("other"))])
            .await
            .unwrap();
        assert_eq!(store.key_usage("ka").await.unwrap()[0], ka);
    }

    #[tokio::test]
    async fn a_retired_key_settles_to_its_exact_latest_expiry() {
        let (ledger, store) = ledger().await;
        ledger.record("k1", 3, 1_000, at(100)).await.unwrap();
        ledger.flush(Some("k1")).await.unwrap();
        assert!(store.key_usage("k1").await.unwrap()[0].reserved_until > 1_000);
        ledger.flush(Some("k2")).await.unwrap();
        let row = &store.key_usage("k1").await.unwrap()[0];
        assert_eq!((row.reserved_until, row.tokens_signed), (1_000, 3));
        // A late signature with the retired key reserves again before it is signed.
        ledger.record("k1", 1, 1_050, at(150)).await.unwrap();
        assert!(store.key_usage("k1").await.unwrap()[0].reserved_until >= 1_050);
    }

    #[tokio::test]
    async fn counts_are_flushed_without_moving_the_reservation_or_going_backwards() {
        let (ledger, store) = ledger().await;
        ledger.record("k1", 1, 1_000, at(100)).await.unwrap();
        let reserved = store.key_usage("k1").await.unwrap()[0].reserved_until;
        ledger.record("k1", 4, 1_010, at(110)).await.unwrap();
        ledger.flush(Some("k1")).await.unwrap();
        let row = &store.key_usage("k1").await.unwrap()[0];
        assert_eq!((row.tokens_signed, row.latest_expiry), (5, Some(1_010)));
        assert_eq!(row.reserved_until, reserved);
        // An older snapshot written late changes nothing.
        let mut stale = row.clone();
        stale.tokens_signed = 1;
        stale.latest_expiry = Some(1_000);
        store.write_counts(&stale).await.unwrap();
        assert_eq!(&store.key_usage("k1").await.unwrap()[0], row);
    }

    #[tokio::test]
    async fn the_dashboard_shows_its_own_counts_at_once_and_others_within_a_second() {
        let store = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
        let (mine, other) = (
            UsageLedger::new(store.clone()),
            UsageLedger::new(store.clone()),
        );
        let kids = ["k1".to_owned()];
        let shown = |now| {
            let (mine, kids) = (mine.clone(), kids.clone());
            async move { mine.usage_shown(&kids, now).await.unwrap()[0].tokens_signed }
        };
        other.record("k1", 2, 1_000, at(100)).await.unwrap();
        assert_eq!(shown(at(100)).await, 2);
        other.record("k1", 3, 1_000, at(100)).await.unwrap();
        other.flush(Some("k1")).await.unwrap();
        mine.record("k1", 1, 1_000, at(100)).await.unwrap();
        // Within the second: this process's signature shows, the other's flush not yet.
        assert_eq!(shown(at(100)).await, 3);
        assert_eq!(mine.usage(&kids).await.unwrap()[0].tokens_signed, 6);
        // A second later, and for other keys at once, the database is read again.
        assert_eq!(shown(at(101)).await, 6);
        let both = ["k1".to_owned(), "k2".to_owned()];
        other.record("k1", 10, 1_000, at(101)).await.unwrap();
        other.flush(Some("k1")).await.unwrap();
        assert_eq!(
            mine.usage_shown(&both, at(101)).await.unwrap()[0].tokens_signed,
            16
        );
    }
}
