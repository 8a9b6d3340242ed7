//! The tenants a database holds (SPEC §15): each has an id, the domain it is named by, and a
//! key-set version of its own. A [`super::SqlStore`] handle is scoped to one of them
//! ([`super::SqlStore::for_tenant`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{
    SqlStore, StoreError,
    audit::{AuditEntry, insert_audit},
    database::{from_millis, millis},
};
use crate::domain::Actor;

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: String,
    pub domain: String,
    pub created_at: DateTime<Utc>,
}

/// A live tenant and the version of its key set: what a server compares with what it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantVersion {
    pub tenant: TenantRecord,
    pub version: i64,
}

/// What deleting a tenant destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedTenant {
    /// The keys that were revoked and destroyed, previous keys included.
    pub kids: Vec<String>,
    /// How many clients were removed.
    pub clients: u64,
}

/// Storing tenants.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    /// Adds a tenant with an empty key set (version 0). A domain or id already taken is
    /// [`StoreError::DuplicateTenant`], and nothing changes.
    async fn create_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError>;
    /// Every tenant, oldest first.
    async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError>;
    /// Makes sure the tenant `tenant.id` exists and is named `tenant.domain` (the default
    /// tenant follows `SIGNET_TENANT_DOMAIN`). A domain another tenant holds is
    /// [`StoreError::DuplicateTenant`].
    async fn ensure_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError>;
    /// The live tenant named `domain`; with `deleted_too`, else the one deleted last (its audit
    /// events stay readable).
    async fn tenant_named(
        &self,
        domain: &str,
        deleted_too: bool,
    ) -> Result<Option<TenantRecord>, StoreError>;
    /// Every live tenant with its key-set version, in one read: new tenants, deleted ones and
    /// changed key sets are all seen from it.
    async fn tenant_versions(&self) -> Result<Vec<TenantVersion>, StoreError>;
    /// Deletes the live tenant `id` in one transaction: destroys every key it has (the private
    /// and public halves, and their usage rows), removes its clients, appends a
    /// `delete_tenant` event to its audit log (which stays) and frees its domain. `None` when
    /// no live tenant has that id.
    async fn delete_tenant(
        &self,
        id: &str,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Option<DeletedTenant>, StoreError>;
}

fn duplicate_or(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::DuplicateTenant,
        other => other.into(),
    }
}

#[async_trait]
impl TenantStore for SqlStore {
    async fn create_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted =
            sqlx::query("INSERT INTO tenants (id, domain, created_at) VALUES ($1, $2, $3)")
                .bind(&tenant.id)
                .bind(&tenant.domain)
                .bind(millis(tenant.created_at))
                .execute(&mut *tx)
                .await;
        match inserted {
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(StoreError::DuplicateTenant);
            }
            other => other?,
        };
        let keyset = sqlx::query("INSERT INTO keysets (tenant_id, version) VALUES ($1, 0)")
            .bind(&tenant.id)
            .execute(&mut *tx)
            .await;
        match keyset {
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(StoreError::DuplicateTenant);
            }
            other => other?,
        };
        tx.commit().await?;
        Ok(())
    }

    async fn ensure_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError> {
        let renamed = sqlx::query(
            "UPDATE tenants SET domain = $1 WHERE id = $2 AND domain <> $1 AND deleted_at IS NULL",
        )
        .bind(&tenant.domain)
        .bind(&tenant.id)
        .execute(&self.pool)
        .await
        .map_err(duplicate_or)?;
        if renamed.rows_affected() > 0 {
            return Ok(());
        }
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants WHERE id = $1")
            .bind(&tenant.id)
            .fetch_one(&self.pool)
            .await?;
        if exists > 0 {
            return Ok(());
        }
        let inserted =
            sqlx::query("INSERT INTO tenants (id, domain, created_at) VALUES ($1, $2, $3)")
                .bind(&tenant.id)
                .bind(&tenant.domain)
                .bind(millis(tenant.created_at))
                .execute(&self.pool)
                .await
                .map_err(duplicate_or);
        match inserted {
            // Another process starting at the same moment inserted the same row: fine.
            Err(StoreError::DuplicateTenant) => {
                let domain: Option<String> =
                    sqlx::query_scalar("SELECT domain FROM tenants WHERE id = $1")
                        .bind(&tenant.id)
                        .fetch_optional(&self.pool)
                        .await?;
                if domain.as_deref() == Some(tenant.domain.as_str()) {
                    Ok(())
                } else {
                    Err(StoreError::DuplicateTenant)
                }
            }
            other => other.map(|_| ()),
        }
    }

    async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        sqlx::query(
            "SELECT id, domain, created_at FROM tenants WHERE deleted_at IS NULL \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(tenant_from_row)
        .collect()
    }

    async fn tenant_named(
        &self,
        domain: &str,
        deleted_too: bool,
    ) -> Result<Option<TenantRecord>, StoreError> {
        let which = if deleted_too {
            ""
        } else {
            "AND deleted_at IS NULL"
        };
        sqlx::query(&format!(
            "SELECT id, domain, created_at FROM tenants WHERE domain = $1 {which} \
             ORDER BY COALESCE(deleted_at, {i64_max}) DESC LIMIT 1",
            i64_max = i64::MAX
        ))
        .bind(domain.trim().to_ascii_lowercase())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(tenant_from_row)
        .transpose()
    }

    async fn tenant_versions(&self) -> Result<Vec<TenantVersion>, StoreError> {
        sqlx::query(
            "SELECT t.id, t.domain, t.created_at, k.version FROM tenants t \
             JOIN keysets k ON k.tenant_id = t.id WHERE t.deleted_at IS NULL \
             ORDER BY t.created_at, t.id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(TenantVersion {
                tenant: tenant_from_row(row)?,
                version: row.try_get("version")?,
            })
        })
        .collect()
    }

    async fn delete_tenant(
        &self,
        id: &str,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Option<DeletedTenant>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if lock_live_tenant(&mut tx, id).await?.is_none() {
            return Ok(None);
        }
        let domain: Option<String> = sqlx::query_scalar("SELECT domain FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(domain) = domain else {
            return Ok(None);
        };
        let kids: Vec<String> =
            sqlx::query_scalar("SELECT kid FROM signing_keys WHERE tenant_id = $1 ORDER BY kid")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query(
            "DELETE FROM key_usage WHERE kid IN (SELECT kid FROM signing_keys WHERE tenant_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM signing_keys WHERE tenant_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let clients = sqlx::query("DELETE FROM clients WHERE tenant_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let detail = format!(
            "deleted the tenant {domain}: destroyed {} keys ({}), removed {clients} clients",
            kids.len(),
            kids.join(", ")
        );
        let entry = AuditEntry {
            at,
            actor,
            action: "delete_tenant",
            kid: None,
            detail: &detail,
        };
        insert_audit(&mut tx, id, &entry).await?;
        sqlx::query("UPDATE tenants SET deleted_at = $2 WHERE id = $1")
            .bind(id)
            .bind(millis(at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(DeletedTenant { kids, clients }))
    }
}

/// Takes `tenant`'s write lock inside `tx`, as every change to its keys or its deletion does,
/// by bumping its key-set version, and returns the new version; `None` when the tenant has been
/// deleted (or never had a key set). Two statements: on PostgreSQL a transaction that queued for
/// the lock behind a `tenants delete` wins it after the deletion commits, but a condition in the
/// locking statement itself still reads the tenant as the statement first saw it, live; only a
/// statement begun once the lock is held sees the deletion.
pub(super) async fn lock_live_tenant(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: &str,
) -> Result<Option<i64>, StoreError> {
    let version: Option<i64> = sqlx::query_scalar(
        "UPDATE keysets SET version = version + 1 WHERE tenant_id = $1 RETURNING version",
    )
    .bind(tenant)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(version) = version else {
        return Ok(None);
    };
    Ok(tenant_is_live(tx, tenant).await?.then_some(version))
}

/// Whether `tenant` has not been deleted, as a statement begun now inside `tx` reads it: asked
/// once `tx` holds the tenant's lock, the answer holds until `tx` ends. (The default tenant's
/// key set can exist before its `tenants` row, which its first start writes.)
pub(super) async fn tenant_is_live(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: &str,
) -> Result<bool, StoreError> {
    let deleted: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM tenants WHERE id = $1 AND deleted_at IS NOT NULL")
            .bind(tenant)
            .fetch_one(&mut **tx)
            .await?;
    Ok(deleted == 0)
}

fn tenant_from_row(row: &sqlx::any::AnyRow) -> Result<TenantRecord, StoreError> {
    Ok(TenantRecord {
        id: row.try_get("id")?,
        domain: row.try_get("domain")?,
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}
