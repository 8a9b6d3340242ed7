//! The key set as served: views, the JWKS and its ETag, the signer and the verifiers, built once
//! per change and shared by every request; and the reload that follows the store's version.

use std::{collections::HashMap, sync::Arc};

use app::keys::{KeyState, KeyView, REVOKED_KEYS_SHOWN};
use axum::body::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, watch};

use super::{
    ServiceError,
    tokens::{KeyVerifier, Signer, Verifiers},
};
use crate::{
    domain::{
        lifecycle::{KeyError, KeyRecord},
        material::{MaterialError, PrivateKey, PublicMaterial},
        schedule::RotationPolicy,
        sealing::MasterKey,
    },
    store::{KeyChanges, KeyStore, StoredKey, StoredKeys},
};

/// A key with its public material, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    pub record: KeyRecord,
    /// Shared by every key set this key is in: a rebuild after a change copies no certificate.
    pub public: Arc<PublicMaterial>,
    /// `public.jwk()` as the JWKS serialises it, made once per key, not once per key change.
    jwk_json: Arc<[u8]>,
    /// SHA-256 of `jwk_json`: the JWKS's ETag is made of these, not of the whole document.
    jwk_digest: [u8; 32],
    /// Its public key parsed for verifying tokens, made once per key like `jwk_json`.
    verifier: Arc<KeyVerifier>,
}

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl PublishedKey {
    /// A stored key's public material, as published.
    pub fn from_stored(key: &StoredKey) -> Result<Self, MaterialError> {
        let public = PublicMaterial::from_certificate(&key.record.kid, key.alg, &key.cert_der)?;
        let jwk_json = serde_json::to_vec(&public.jwk()?)
            .map_err(|e| MaterialError::Encoding(e.to_string()))?;
        Ok(Self {
            verifier: Arc::new(KeyVerifier::new(&public)?),
            public: Arc::new(public),
            jwk_digest: Sha256::digest(&jwk_json).into(),
            jwk_json: jwk_json.into(),
            record: key.record.clone(),
        })
    }

    /// This key with the lifecycle facts of `record` (its material does not change).
    fn with_record(&self, record: &KeyRecord) -> Self {
        Self {
            record: record.clone(),
            ..self.clone()
        }
    }

    /// The key as the dashboard and the Management API show it.
    pub fn view(&self) -> KeyView {
        KeyView {
            kid: self.record.kid.clone(),
            state: self.record.state,
            fingerprint: self.public.fingerprint.clone(),
            thumbprint: self.public.thumbprint.clone(),
            alg: self.public.alg,
            key_size: self.public.kind.bits(),
            current_since: self.record.current_since.map(iso),
            current_until: self.record.current_until.map(iso),
            revoked_at: self.record.revoked_at.map(iso),
            certificate: self.public.facts.clone(),
        }
    }
}

/// The key set as served: built once per change, shared by every request.
#[derive(Debug)]
pub struct Published {
    /// The store version this was built from.
    pub version: i64,
    /// Current, next, previous (newest first), then the most recent revoked keys.
    pub keys: Vec<PublishedKey>,
    /// Strong ETag of the JWKS document ([`jwks`](Self::jwks)), quoted.
    pub etag: String,
    /// The current key, decrypted, for signing tokens.
    pub signer: Option<Arc<Signer>>,
    /// Every valid key's public key, for verifying tokens.
    pub verifiers: Verifiers,
    /// The tenant's rotation policy, as of `version`.
    pub policy: RotationPolicy,
}

/// The JWKS document `{"keys":[…]}` of the serialised JWKs `jwks`, in order.
pub fn jwks_body<'a, I>(jwks: I) -> Bytes
where
    I: IntoIterator<Item = &'a [u8]>,
    I::IntoIter: Clone,
{
    const OPEN: &[u8] = b"{\"keys\":[";
    let jwks = jwks.into_iter();
    // Sized once: a thousand keys are 1.5 MB, which growing by doubling copies again and again.
    let size = jwks.clone().map(|jwk| jwk.len() + 1).sum::<usize>() + OPEN.len() + 2;
    let mut document = Vec::with_capacity(size);
    document.extend_from_slice(OPEN);
    for (i, jwk) in jwks.enumerate() {
        if i > 0 {
            document.push(b',');
        }
        document.extend_from_slice(jwk);
    }
    document.extend_from_slice(b"]}");
    Bytes::from(document)
}

/// The strong ETag (quoted) of the JWKS document of the JWKs with SHA-256 `digests`, in order:
/// a hash of the JWKs' hashes, so a change to any key or to the order changes it, and a
/// thousand keys cost 32 KB of hashing, not 1.5 MB.
pub fn jwks_etag<'a>(digests: impl IntoIterator<Item = &'a [u8; 32]>) -> String {
    let mut hasher = Sha256::new();
    for digest in digests {
        hasher.update(digest);
    }
    let digest = hasher.finalize();
    format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Current, next, previous keys newest first (by when they became current), then the
/// `revoked_limit` most recently revoked keys: the order the key set is served in.
fn serving_order(keys: &mut Vec<PublishedKey>, revoked_limit: usize) {
    keys.sort_by(|a, b| {
        let (a, b) = (&a.record, &b.record);
        a.state
            .rank()
            .cmp(&b.state.rank())
            .then_with(|| match a.state {
                KeyState::Revoked => b.revoked_at.cmp(&a.revoked_at),
                _ => b.current_since.cmp(&a.current_since),
            })
            .then_with(|| a.kid.cmp(&b.kid))
    });
    let valid = keys
        .iter()
        .take_while(|k| k.record.state.is_valid())
        .count();
    keys.truncate(valid.saturating_add(revoked_limit));
}

impl Published {
    fn build(
        version: i64,
        policy: RotationPolicy,
        keys: Vec<PublishedKey>,
        signer: Option<Arc<Signer>>,
    ) -> Self {
        let valid = || keys.iter().filter(|k| k.record.state.is_valid());
        Self {
            version,
            verifiers: Verifiers::of(valid().map(|k| &k.verifier)),
            etag: jwks_etag(valid().map(|k| &k.jwk_digest)),
            keys,
            signer,
            policy,
        }
    }

    /// `{"keys":[…]}` of every valid key, current first. Made when asked for, not with the key
    /// set: a change returns without writing a thousand keys' 1.5 MB, and the JWKS endpoint
    /// keeps the document it makes for the key set's version.
    pub fn jwks(&self) -> Bytes {
        jwks_body(
            self.keys
                .iter()
                .filter(|k| k.record.state.is_valid())
                .map(|k| k.jwk_json.as_ref()),
        )
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> Option<&PublishedKey> {
        self.keys
            .iter()
            .find(|k| k.record.state == KeyState::Current)
    }

    /// A key by kid among the published ones.
    pub fn find(&self, kid: &str) -> Option<&PublishedKey> {
        self.keys.iter().find(|k| k.record.kid == kid)
    }
}

/// The signer for the current key `current`: reused from `previous` when it is that key,
/// otherwise decrypted with `master` from its row among `rows`; `None` without a current key.
fn current_signer(
    current: Option<&str>,
    rows: &[StoredKey],
    master: &MasterKey,
    previous: Option<&Arc<Signer>>,
) -> Result<Option<Arc<Signer>>, ServiceError> {
    let Some(current) = current else {
        return Ok(None);
    };
    if let Some(signer) = previous.filter(|s| s.kid == current) {
        return Ok(Some(signer.clone()));
    }
    let (alg, sealed) = rows
        .iter()
        .find(|k| k.record.kid == current)
        .and_then(|row| Some((row.alg, row.sealed.as_ref()?)))
        .ok_or_else(|| {
            KeyError::Inconsistent(format!("current key {current} has no private key"))
        })?;
    let private = PrivateKey::from_pkcs8_der(&master.unseal(current, sealed)?)?;
    Ok(Some(Arc::new(Signer::new(current, alg, &private)?)))
}

/// The kid of the key in `state` among `keys`.
fn kid_in(keys: &[StoredKey], state: KeyState) -> Option<&str> {
    keys.iter()
        .find(|k| k.record.state == state)
        .map(|k| k.record.kid.as_str())
}

/// The published key set of one tenant, and how it follows the store.
pub struct PublishedKeys {
    store: Arc<dyn KeyStore>,
    master: Arc<MasterKey>,
    sender: watch::Sender<Arc<Published>>,
    /// Serialises rebuilds so an older load never overwrites a newer one.
    reloading: Mutex<()>,
}

impl std::fmt::Debug for PublishedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedKeys")
            .field("version", &self.current().version)
            .finish_non_exhaustive()
    }
}

impl PublishedKeys {
    /// Publishes `loaded`, as just read from `store`.
    pub fn new(
        store: Arc<dyn KeyStore>,
        master: Arc<MasterKey>,
        loaded: &StoredKeys,
    ) -> Result<Self, ServiceError> {
        let keys = loaded
            .keys
            .iter()
            .map(PublishedKey::from_stored)
            .collect::<Result<_, _>>()?;
        let current = kid_in(&loaded.keys, KeyState::Current);
        let signer = current_signer(current, &loaded.keys, &master, None)?;
        let published = Published::build(loaded.version, loaded.policy, keys, signer);
        Ok(Self {
            store,
            master,
            sender: watch::Sender::new(Arc::new(published)),
            reloading: Mutex::new(()),
        })
    }

    /// The key set as currently served.
    pub fn current(&self) -> Arc<Published> {
        self.sender.borrow().clone()
    }

    /// Notified on every change to the published key set.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.sender.subscribe()
    }

    /// Reloads the key set if the store changed since it was last published; `true` if it did.
    /// Reads back only the keys changed since (a rotation: three rows, whatever the history).
    pub async fn reload(&self) -> Result<bool, ServiceError> {
        let _guard = self.reloading.lock().await;
        let current = self.current();
        if self.store.version().await? == current.version {
            return Ok(false);
        }
        let changes = self.store.load_changes(current.version).await?;
        let published = match self.apply(&current, &changes)? {
            Some(published) => published,
            // The changes do not add up to the key set stored (rows written without their
            // version, by a server older than this one: a rotation or a revocation it made
            // shows in the current and next keys or in the count of valid keys): read it whole.
            None => self.load_whole(&current).await?,
        };
        self.sender.send_replace(Arc::new(published));
        Ok(true)
    }

    /// `current` with `changes` applied, or `None` if the result is not the stored key set.
    fn apply(
        &self,
        current: &Published,
        changes: &KeyChanges,
    ) -> Result<Option<Published>, ServiceError> {
        // The changed keys not found among the published ones are new.
        let mut changed: HashMap<&str, &StoredKey> = changes
            .changed
            .iter()
            .map(|key| (key.record.kid.as_str(), key))
            .collect();
        let mut keys = Vec::with_capacity(current.keys.len() + changed.len());
        for key in &current.keys {
            keys.push(match changed.remove(key.record.kid.as_str()) {
                Some(stored) => key.with_record(&stored.record),
                None => key.clone(),
            });
        }
        for stored in changes
            .changed
            .iter()
            .filter(|k| changed.contains_key(k.record.kid.as_str()))
        {
            keys.push(PublishedKey::from_stored(stored)?);
        }
        serving_order(&mut keys, REVOKED_KEYS_SHOWN);
        let kid_of = |state| {
            keys.iter()
                .find(|k| k.record.state == state)
                .map(|k| k.record.kid.as_str())
        };
        let valid = keys.iter().filter(|k| k.record.state.is_valid()).count();
        if kid_of(KeyState::Current) != changes.current.as_deref()
            || kid_of(KeyState::Next) != changes.next.as_deref()
            || i64::try_from(valid).ok() != Some(changes.valid_keys)
        {
            return Ok(None);
        }
        let signer = match current_signer(
            changes.current.as_deref(),
            &changes.changed,
            &self.master,
            current.signer.as_ref(),
        ) {
            Ok(signer) => signer,
            Err(ServiceError::Key(KeyError::Inconsistent(_))) => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(Some(Published::build(
            changes.version,
            changes.policy,
            keys,
            signer,
        )))
    }

    /// The whole key set as stored; certificates of keys already published are not parsed again.
    async fn load_whole(&self, current: &Published) -> Result<Published, ServiceError> {
        let loaded = self.store.load_for_serving(REVOKED_KEYS_SHOWN).await?;
        let known: HashMap<&str, &PublishedKey> = current
            .keys
            .iter()
            .map(|key| (key.record.kid.as_str(), key))
            .collect();
        let keys = loaded
            .keys
            .iter()
            .map(|stored| match known.get(stored.record.kid.as_str()) {
                Some(known) => Ok(known.with_record(&stored.record)),
                None => PublishedKey::from_stored(stored),
            })
            .collect::<Result<_, _>>()?;
        let signer = current_signer(
            kid_in(&loaded.keys, KeyState::Current),
            &loaded.keys,
            &self.master,
            current.signer.as_ref(),
        )?;
        Ok(Published::build(
            loaded.version,
            loaded.policy,
            keys,
            signer,
        ))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_jwks_document_is_the_keys_in_order_with_a_strong_etag() {
        let (a, b) = (&b"{\"kid\":\"a\"}"[..], &b"{\"kid\":\"b\"}"[..]);
        let digest = |jwk: &[u8]| -> [u8; 32] { Sha256::digest(jwk).into() };
        let (da, db) = (digest(a), digest(b));
        let (document, etag) = (jwks_body([a, b]), jwks_etag([&da, &db]));
        assert_eq!(&document[..], br#"{"keys":[{"kid":"a"},{"kid":"b"}]}"#);
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34);
        let (empty, other) = (jwks_body([]), jwks_etag([]));
        assert_eq!(&empty[..], br#"{"keys":[]}"#);
        assert_ne!(etag, other);
        let swapped = jwks_etag([&db, &da]);
        assert_ne!(etag, swapped, "the order is part of the document");
        let parsed: serde_json::Value = serde_json::from_slice(&document).unwrap();
        assert_eq!(parsed["keys"][1]["kid"], "b");
    }

    #[test]
    fn timestamps_are_iso_8601_with_milliseconds() {
        assert_eq!(iso(DateTime::<Utc>::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
