//! Machine clients, and the hashing keys that check secrets made under retired master keys.

use async_trait::async_trait;
use sqlx::{Row, any::AnyRow};

use super::{
    SqlStore, StoreError,
    audit::{AuditEntry, insert_audit},
    database::{from_millis, millis},
    sealed::{SealedRow, read_client_hash_keys},
    tenants::tenant_is_live,
};
use crate::domain::{client_secret::ClientRecord, signing_policy::SigningPolicy};

/// Storing machine clients.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    /// Stores a new machine client, and `audit` in the same transaction.
    async fn create_client(
        &self,
        client: &ClientRecord,
        audit: &AuditEntry<'_>,
    ) -> Result<(), StoreError>;
    /// One client by id.
    async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError>;
    /// Deletes a client, and appends `audit` in the same transaction; `false` (and no event)
    /// if there was none.
    async fn delete_client(
        &self,
        client_id: &str,
        audit: &AuditEntry<'_>,
    ) -> Result<bool, StoreError>;
    /// The client-secret hashing keys of retired master keys, by `secret_key_id`, each sealed
    /// under the current master key.
    async fn client_hash_keys(&self) -> Result<Vec<SealedRow>, StoreError>;
}

const CLIENT_COLUMNS: &str = "client_id, name, secret_hash, secret_key_id, scopes, created_at, \
                              signing_audiences, max_lifetime_seconds";

fn client_from_row(row: &AnyRow) -> Result<ClientRecord, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    let audiences: String = row.try_get("signing_audiences")?;
    let lifetime: i64 = row.try_get("max_lifetime_seconds")?;
    let signing_policy = SigningPolicy {
        audiences: audiences.split_whitespace().map(str::to_owned).collect(),
        max_lifetime_seconds: u32::try_from(lifetime)
            .map_err(|_| StoreError::Corrupt(format!("max_lifetime_seconds {lifetime}")))?,
    };
    Ok(ClientRecord {
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        secret_key_id: row.try_get("secret_key_id")?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: from_millis(row.try_get("created_at")?)?,
        signing_policy,
    })
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn create_client(
        &self,
        client: &ClientRecord,
        audit: &AuditEntry<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(&format!(
            "INSERT INTO clients ({CLIENT_COLUMNS}, tenant_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&client.client_id)
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(&client.secret_key_id)
        .bind(client.scopes.join(" "))
        .bind(millis(client.created_at))
        .bind(client.signing_policy.audiences.join(" "))
        .bind(i64::from(client.signing_policy.max_lifetime_seconds))
        .bind(self.tenant())
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(StoreError::DuplicateClient);
            }
            Err(error) => return Err(error.into()),
        }
        // The audit counter's row is the tenant's lock: once it is held, a client is never
        // added to a tenant that a concurrent `tenants delete` has emptied.
        insert_audit(&mut tx, self.tenant(), audit).await?;
        if !tenant_is_live(&mut tx, self.tenant()).await? {
            return Err(StoreError::TenantGone);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE tenant_id = $1 AND client_id = $2"
        ))
        .bind(self.tenant())
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(client_from_row)
        .transpose()
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE tenant_id = $1 \
             ORDER BY created_at, client_id"
        ))
        .bind(self.tenant())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(client_from_row)
        .collect()
    }

    async fn delete_client(
        &self,
        client_id: &str,
        audit: &AuditEntry<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM clients WHERE tenant_id = $1 AND client_id = $2")
            .bind(self.tenant())
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if deleted {
            insert_audit(&mut tx, self.tenant(), audit).await?;
            tx.commit().await?;
        }
        Ok(deleted)
    }

    async fn client_hash_keys(&self) -> Result<Vec<SealedRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_client_hash_keys(&mut conn).await
    }
}
