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
