//! Operator maintenance on the SQL store: re-sealing every secret under a new master key, and the
//! guard that keeps a process holding another master key from writing keys nobody else can open.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};
use zeroize::Zeroizing;

use super::{Actor, SqlStore, StoreError};
use crate::{
    clients::{client_hash_key, hash_key_label},
    keys::master_key::{MasterKey, MasterKeyError, SealedKey},
};

/// What `signet master-key rotate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeyRotation {
    /// Everything is now sealed under `to`.
    Rotated {
        from: String,
        to: String,
        private_keys: usize,
        client_hash_keys: usize,
    },
    /// Everything was sealed under `to` already; nothing was written.
    AlreadyDone { to: String },
}

/// Why the master key was not rotated; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyRotationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error("{0} did not open again after re-encryption; nothing was changed")]
    Unverified(String),
}

/// One sealed secret: a private signing key (by kid) or a client hashing key (by secret_key_id).
struct Sealed {
    /// The kid or secret_key_id: the row's key.
    id: String,
    /// What the ciphertext is bound to when sealed.
    label: String,
    sealed: SealedKey,
}

/// Refuses to write a key sealed under `master_key_id` when the stored keys are sealed under
/// another master key. Runs inside the writer's transaction, after it took the key set's lock,
/// so a master-key rotation cannot slip in between the check and the write.
pub(super) async fn ensure_sealed_under(
    conn: &mut AnyConnection,
    master_key_id: &str,
) -> Result<(), StoreError> {
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT master_key_id FROM signing_keys \
         WHERE master_key_id IS NOT NULL AND master_key_id <> $1 LIMIT 1",
    )
    .bind(master_key_id)
    .fetch_optional(&mut *conn)
    .await?;
    match stored {
        Some(stored) => Err(StoreError::MasterKeyMismatch {
            stored,
            process: master_key_id.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Re-seals `item` under `new` (opening it with `old`), or checks that it is under `new` already;
/// `None` when it needs no write.
fn reseal(
    item: &Sealed,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<Option<SealedKey>, MasterKeyRotationError> {
    if item.sealed.master_key_id == new.id() {
        // Already under the new key (an earlier rotation, or a key written by a process that
        // already runs with it): it must open, or the rotation would leave it unreadable.
        new.open(&item.label, &item.sealed)?;
        return Ok(None);
    }
    if item.sealed.master_key_id != old.id() {
        return Err(StoreError::MasterKeyMismatch {
            stored: item.sealed.master_key_id.clone(),
            process: old.id().to_owned(),
        }
        .into());
    }
    let plain = old.open(&item.label, &item.sealed)?;
    let resealed = new.seal(&item.label, &plain)?;
    let reopened = new
        .open(&item.label, &resealed)
        .map_err(|_| MasterKeyRotationError::Unverified(item.label.clone()))?;
    if reopened.as_slice() != plain.as_slice() {
        return Err(MasterKeyRotationError::Unverified(item.label.clone()));
    }
    Ok(Some(resealed))
}

fn sealed_rows(
    rows: &[sqlx::any::AnyRow],
    id_column: &str,
    blob_column: &str,
    label: impl Fn(&str) -> String,
) -> Result<Vec<Sealed>, StoreError> {
    rows.iter()
        .map(|row| {
            let id: String = row.try_get(id_column)?;
            Ok(Sealed {
                label: label(&id),
                sealed: SealedKey {
                    master_key_id: row.try_get("master_key_id")?,
                    ciphertext: row.try_get(blob_column)?,
                },
                id,
            })
        })
        .collect()
}

impl SqlStore {
    /// Re-seals every private signing key and every client hashing key under `new`, and keeps
    /// `old`'s client hashing key (sealed under `new`) so clients created under `old` still
    /// authenticate. One transaction, serialised with every key change through the key set's
    /// version row; every re-sealed blob is opened with `new` before the commit, and any failure
    /// rolls everything back.
    pub async fn rotate_master_key(
        &self,
        old: &MasterKey,
        new: &MasterKey,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<MasterKeyRotation, MasterKeyRotationError> {
        let mut tx = self.pool().begin().await.map_err(StoreError::from)?;
        // The same first write as every key change: waits for and then blocks all of them.
        let version: i64 = sqlx::query_scalar(
            "UPDATE keyset SET version = version + 1 WHERE id = 1 RETURNING version",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from)?;

        let rows = sqlx::query(
            "SELECT kid, private_key, master_key_id FROM signing_keys \
             WHERE private_key IS NOT NULL ORDER BY kid",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        let private_keys = sealed_rows(&rows, "kid", "private_key", str::to_owned)?;
        let rows = sqlx::query(
            "SELECT secret_key_id, sealed_key, master_key_id FROM client_hash_keys \
             ORDER BY secret_key_id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        let hash_keys = sealed_rows(&rows, "secret_key_id", "sealed_key", hash_key_label)?;

        let mut resealed_private = Vec::new();
        for item in &private_keys {
            if let Some(sealed) = reseal(item, old, new)? {
                resealed_private.push((item, sealed));
            }
        }
        let mut resealed_hash = Vec::new();
        for item in &hash_keys {
            if let Some(sealed) = reseal(item, old, new)? {
                resealed_hash.push((item, sealed));
            }
        }
        // Clients created under `old` (also by servers still running with it) need its key.
        let keep_old_hash_key =
            old.id() != new.id() && !hash_keys.iter().any(|item| item.id == old.id());

        if resealed_private.is_empty() && resealed_hash.is_empty() && !keep_old_hash_key {
            tx.rollback().await.map_err(StoreError::from)?;
            return Ok(MasterKeyRotation::AlreadyDone {
                to: new.id().to_owned(),
            });
        }

        for (item, sealed) in &resealed_private {
            let updated = sqlx::query(
                "UPDATE signing_keys SET private_key = $1, master_key_id = $2 \
                 WHERE kid = $3 AND master_key_id = $4",
            )
            .bind(&sealed.ciphertext)
            .bind(&sealed.master_key_id)
            .bind(&item.id)
            .bind(&item.sealed.master_key_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            if updated.rows_affected() != 1 {
                return Err(StoreError::Corrupt(format!(
                    "key {} changed during rotation",
                    item.id
                ))
                .into());
            }
        }
        for (item, sealed) in &resealed_hash {
            sqlx::query(
                "UPDATE client_hash_keys SET sealed_key = $1, master_key_id = $2 \
                 WHERE secret_key_id = $3",
            )
            .bind(&sealed.ciphertext)
            .bind(&sealed.master_key_id)
            .bind(&item.id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        }
        let mut hash_key_count = resealed_hash.len();
        if keep_old_hash_key {
            let label = hash_key_label(old.id());
            let key = client_hash_key(old);
            let sealed = new.seal(&label, key.as_slice())?;
            let reopened: Zeroizing<Vec<u8>> = new
                .open(&label, &sealed)
                .map_err(|_| MasterKeyRotationError::Unverified(label.clone()))?;
            if reopened.as_slice() != key.as_slice() {
                return Err(MasterKeyRotationError::Unverified(label));
            }
            sqlx::query(
                "INSERT INTO client_hash_keys (secret_key_id, sealed_key, master_key_id) \
                 VALUES ($1, $2, $3)",
            )
            .bind(old.id())
            .bind(&sealed.ciphertext)
            .bind(&sealed.master_key_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            hash_key_count += 1;
        }

        let detail = format!(
            "{} private keys and {hash_key_count} client hashing keys re-encrypted from master key {} to {}",
            resealed_private.len(),
            old.id(),
            new.id()
        );
        sqlx::query(
            "INSERT INTO audit_events (seq, at, actor, action, kid, remote_addr, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(version)
        .bind(now.timestamp_millis())
        .bind(&actor.name)
        .bind("rotate_master_key")
        .bind(None::<String>)
        .bind(actor.remote_addr.as_deref())
        .bind(&detail)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(MasterKeyRotation::Rotated {
            from: old.id().to_owned(),
            to: new.id().to_owned(),
            private_keys: resealed_private.len(),
            client_hash_keys: hash_key_count,
        })
    }

    /// See [`super::KeyStore::client_hash_keys`].
    pub(super) async fn load_client_hash_keys(
        &self,
    ) -> Result<Vec<(String, SealedKey)>, StoreError> {
        let rows = sqlx::query(
            "SELECT secret_key_id, sealed_key, master_key_id FROM client_hash_keys \
             ORDER BY secret_key_id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(
            sealed_rows(&rows, "secret_key_id", "sealed_key", str::to_owned)?
                .into_iter()
                .map(|item| (item.id, item.sealed))
                .collect(),
        )
    }
}
