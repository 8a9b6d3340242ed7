//! The operator's password hash and sign-in sessions (stored by the hash of their id).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    SqlStore, StoreError,
    audit::{AuditEntry, insert_audit},
    database::millis,
};

/// Storing the operator's password and sessions.
#[async_trait]
pub trait OperatorStore: Send + Sync + 'static {
    /// The operator's password hash, once set.
    async fn operator_password_hash(&self) -> Result<Option<String>, StoreError>;
    /// Sets the operator's password hash, ending every session.
    async fn set_operator_password_hash(&self, hash: &str) -> Result<(), StoreError>;
    /// Stores a new session (by the hash of its id), dropping expired ones, and appends the
    /// sign-in's `audit` event to the handle's tenant in the same transaction.
    async fn create_session(
        &self,
        id_hash: &[u8],
        expires_at: DateTime<Utc>,
        audit: &AuditEntry<'_>,
    ) -> Result<(), StoreError>;
    /// Extends a live session to `expires_at`; `false` if it is unknown or expired.
    async fn touch_session(
        &self,
        id_hash: &[u8],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Deletes a session.
    async fn delete_session(&self, id_hash: &[u8]) -> Result<(), StoreError>;
}

#[async_trait]
impl OperatorStore for SqlStore {
    async fn operator_password_hash(&self) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM operator WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_operator_password_hash(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO operator (id, password_hash) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash",
        )
        .bind(hash)
        .execute(&self.pool)
        .await?;
        // A new password ends every session opened with the old one.
        sqlx::query("DELETE FROM sessions")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_session(
        &self,
        id_hash: &[u8],
        expires_at: DateTime<Utc>,
        audit: &AuditEntry<'_>,
    ) -> Result<(), StoreError> {
        let now = millis(audit.at);
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO sessions (id_hash, created_at, expires_at) VALUES ($1, $2, $3)")
            .bind(id_hash)
            .bind(now)
            .bind(millis(expires_at))
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, self.tenant(), audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_session(
        &self,
        id_hash: &[u8],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let touched = sqlx::query(
            "UPDATE sessions SET expires_at = $1 WHERE id_hash = $2 AND expires_at > $3",
        )
        .bind(millis(expires_at))
        .bind(id_hash)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(touched.rows_affected() == 1)
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
