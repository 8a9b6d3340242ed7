//! The key set as committed: reads, and the start of a change ([`KeyChange`]).

use app::{
    algorithm::{KeySpec, SigningAlg},
    keys::KeyState,
};
use async_trait::async_trait;
use sqlx::{Row, any::AnyRow};

use super::{
    SqlStore, StoreError,
    database::{from_millis, millis, optional_time, sql_limit},
    key_change::{KeyChange, SqlKeyChange},
};
use crate::domain::{lifecycle::KeyRecord, schedule::RotationPolicy, sealing::SealedKey};

/// A key as stored: lifecycle facts, certificate, and the sealed private key (none once revoked).
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub record: KeyRecord,
    /// What the key signs.
    pub alg: SigningAlg,
    pub cert_der: Vec<u8>,
    pub sealed: Option<SealedKey>,
}

/// A key about to be inserted as the next key.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub kid: String,
    /// The key's type; the store keeps its algorithm.
    pub spec: KeySpec,
    pub cert_der: Vec<u8>,
    pub sealed: SealedKey,
}

/// The key set as last committed.
#[derive(Debug, Clone)]
pub struct StoredKeys {
    /// Counts every committed change; equal versions mean equal key sets.
    pub version: i64,
    /// Current, next and previous keys, then up to the requested number of revoked keys, newest first.
    pub keys: Vec<StoredKey>,
    /// The tenant's rotation policy, as of `version`.
    pub policy: RotationPolicy,
}

/// The keys changed after a version: what a server serving that version reads to follow.
#[derive(Debug, Clone)]
pub struct KeyChanges {
    /// The version these changes bring the key set to.
    pub version: i64,
    /// Every key whose row a change after the old version wrote (as `load_for_serving` reads
    /// it), in no particular order.
    pub changed: Vec<StoredKey>,
    /// The kids of the current and next keys at `version`, and how many valid keys it has: a
    /// check that the changes, applied to the old key set, give the key set stored.
    pub current: Option<String>,
    pub next: Option<String>,
    pub valid_keys: i64,
    /// The tenant's rotation policy, as of `version`.
    pub policy: RotationPolicy,
}

/// The signing keys: what is committed, and the transaction that changes it.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The committed key set with at most `revoked_limit` revoked keys.
    async fn load(&self, revoked_limit: usize) -> Result<StoredKeys, StoreError>;
    /// As [`load`](Self::load), but only the current key carries its sealed private key: what
    /// serving needs after every change, without a kilobyte per previous key.
    async fn load_for_serving(&self, revoked_limit: usize) -> Result<StoredKeys, StoreError> {
        self.load(revoked_limit).await
    }
    /// The keys changed since version `since`, read in one transaction.
    async fn load_changes(&self, since: i64) -> Result<KeyChanges, StoreError>;
    /// One key by kid, revoked ones too.
    async fn find(&self, kid: &str) -> Result<Option<StoredKey>, StoreError>;
    /// The key set's version; cheap enough to poll every second.
    async fn version(&self) -> Result<i64, StoreError>;
    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Opens a transaction holding the key set's write lock until it commits or is dropped
    /// (dropping rolls back). Concurrent changes from any process queue behind it.
    async fn begin_change(&self) -> Result<Box<dyn KeyChange>, StoreError>;
}

pub(super) const KEY_COLUMNS: &str = "kid, state, cert_der, private_key, master_key_id, \
                                      created_at, current_since, current_until, revoked_at, alg";
/// `KEY_COLUMNS` with the sealed private key of the current key only.
const SERVING_COLUMNS: &str = "kid, state, cert_der, \
                               CASE WHEN state = 'current' THEN private_key END AS private_key, \
                               master_key_id, created_at, current_since, current_until, revoked_at, \
                               alg";
/// The lifecycle columns only: what planning a change needs, without the certificates and
/// sealed private keys (kilobytes per key, a thousand previous keys after a thousand rotations).
pub(super) const RECORD_COLUMNS: &str =
    "kid, state, created_at, current_since, current_until, revoked_at";

pub(super) fn record_from_row(row: &AnyRow) -> Result<KeyRecord, StoreError> {
    let state: String = row.try_get("state")?;
    let state = KeyState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown key state {state:?}")))?;
    Ok(KeyRecord {
        kid: row.try_get("kid")?,
        state,
        created_at: from_millis(row.try_get("created_at")?)?,
        current_since: optional_time(row.try_get("current_since")?)?,
        current_until: optional_time(row.try_get("current_until")?)?,
        revoked_at: optional_time(row.try_get("revoked_at")?)?,
    })
}

/// The rotation policy's columns of `keysets`.
pub(super) const POLICY_COLUMNS: &str =
    "rotate_every_seconds, revoke_previous_after_seconds, signing_alg, key_size";

pub(super) fn policy_from_row(row: &AnyRow) -> Result<RotationPolicy, StoreError> {
    let alg: String = row.try_get("signing_alg")?;
    let key_size: i64 = row.try_get("key_size")?;
    let key = u32::try_from(key_size)
        .ok()
        .and_then(|size| KeySpec::parse(&alg, Some(size)).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("unknown key type {alg}/{key_size}")))?;
    Ok(RotationPolicy {
        rotate_every_seconds: row.try_get("rotate_every_seconds")?,
        revoke_previous_after_seconds: row.try_get("revoke_previous_after_seconds")?,
        key,
    })
}

pub(super) fn alg_from_row(row: &AnyRow) -> Result<SigningAlg, StoreError> {
    let alg: String = row.try_get("alg")?;
    SigningAlg::parse(&alg).ok_or_else(|| StoreError::Corrupt(format!("unknown algorithm {alg:?}")))
}

fn key_from_row(row: &AnyRow) -> Result<StoredKey, StoreError> {
    let private_key: Option<Vec<u8>> = row.try_get("private_key")?;
    let master_key_id: Option<String> = row.try_get("master_key_id")?;
    let sealed = match (private_key, master_key_id) {
        (Some(ciphertext), Some(master_key_id)) => Some(SealedKey {
            master_key_id,
            ciphertext,
        }),
        _ => None,
    };
    Ok(StoredKey {
        record: record_from_row(row)?,
        alg: alg_from_row(row)?,
        cert_der: row.try_get("cert_der")?,
        sealed,
    })
}

/// The values of a key's lifecycle columns, in `KEY_COLUMNS` order after the key material.
pub(super) fn record_times(record: &KeyRecord) -> [Option<i64>; 4] {
    [
        Some(millis(record.created_at)),
        record.current_since.map(millis),
        record.current_until.map(millis),
        record.revoked_at.map(millis),
    ]
}

impl SqlStore {
    /// The key set's version and rotation policy, inside `tx`.
    async fn keyset(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(i64, RotationPolicy), StoreError> {
        let keyset = sqlx::query(&format!(
            "SELECT version, {POLICY_COLUMNS} FROM keysets WHERE tenant_id = $1"
        ))
        .bind(self.tenant())
        .fetch_one(&mut **tx)
        .await?;
        Ok((keyset.try_get("version")?, policy_from_row(&keyset)?))
    }

    /// The key set, reading the key columns `columns` (`KEY_COLUMNS` or `SERVING_COLUMNS`).
    async fn load_keys(
        &self,
        revoked_limit: usize,
        columns: &str,
    ) -> Result<StoredKeys, StoreError> {
        // One transaction, so the version and the keys describe the same moment.
        let mut tx = self.pool.begin().await?;
        let (version, policy) = self.keyset(&mut tx).await?;
        let mut keys = sqlx::query(&format!(
            "SELECT {columns} FROM signing_keys WHERE tenant_id = $1 AND state <> 'revoked'"
        ))
        .bind(self.tenant())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(key_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        // Sorted here, not by an ORDER BY: the database would sort whole rows, certificates and
        // sealed keys included (megabytes with a thousand previous keys), on every reload.
        // Current, next, then previous keys newest first (by when they became current), then kid.
        keys.sort_by(|a, b| {
            a.record
                .state
                .rank()
                .cmp(&b.record.state.rank())
                .then_with(|| b.record.current_since.cmp(&a.record.current_since))
                .then_with(|| a.record.kid.cmp(&b.record.kid))
        });
        let revoked = sqlx::query(&format!(
            "SELECT {columns} FROM signing_keys WHERE tenant_id = $1 AND state = 'revoked' \
             ORDER BY revoked_at DESC, kid LIMIT $2"
        ))
        .bind(self.tenant())
        .bind(sql_limit(revoked_limit))
        .fetch_all(&mut *tx)
        .await?;
        for row in &revoked {
            keys.push(key_from_row(row)?);
        }
        tx.commit().await?;
        Ok(StoredKeys {
            version,
            keys,
            policy,
        })
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn load(&self, revoked_limit: usize) -> Result<StoredKeys, StoreError> {
        self.load_keys(revoked_limit, KEY_COLUMNS).await
    }

    async fn load_for_serving(&self, revoked_limit: usize) -> Result<StoredKeys, StoreError> {
        self.load_keys(revoked_limit, SERVING_COLUMNS).await
    }

    async fn load_changes(&self, since: i64) -> Result<KeyChanges, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (version, policy) = self.keyset(&mut tx).await?;
        let changed = sqlx::query(&format!(
            "SELECT {SERVING_COLUMNS} FROM signing_keys \
             WHERE tenant_id = $1 AND changed_version > $2"
        ))
        .bind(self.tenant())
        .bind(since)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(key_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        let queued = sqlx::query(
            "SELECT kid, state FROM signing_keys \
             WHERE tenant_id = $1 AND state IN ('current', 'next')",
        )
        .bind(self.tenant())
        .fetch_all(&mut *tx)
        .await?;
        let valid_keys: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM signing_keys WHERE tenant_id = $1 AND state <> 'revoked'",
        )
        .bind(self.tenant())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let kid_in = |state: &str| -> Result<Option<String>, StoreError> {
            for row in &queued {
                if row.try_get::<String, _>("state")? == state {
                    return Ok(Some(row.try_get("kid")?));
                }
            }
            Ok(None)
        };
        Ok(KeyChanges {
            version,
            current: kid_in("current")?,
            next: kid_in("next")?,
            valid_keys,
            changed,
            policy,
        })
    }

    async fn find(&self, kid: &str) -> Result<Option<StoredKey>, StoreError> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys WHERE tenant_id = $1 AND kid = $2"
        ))
        .bind(self.tenant())
        .bind(kid)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
    }

    async fn version(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT version FROM keysets WHERE tenant_id = $1")
                .bind(self.tenant())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn begin_change(&self) -> Result<Box<dyn KeyChange>, StoreError> {
        Ok(Box::new(
            SqlKeyChange::begin(&self.pool, self.tenant()).await?,
        ))
    }
}
