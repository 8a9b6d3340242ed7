//! The one reader of sealed rows: private signing keys and retired client hashing keys, for the
//! master-key rotation, the client service and the backup check alike.

use sqlx::{AnyConnection, Row, any::AnyRow};

use super::StoreError;
use crate::domain::sealing::SealedKey;

/// A sealed secret and the id of its row (a kid, or a client hashing key's `secret_key_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRow {
    pub id: String,
    pub sealed: SealedKey,
}

/// Every sealed secret in a database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealedSecrets {
    /// Private signing keys, by kid (revoked keys have none).
    pub private_keys: Vec<SealedRow>,
    /// Hashing keys of retired master keys, by `secret_key_id`.
    pub client_hash_keys: Vec<SealedRow>,
}

fn sealed_row(row: &AnyRow, id: &str, blob: &str) -> Result<SealedRow, StoreError> {
    Ok(SealedRow {
        id: row.try_get(id)?,
        sealed: SealedKey {
            master_key_id: row.try_get("master_key_id")?,
            ciphertext: row.try_get(blob)?,
        },
    })
}

/// The client hashing keys of retired master keys, by id.
pub(super) async fn read_client_hash_keys(
    conn: &mut AnyConnection,
) -> Result<Vec<SealedRow>, StoreError> {
    sqlx::query(
        "SELECT secret_key_id, sealed_key, master_key_id FROM client_hash_keys \
         ORDER BY secret_key_id",
    )
    .fetch_all(conn)
    .await?
    .iter()
    .map(|row| sealed_row(row, "secret_key_id", "sealed_key"))
    .collect()
}

/// The sealed private signing keys, by kid.
pub(super) async fn read_private_keys(
    conn: &mut AnyConnection,
) -> Result<Vec<SealedRow>, StoreError> {
    sqlx::query(
        "SELECT kid, private_key, master_key_id FROM signing_keys \
         WHERE private_key IS NOT NULL ORDER BY kid",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| sealed_row(row, "kid", "private_key"))
    .collect()
}

/// Every sealed secret `conn` can see.
pub(super) async fn read_sealed_secrets(
    conn: &mut AnyConnection,
) -> Result<SealedSecrets, StoreError> {
    Ok(SealedSecrets {
        private_keys: read_private_keys(conn).await?,
        client_hash_keys: read_client_hash_keys(conn).await?,
    })
}
