//! The key set as served: views, JWKS body and ETag, the signer and the verifiers, built once
//! per change and shared by every request; and the reload that follows the store's version.

use std::{collections::HashMap, sync::Arc};

use app::keys::{KeyState, KeyView, REVOKED_KEYS_SHOWN};
use axum::body::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, watch};

use super::{
    ServiceError,
    tokens::{Signer, Verifiers},
};
use crate::{
    domain::{
        lifecycle::{KeyError, KeyRecord},
        material::{MaterialError, PrivateKey, PublicMaterial},
        schedule::RotationPolicy,
        sealing::MasterKey,
    },
    store::{KeyStore, StoredKey, StoredKeys},
};

/// A key with its public material, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    pub record: KeyRecord,
    /// Shared by every key set this key is in: a rebuild after a change copies no certificate.
    pub public: Arc<PublicMaterial>,
    /// `public.jwk` as the JWKS serialises it, made once per key, not once per key change.
    jwk_json: Arc<[u8]>,
}

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl PublishedKey {
    /// A stored key's public material, as published.
    pub fn from_stored(key: &StoredKey) -> Result<Self, MaterialError> {
        let public = PublicMaterial::from_certificate(&key.record.kid, key.alg, &key.cert_der)?;
        let jwk_json =
            serde_json::to_vec(&public.jwk).map_err(|e| MaterialError::Encoding(e.to_string()))?;
        Ok(Self {
            public: Arc::new(public),
            jwk_json: jwk_json.into(),
            record: key.record.clone(),
        })
    }

    /// The key as the dashboard and the Management API show it.
    pub fn view(&self) -> KeyView {
        KeyView {
            kid: self.record.kid.clone(),
            state: self.record.state,
            cert: self.public.cert_pem.clone(),
            pkcs7: self.public.pkcs7_pem.clone(),
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
    /// `{"keys":[…]}` of every valid key, current first.
    pub jwks: Bytes,
    /// Strong ETag of `jwks`, quoted.
    pub etag: String,
    /// The current key, decrypted, for signing tokens.
    pub signer: Option<Arc<Signer>>,
    /// Every valid key's public key, for verifying tokens.
    pub verifiers: Verifiers,
    /// The tenant's rotation policy, as of `version`.
    pub policy: RotationPolicy,
}

/// The JWKS document `{"keys":[…]}` of the serialised JWKs `jwks`, in order, and its strong
/// ETag (quoted). Byte for byte what serialising the list of JWKs gives.
pub fn jwks_document<'a>(jwks: impl IntoIterator<Item = &'a [u8]>) -> (Bytes, String) {
    let mut document = b"{\"keys\":[".to_vec();
    for (i, jwk) in jwks.into_iter().enumerate() {
        if i > 0 {
            document.push(b',');
        }
        document.extend_from_slice(jwk);
    }
    document.extend_from_slice(b"]}");
    let digest = Sha256::digest(&document);
    let etag = format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    (Bytes::from(document), etag)
}

impl Published {
    fn build(
        loaded: &StoredKeys,
        keys: Vec<PublishedKey>,
        signer: Option<Arc<Signer>>,
    ) -> Result<Self, MaterialError> {
        let verifiers = Verifiers::new(
            keys.iter()
                .filter(|k| k.record.state.is_valid())
                .map(|k| k.public.as_ref()),
        )?;
        let (jwks, etag) = jwks_document(
            keys.iter()
                .filter(|k| k.record.state.is_valid())
                .map(|k| k.jwk_json.as_ref()),
        );
        Ok(Self {
            version: loaded.version,
            keys,
            jwks,
            etag,
            signer,
            verifiers,
            policy: loaded.policy,
        })
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

/// The signer for the current key among `keys`: reused from `previous` when the current key is
/// unchanged, otherwise decrypted with `master`.
fn current_signer(
    keys: &[StoredKey],
    master: &MasterKey,
    previous: Option<&Arc<Signer>>,
) -> Result<Option<Arc<Signer>>, ServiceError> {
    let Some(current) = keys.iter().find(|k| k.record.state == KeyState::Current) else {
        return Ok(None);
    };
    if let Some(signer) = previous.filter(|s| s.kid == current.record.kid) {
        return Ok(Some(signer.clone()));
    }
    let sealed = current.sealed.as_ref().ok_or_else(|| {
        KeyError::Inconsistent(format!(
            "current key {} has no private key",
            current.record.kid
        ))
    })?;
    let private = PrivateKey::from_pkcs8_der(&master.unseal(&current.record.kid, sealed)?)?;
    Ok(Some(Arc::new(Signer::new(
        &current.record.kid,
        current.alg,
        &private,
    )?)))
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
        let signer = current_signer(&loaded.keys, &master, None)?;
        let published = Published::build(loaded, keys, signer)?;
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
    pub async fn reload(&self) -> Result<bool, ServiceError> {
        let _guard = self.reloading.lock().await;
        if self.store.version().await? == self.current().version {
            return Ok(false);
        }
        let loaded = self.store.load_for_serving(REVOKED_KEYS_SHOWN).await?;
        // Certificates of keys already published are not parsed again.
        let current = self.current();
        let known: HashMap<&str, &PublishedKey> = current
            .keys
            .iter()
            .map(|key| (key.record.kid.as_str(), key))
            .collect();
        let keys = loaded
            .keys
            .iter()
            .map(|stored| match known.get(stored.record.kid.as_str()) {
                Some(known) => Ok(PublishedKey {
                    record: stored.record.clone(),
                    public: Arc::clone(&known.public),
                    jwk_json: Arc::clone(&known.jwk_json),
                }),
                None => PublishedKey::from_stored(stored),
            })
            .collect::<Result<_, _>>()?;
        let signer = current_signer(&loaded.keys, &self.master, current.signer.as_ref())?;
        let published = Arc::new(Published::build(&loaded, keys, signer)?);
        self.sender.send_replace(published);
        Ok(true)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_jwks_document_is_the_keys_in_order_with_a_strong_etag() {
        let (document, etag) = jwks_document([&b"{\"kid\":\"a\"}"[..], &b"{\"kid\":\"b\"}"[..]]);
        assert_eq!(&document[..], br#"{"keys":[{"kid":"a"},{"kid":"b"}]}"#);
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34);
        let (empty, other) = jwks_document(std::iter::empty());
        assert_eq!(&empty[..], br#"{"keys":[]}"#);
        assert_ne!(etag, other);
        let parsed: serde_json::Value = serde_json::from_slice(&document).unwrap();
        assert_eq!(parsed["keys"][1]["kid"], "b");
    }

    #[test]
    fn timestamps_are_iso_8601_with_milliseconds() {
        assert_eq!(iso(DateTime::<Utc>::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
