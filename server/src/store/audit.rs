//! The audit log: one event per change, appended inside the change's transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{
    SqlStore, StoreError,
    database::{from_millis, millis, sql_limit},
};
use crate::domain::Actor;

/// One entry of the audit log, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub kid: Option<String>,
    pub remote_addr: Option<String>,
    pub detail: String,
}

/// An event about to be appended; its `seq` is the version of the change it records.
#[derive(Debug, Clone, Copy)]
pub struct AuditEntry<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub kid: Option<&'a str>,
    pub detail: &'a str,
}

/// Reading the audit log.
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// The newest `limit` audit events, newest first.
    async fn audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
}

pub(super) async fn insert_audit(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: &str,
    seq: i64,
    entry: &AuditEntry<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_events (tenant_id, seq, at, actor, action, kid, remote_addr, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant)
    .bind(seq)
    .bind(millis(entry.at))
    .bind(&entry.actor.name)
    .bind(entry.action)
    .bind(entry.kid)
    .bind(entry.actor.remote_addr.as_deref())
    .bind(entry.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl AuditLog for SqlStore {
    async fn audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, kid, remote_addr, detail FROM audit_events \
             WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(self.tenant())
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEvent {
                    seq: row.try_get("seq")?,
                    at: from_millis(row.try_get("at")?)?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    kid: row.try_get("kid")?,
                    remote_addr: row.try_get("remote_addr")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }
}
