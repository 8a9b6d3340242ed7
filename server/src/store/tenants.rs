//! The tenants a database holds (SPEC §15): each has an id, the domain it is named by, and a
//! key-set version of its own. A [`super::SqlStore`] handle is scoped to one of them
//! ([`super::SqlStore::for_tenant`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{
    SqlStore, StoreError,
    database::{from_millis, millis},
};

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: String,
    pub domain: String,
    pub created_at: DateTime<Utc>,
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
        let renamed = sqlx::query("UPDATE tenants SET domain = $1 WHERE id = $2 AND domain <> $1")
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
        sqlx::query("SELECT id, domain, created_at FROM tenants ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(TenantRecord {
                    id: row.try_get("id")?,
                    domain: row.try_get("domain")?,
                    created_at: from_millis(row.try_get("created_at")?)?,
                })
            })
            .collect()
    }
}
