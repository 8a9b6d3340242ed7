//! `signet master-key rotate`: every private signing key and client hashing key re-sealed under
//! a new master key, in one transaction serialised with every key change.

use chrono::{DateTime, Utc};

use super::ServiceError;
use crate::{
    domain::{
        Actor,
        client_secret::{client_hash_key, hash_key_label},
        sealing::{MasterKey, reseal, seal_verified},
    },
    store::{AuditEntry, KeyStore, SealedRow},
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

/// The rows of `items` that need re-sealing, each with its new ciphertext.
fn resealed<'a>(
    items: &'a [SealedRow],
    label: impl Fn(&str) -> String,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<Vec<(&'a SealedRow, crate::domain::sealing::SealedKey)>, ServiceError> {
    let mut changed = Vec::new();
    for item in items {
        if let Some(sealed) = reseal(&label(&item.id), &item.sealed, old, new)? {
            changed.push((item, sealed));
        }
    }
    Ok(changed)
}

/// Re-seals every private signing key and every client hashing key under `new`, and keeps
/// `old`'s client hashing key (sealed under `new`) so clients created under `old` still
/// authenticate. Every re-sealed blob is opened with `new` before the commit; any failure
/// writes nothing.
pub async fn rotate_master_key(
    store: &dyn KeyStore,
    old: &MasterKey,
    new: &MasterKey,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<MasterKeyRotation, ServiceError> {
    // The same first write as every key change: waits for and then blocks all of them, in
    // every tenant, whose servers then reload their key sets.
    let mut tx = store.begin_change().await?;
    tx.lock_every_tenant().await?;
    let secrets = tx.sealed_secrets().await?;
    let private_keys = resealed(&secrets.private_keys, str::to_owned, old, new)?;
    let hash_keys = resealed(&secrets.client_hash_keys, hash_key_label, old, new)?;
    // Clients created under `old` (also by servers still running with it) need its key.
    let keep_old_hash_key = old.id() != new.id()
        && !secrets
            .client_hash_keys
            .iter()
            .any(|item| item.id == old.id());
    if private_keys.is_empty() && hash_keys.is_empty() && !keep_old_hash_key {
        return Ok(MasterKeyRotation::AlreadyDone {
            to: new.id().to_owned(),
        });
    }
    for (item, sealed) in &private_keys {
        tx.replace_private_key(&item.id, &item.sealed.master_key_id, sealed)
            .await?;
    }
    for (item, sealed) in &hash_keys {
        tx.put_client_hash_key(&item.id, sealed).await?;
    }
    let mut hash_key_count = hash_keys.len();
    if keep_old_hash_key {
        let sealed = seal_verified(
            new,
            &hash_key_label(old.id()),
            client_hash_key(old).as_slice(),
        )?;
        tx.put_client_hash_key(old.id(), &sealed).await?;
        hash_key_count += 1;
    }
    let detail = format!(
        "{} private keys and {hash_key_count} client hashing keys re-encrypted from master key {} to {}",
        private_keys.len(),
        old.id(),
        new.id()
    );
    tx.record(&AuditEntry {
        at: now,
        actor,
        action: "rotate_master_key",
        kid: None,
        detail: &detail,
    })
    .await?;
    tx.commit().await?;
    Ok(MasterKeyRotation::Rotated {
        from: old.id().to_owned(),
        to: new.id().to_owned(),
        private_keys: private_keys.len(),
        client_hash_keys: hash_key_count,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{
        domain::material::{PrivateKey, new_kid, self_signed_certificate},
        services::key_change::provision,
        store::{NewKey, SqlStore},
    };

    fn new_key(master: &MasterKey, now: DateTime<Utc>) -> NewKey {
        let private =
            PrivateKey::from_pkcs8_pem(include_str!("../../fixtures/rsa-2048-b.pk8.pem")).unwrap();
        let kid = new_kid();
        NewKey {
            spec: app::algorithm::KeySpec::DEFAULT,
            cert_der: self_signed_certificate(&private, "rotation.test", now).unwrap(),
            sealed: master.seal(&kid, &private.to_pkcs8_der().unwrap()).unwrap(),
            kid,
        }
    }

    #[tokio::test]
    async fn every_secret_moves_once_and_the_old_hashing_key_is_kept() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let (old, new) = (
            MasterKey::from_bytes([1; 32]),
            MasterKey::from_bytes([2; 32]),
        );
        let (actor, now) = (Actor::command_line("t"), DateTime::<Utc>::UNIX_EPOCH);
        let (a, b) = (new_key(&old, now), new_key(&old, now));
        let spec = app::algorithm::KeySpec::DEFAULT;
        provision(&store, spec, &a, &b, &actor, now).await.unwrap();
        let rotated = rotate_master_key(&store, &old, &new, &actor, now)
            .await
            .unwrap();
        assert_eq!(
            rotated,
            MasterKeyRotation::Rotated {
                from: old.id().to_owned(),
                to: new.id().to_owned(),
                private_keys: 2,
                client_hash_keys: 1,
            }
        );
        let again = rotate_master_key(&store, &old, &new, &actor, now)
            .await
            .unwrap();
        assert_eq!(
            again,
            MasterKeyRotation::AlreadyDone {
                to: new.id().to_owned()
            }
        );
    }
}
