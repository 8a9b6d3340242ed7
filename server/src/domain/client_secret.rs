//! Machine clients of the Management API: ids, secrets, granted scopes, and the keys that hash
//! their secrets.
//!
//! Client secrets are 256-bit random values, so a keyed SHA-256 (HMAC) compared in constant time
//! is the right hash: no password KDF is needed against brute force, and token issuance stays fast.

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore, distributions::Alphanumeric};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{
    sealing::{MasterKey, MasterKeyError, SealedKey},
    signing_policy::SigningPolicy,
};

/// Scopes a client may be granted: Auth0's names for the signing-key, client and log endpoints,
/// and `sign:tokens` for the signing service.
pub const KNOWN_SCOPES: [&str; 8] = [
    "read:signing_keys",
    "create:signing_keys",
    "update:signing_keys",
    "sign:tokens",
    "create:clients",
    "read:clients",
    "delete:clients",
    "read:logs",
];

/// A machine client as stored: never its secret, only the secret's keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Vec<u8>,
    /// Id of the master key the hashing key was derived from (see [`ClientHashKeys`]).
    pub secret_key_id: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// What it may sign through the signing service.
    pub signing_policy: SigningPolicy,
}

/// A freshly created client with its secret, shown once.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NewClient {
    pub client_id: String,
    pub client_secret: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub signing_policy: SigningPolicy,
    /// ISO-8601 UTC with milliseconds.
    pub created_at: String,
}

/// Why a client cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("unknown scope {0:?}; known scopes: {known}", known = KNOWN_SCOPES.join(" "))]
    UnknownScope(String),
    #[error("a client needs at least one scope")]
    NoScopes,
    #[error("a client needs a name (at most 128 characters)")]
    BadName,
}

/// Splits and checks a space-separated scope list; duplicates are dropped, order kept.
pub fn parse_scopes(text: &str) -> Result<Vec<String>, ClientError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in text.split_whitespace() {
        if !KNOWN_SCOPES.contains(&scope) {
            return Err(ClientError::UnknownScope(scope.to_owned()));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(ClientError::NoScopes);
    }
    Ok(scopes)
}

/// The key that hashes the secrets of clients created while `master` is the master key.
pub fn client_hash_key(master: &MasterKey) -> Zeroizing<[u8; 32]> {
    master.derive_key("signet/client-secret-hash/v1")
}

/// What a sealed hashing key is bound to when sealed under a master key. Kids never contain
/// `/`, so a sealed hashing key can never pass for a signing key or the other way round.
pub fn hash_key_label(secret_key_id: &str) -> String {
    format!("client-hash-key/{secret_key_id}")
}

fn secret_hash(key: &[u8; 32], client_id: &str, secret: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps it panic-free.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_slice()) else {
        return Vec::new();
    };
    mac.update(client_id.as_bytes());
    mac.update(&[0]);
    mac.update(secret.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Every key a process can check client secrets with: the one derived from its master key, and
/// those of retired master keys, which a master-key rotation keeps in the database sealed under
/// the new master key (a stored HMAC cannot be recomputed without the secret).
pub struct ClientHashKeys {
    current: String,
    keys: HashMap<String, Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for ClientHashKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<_> = self.keys.keys().collect();
        ids.sort();
        write!(f, "ClientHashKeys({ids:?}, <redacted>)")
    }
}

impl ClientHashKeys {
    /// The keys of `master` and of the retired master keys in `retired` (sealed under `master`).
    pub fn unseal(
        master: &MasterKey,
        retired: &[(String, SealedKey)],
    ) -> Result<Self, MasterKeyError> {
        let mut keys = HashMap::new();
        for (secret_key_id, sealed) in retired {
            let label = hash_key_label(secret_key_id);
            let plain = master.unseal(&label, sealed)?;
            let key: [u8; 32] = plain
                .as_slice()
                .try_into()
                .map_err(|_| MasterKeyError::Tampered { kid: label })?;
            keys.insert(secret_key_id.clone(), Zeroizing::new(key));
        }
        keys.insert(master.id().to_owned(), client_hash_key(master));
        Ok(Self {
            current: master.id().to_owned(),
            keys,
        })
    }

    /// Whether `secret` is `client`'s secret; constant-time in the secret.
    pub fn verify(&self, client: &ClientRecord, secret: &str) -> bool {
        use subtle::ConstantTimeEq;
        let (known, key) = match self.keys.get(&client.secret_key_id) {
            Some(key) => (true, &**key),
            // Hashed anyway, so an unknown hashing key costs the same time as a wrong secret.
            None => (false, self.current_key()),
        };
        let candidate = secret_hash(key, &client.client_id, secret);
        known && bool::from(candidate.ct_eq(&client.secret_hash))
    }

    /// Hashes a secret for a client that does not exist, so an unknown client id costs the same
    /// time as a wrong secret.
    pub fn burn(&self, client_id: &str, secret: &str) {
        std::hint::black_box(secret_hash(self.current_key(), client_id, secret));
    }

    fn current_key(&self) -> &[u8; 32] {
        // `unseal` always inserts the current key; the fallback only keeps this panic-free.
        const NONE: [u8; 32] = [0; 32];
        self.keys.get(&self.current).map_or(&NONE, |key| key)
    }
}

/// Makes a new client: a 32-character id, a 256-bit secret, and the record to store.
pub fn new_client(
    master: &MasterKey,
    name: &str,
    scopes: &str,
    signing_policy: SigningPolicy,
    now: DateTime<Utc>,
) -> Result<(ClientRecord, NewClient), ClientError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(ClientError::BadName);
    }
    let scopes = parse_scopes(scopes)?;
    let mut rng = rand::rngs::OsRng;
    let client_id: String = (0..32).map(|_| rng.sample(Alphanumeric) as char).collect();
    let mut secret = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(secret.as_mut_slice());
    let client_secret = URL_SAFE_NO_PAD.encode(secret.as_slice());
    let record = ClientRecord {
        secret_hash: secret_hash(&client_hash_key(master), &client_id, &client_secret),
        secret_key_id: master.id().to_owned(),
        client_id: client_id.clone(),
        name: name.to_owned(),
        scopes: scopes.clone(),
        created_at: now,
        signing_policy: signing_policy.clone(),
    };
    Ok((
        record,
        NewClient {
            client_id,
            client_secret,
            name: name.to_owned(),
            scopes,
            signing_policy,
            created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
    ))
}

impl ClientRecord {
    /// Whether `secret` is this client's secret under `master` alone; constant-time in the secret.
    /// The client service checks with [`ClientHashKeys`], which also knows retired master keys.
    pub fn verify_secret(&self, master: &MasterKey, secret: &str) -> bool {
        use subtle::ConstantTimeEq;
        let candidate = secret_hash(&client_hash_key(master), &self.client_id, secret);
        self.secret_key_id == master.id() && bool::from(candidate.ct_eq(&self.secret_hash))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::from_bytes([9; 32])
    }

    #[test]
    fn a_new_client_verifies_its_own_secret_only() {
        let (record, shown) = new_client(
            &master(),
            "deploy bot",
            "read:signing_keys",
            SigningPolicy::default(),
            DateTime::<Utc>::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(record.client_id.len(), 32);
        assert_eq!(shown.client_secret.len(), 43, "256 bits, base64url");
        assert!(record.verify_secret(&master(), &shown.client_secret));
        assert!(!record.verify_secret(&master(), "wrong"));
        assert!(!record.verify_secret(&MasterKey::from_bytes([1; 32]), &shown.client_secret));
        assert!(
            !record.secret_hash.windows(8).any(|w| shown
                .client_secret
                .as_bytes()
                .windows(8)
                .any(|s| s == w))
        );
    }

    #[test]
    fn secrets_hashed_under_a_retired_master_key_still_verify() {
        let (old, new) = (master(), MasterKey::from_bytes([3; 32]));
        let (record, shown) = new_client(
            &old,
            "before rotation",
            "read:signing_keys",
            SigningPolicy::default(),
            DateTime::<Utc>::UNIX_EPOCH,
        )
        .unwrap();
        let sealed = new
            .seal(&hash_key_label(old.id()), client_hash_key(&old).as_slice())
            .unwrap();
        let keys = ClientHashKeys::unseal(&new, &[(old.id().to_owned(), sealed.clone())]).unwrap();
        assert!(keys.verify(&record, &shown.client_secret));
        assert!(!keys.verify(&record, "wrong"));
        // Without the retired key the client is unknown; with the wrong master it does not open.
        assert!(
            !ClientHashKeys::unseal(&new, &[])
                .unwrap()
                .verify(&record, &shown.client_secret)
        );
        assert!(ClientHashKeys::unseal(&old, &[(old.id().to_owned(), sealed.clone())]).is_err());
        // A sealed hashing key is bound to its id.
        assert!(ClientHashKeys::unseal(&new, &[("mk-other".to_owned(), sealed)]).is_err());
        assert!(format!("{keys:?}").contains("redacted"));
    }

    #[test]
    fn scopes_are_checked_and_deduplicated() {
        assert_eq!(
            parse_scopes("read:signing_keys  update:signing_keys read:signing_keys").unwrap(),
            ["read:signing_keys", "update:signing_keys"]
        );
        assert_eq!(
            parse_scopes("read:users"),
            Err(ClientError::UnknownScope("read:users".into()))
        );
        assert_eq!(parse_scopes("  "), Err(ClientError::NoScopes));
    }

    #[test]
    fn names_are_required() {
        assert_eq!(
            new_client(
                &master(),
                " ",
                "read:signing_keys",
                SigningPolicy::default(),
                DateTime::<Utc>::UNIX_EPOCH
            )
            .unwrap_err(),
            ClientError::BadName
        );
    }
}
