//! [`KeyChange`]: the transaction a service drives to change the key set. It reads what the
//! service needs to decide, and writes what the service decided; it decides nothing itself.

use app::keys::KeyState;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};

use super::{
    StoreError,
    audit::{AuditEntry, insert_audit},
    database::{from_millis, millis},
    keys::{
        KEY_COLUMNS, NewKey, POLICY_COLUMNS, RECORD_COLUMNS, policy_from_row, record_from_row,
        record_times,
    },
    sealed::{SealedSecrets, read_sealed_secrets},
    tenants::lock_live_tenant,
};
use crate::domain::{
    lifecycle::KeyRecord, rotation_limit::RotationsInWindow, schedule::RotationPolicy,
    sealing::SealedKey,
};

/// One change to the key set, holding its write lock. Dropped without [`commit`](Self::commit),
/// it rolls back and leaves no trace.
#[async_trait]
pub trait KeyChange: Send {
    /// The version the key set will have once this change commits.
    fn version(&self) -> i64;
    /// How many keys the tenant has, revoked ones included.
    async fn key_count(&mut self) -> Result<i64, StoreError>;
    /// The lifecycle records of the current and next keys, plus `also` (the key a revocation
    /// names, valid or revoked, so that revoking it again is refused as "already revoked"
    /// rather than "not found"). Previous keys take part in no other decision.
    async fn key_records(&mut self, also: Option<&str>) -> Result<Vec<KeyRecord>, StoreError>;
    /// The tenant's rotation policy.
    async fn policy(&mut self) -> Result<RotationPolicy, StoreError>;
    /// Replaces the tenant's rotation policy.
    async fn set_policy(&mut self, policy: &RotationPolicy) -> Result<(), StoreError>;
    /// Rotations recorded strictly after `since`.
    async fn rotations_since(
        &mut self,
        since: DateTime<Utc>,
    ) -> Result<RotationsInWindow, StoreError>;
    /// The id of a master key other than `master_key_id` that a stored private key is sealed
    /// under, if any.
    async fn other_master_key(&mut self, master_key_id: &str)
    -> Result<Option<String>, StoreError>;
    /// Inserts a key in the state `record` gives it.
    async fn insert_key(&mut self, key: &NewKey, record: &KeyRecord) -> Result<(), StoreError>;
    /// Writes `record` over the key's lifecycle facts; a revoked key loses its private part in
    /// the same statement.
    async fn update_key(&mut self, record: &KeyRecord) -> Result<(), StoreError>;
    /// Bumps (and so locks) every other tenant's key-set version too: for a change that rewrites
    /// every tenant's rows (a master-key rotation), so that no tenant changes its keys meanwhile
    /// and every server reloads every tenant after it.
    async fn lock_every_tenant(&mut self) -> Result<(), StoreError>;
    /// Every sealed secret: private signing keys and retired client hashing keys.
    async fn sealed_secrets(&mut self) -> Result<SealedSecrets, StoreError>;
    /// Replaces a private key's ciphertext, if it is still sealed under `was_under`.
    async fn replace_private_key(
        &mut self,
        kid: &str,
        was_under: &str,
        sealed: &SealedKey,
    ) -> Result<(), StoreError>;
    /// Stores a client hashing key, replacing the one with that id.
    async fn put_client_hash_key(
        &mut self,
        secret_key_id: &str,
        sealed: &SealedKey,
    ) -> Result<(), StoreError>;
    /// Appends the change's audit event, numbered by the tenant's audit counter.
    async fn record(&mut self, entry: &AuditEntry<'_>) -> Result<(), StoreError>;
    /// Makes the change visible to every process at once.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A [`KeyChange`] in one SQL transaction.
pub(super) struct SqlKeyChange {
    tx: Tx,
    version: i64,
    /// The tenant whose keys change.
    tenant: String,
}

impl SqlKeyChange {
    pub(super) async fn begin(pool: &AnyPool, tenant: &str) -> Result<Self, StoreError> {
        let mut tx = pool.begin().await?;
        // Writing first takes the lock at once, so concurrent changes queue instead of deadlocking.
        // A deleted tenant's key set takes no change: no key is ever stored under a tenant
        // that a concurrent `tenants delete` has emptied (a start, a rotation in flight).
        let version = lock_live_tenant(&mut tx, tenant)
            .await?
            .ok_or(StoreError::TenantGone)?;
        Ok(Self {
            tx,
            version,
            tenant: tenant.to_owned(),
        })
    }
}

#[async_trait]
impl KeyChange for SqlKeyChange {
    fn version(&self) -> i64 {
        self.version
    }

    async fn key_count(&mut self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE tenant_id = $1")
                .bind(&self.tenant)
                .fetch_one(&mut *self.tx)
                .await?,
        )
    }

    async fn key_records(&mut self, also: Option<&str>) -> Result<Vec<KeyRecord>, StoreError> {
        // The current and next keys decide every change; previous keys only when named (a
        // thousand of them after a thousand rotations are not read for each rotation). Two
        // indexed lookups: as one `state IN (…) OR kid = $2`, SQLite walks every row of the
        // tenant (3 ms at a thousand keys, against 0.2 ms).
        sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM signing_keys \
             WHERE tenant_id = $1 AND state IN ('current', 'next') \
             UNION ALL \
             SELECT {RECORD_COLUMNS} FROM signing_keys \
             WHERE kid = $2 AND tenant_id = $1 AND state NOT IN ('current', 'next')"
        ))
        .bind(&self.tenant)
        .bind(also.unwrap_or(""))
        .fetch_all(&mut *self.tx)
        .await?
        .iter()
        .map(record_from_row)
        .collect()
    }

    async fn policy(&mut self) -> Result<RotationPolicy, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM keysets WHERE tenant_id = $1"
        ))
        .bind(&self.tenant)
        .fetch_one(&mut *self.tx)
        .await?;
        policy_from_row(&row)
    }

    async fn set_policy(&mut self, policy: &RotationPolicy) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE keysets SET rotate_every_seconds = $1, revoke_previous_after_seconds = $2, \
             signing_alg = $3, key_size = $4 WHERE tenant_id = $5",
        )
        .bind(policy.rotate_every_seconds)
        .bind(policy.revoke_previous_after_seconds)
        .bind(policy.key.alg.as_str())
        .bind(i64::from(policy.key.key_size))
        .bind(&self.tenant)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn rotations_since(
        &mut self,
        since: DateTime<Utc>,
    ) -> Result<RotationsInWindow, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS used, MIN(at) AS oldest FROM audit_events \
             WHERE tenant_id = $1 AND action IN ('rotate', 'rotate_and_revoke') AND at > $2",
        )
        .bind(&self.tenant)
        .bind(millis(since))
        .fetch_one(&mut *self.tx)
        .await?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok(RotationsInWindow {
            count: row.try_get("used")?,
            oldest: oldest.map(from_millis).transpose()?,
        })
    }

    async fn other_master_key(
        &mut self,
        master_key_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT master_key_id FROM signing_keys \
             WHERE master_key_id < $1 OR master_key_id > $1 LIMIT 1",
        )
        .bind(master_key_id)
        .fetch_optional(&mut *self.tx)
        .await?)
    }

    async fn insert_key(&mut self, key: &NewKey, record: &KeyRecord) -> Result<(), StoreError> {
        let [created_at, current_since, current_until, revoked_at] = record_times(record);
        sqlx::query(&format!(
            "INSERT INTO signing_keys ({KEY_COLUMNS}, tenant_id, changed_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&key.kid)
        .bind(record.state.as_str())
        .bind(&key.cert_der)
        .bind(&key.sealed.ciphertext)
        .bind(&key.sealed.master_key_id)
        .bind(created_at)
        .bind(current_since)
        .bind(current_until)
        .bind(revoked_at)
        .bind(key.spec.alg.as_str())
        .bind(&self.tenant)
        .bind(self.version)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn update_key(&mut self, record: &KeyRecord) -> Result<(), StoreError> {
        // A revoked key's private part is destroyed in the same statement that revokes it.
        let erase = if record.state == KeyState::Revoked {
            ", private_key = NULL, master_key_id = NULL"
        } else {
            ""
        };
        let [_, current_since, current_until, revoked_at] = record_times(record);
        let updated = sqlx::query(&format!(
            "UPDATE signing_keys SET state = $1, current_since = $2, current_until = $3, \
             revoked_at = $4, changed_version = $5{erase} WHERE kid = $6 AND tenant_id = $7"
        ))
        .bind(record.state.as_str())
        .bind(current_since)
        .bind(current_until)
        .bind(revoked_at)
        .bind(self.version)
        .bind(&record.kid)
        .bind(&self.tenant)
        .execute(&mut *self.tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!("key {} vanished", record.kid)));
        }
        Ok(())
    }

    async fn lock_every_tenant(&mut self) -> Result<(), StoreError> {
        // In tenant-id order, so two of these queue rather than deadlock.
        let others: Vec<String> = sqlx::query_scalar(
            "SELECT tenant_id FROM keysets WHERE tenant_id <> $1 ORDER BY tenant_id",
        )
        .bind(&self.tenant)
        .fetch_all(&mut *self.tx)
        .await?;
        for tenant in others {
            sqlx::query("UPDATE keysets SET version = version + 1 WHERE tenant_id = $1")
                .bind(tenant)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn sealed_secrets(&mut self) -> Result<SealedSecrets, StoreError> {
        read_sealed_secrets(&mut self.tx).await
    }

    async fn replace_private_key(
        &mut self,
        kid: &str,
        was_under: &str,
        sealed: &SealedKey,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE signing_keys SET private_key = $1, master_key_id = $2 \
             WHERE kid = $3 AND master_key_id = $4",
        )
        .bind(&sealed.ciphertext)
        .bind(&sealed.master_key_id)
        .bind(kid)
        .bind(was_under)
        .execute(&mut *self.tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!(
                "key {kid} changed during rotation"
            )));
        }
        Ok(())
    }

    async fn put_client_hash_key(
        &mut self,
        secret_key_id: &str,
        sealed: &SealedKey,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM client_hash_keys WHERE secret_key_id = $1")
            .bind(secret_key_id)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "INSERT INTO client_hash_keys (secret_key_id, sealed_key, master_key_id) \
             VALUES ($1, $2, $3)",
        )
        .bind(secret_key_id)
        .bind(&sealed.ciphertext)
        .bind(&sealed.master_key_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn record(&mut self, entry: &AuditEntry<'_>) -> Result<(), StoreError> {
        insert_audit(&mut self.tx, &self.tenant, entry).await
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
