//! Sealing: the master key that encrypts every private signing key at rest (AES-256-GCM).
//!
//! The master key lives in a file, never in the database (store/master_key_file.rs reads and
//! writes it). Each ciphertext is stored beside the id of the master key that sealed it, so a
//! wrong key is named as such instead of failing as garbage, and the master key can be rotated.

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length of a master key, in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Binds each ciphertext to its purpose and its kid, so a sealed key cannot be moved to another row.
const AAD_PREFIX: &str = "signet/private-key/v1/";

/// Why sealing or unsealing failed.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error(
        "signing key {kid} was encrypted with master key {expected}, but the configured master key is {actual}"
    )]
    WrongKey {
        kid: String,
        expected: String,
        actual: String,
    },
    #[error(
        "signing key {kid} does not decrypt: its ciphertext was altered or belongs to another key"
    )]
    Tampered { kid: String },
    #[error("encryption failed")]
    Encrypt,
}

/// A private key sealed under a master key: what storage keeps.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey {
    /// Id of the master key that sealed it.
    pub master_key_id: String,
    /// Nonce followed by the AES-256-GCM ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedKey")
            .field("master_key_id", &self.master_key_id)
            .field(
                "ciphertext",
                &format_args!("<{} bytes>", self.ciphertext.len()),
            )
            .finish()
    }
}

/// The key-encryption key. Debug never prints it.
pub struct MasterKey {
    id: String,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, <redacted>)", self.id)
    }
}

impl MasterKey {
    /// A master key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        let key = Zeroizing::new(bytes);
        // The id is a truncated hash: it names the key without revealing anything usable.
        let digest = Sha256::new()
            .chain_update(b"signet master key id\0")
            .chain_update(key.as_slice())
            .finalize();
        let id: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            id: format!("mk-{id}"),
            key,
        }
    }

    /// The id stored beside every ciphertext this key seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.key.as_slice()))
    }

    /// A 256-bit key for `purpose`, derived from this master key (HMAC-SHA256), so other secrets
    /// (like the client-secret hashing key) need no storage of their own.
    pub fn derive_key(&self, purpose: &str) -> Zeroizing<[u8; KEY_LEN]> {
        use hmac::{Hmac, Mac};
        let mut derived = Zeroizing::new([0u8; KEY_LEN]);
        if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_slice()) {
            mac.update(purpose.as_bytes());
            derived.copy_from_slice(&mac.finalize().into_bytes());
        }
        derived
    }

    /// Encrypts a private key (PKCS#8 DER) for the key `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<SealedKey, MasterKeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = format!("{AAD_PREFIX}{kid}");
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| MasterKeyError::Encrypt)?;
        let mut ciphertext = nonce.to_vec();
        ciphertext.extend_from_slice(&sealed);
        Ok(SealedKey {
            master_key_id: self.id.clone(),
            ciphertext,
        })
    }

    /// Decrypts what [`MasterKey::seal`] sealed for `kid`.
    pub fn unseal(
        &self,
        kid: &str,
        sealed: &SealedKey,
    ) -> Result<Zeroizing<Vec<u8>>, MasterKeyError> {
        if sealed.master_key_id != self.id {
            return Err(MasterKeyError::WrongKey {
                kid: kid.to_owned(),
                expected: sealed.master_key_id.clone(),
                actual: self.id.clone(),
            });
        }
        let tampered = || MasterKeyError::Tampered {
            kid: kid.to_owned(),
        };
        if sealed.ciphertext.len() < NONCE_LEN {
            return Err(tampered());
        }
        let (nonce, body) = sealed.ciphertext.split_at(NONCE_LEN);
        let aad = format!("{AAD_PREFIX}{kid}");
        self.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| tampered())
    }
}

/// Why a sealed secret could not be moved to a new master key.
#[derive(Debug, thiserror::Error)]
pub enum ResealError {
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    /// The secret is sealed under neither the old nor the new master key.
    #[error(
        "the signing keys are encrypted under master key {stored} but this process has {process}; \
         restart it with the new SIGNET_MASTER_KEY_FILE"
    )]
    Mismatch { stored: String, process: String },
    #[error("{0} did not open again after re-encryption; nothing was changed")]
    Unverified(String),
}

/// `sealed` (bound to `label`) sealed under `new` instead of `old`, checked by opening it again;
/// `None` when it is under `new` already (and opens with it).
pub fn reseal(
    label: &str,
    sealed: &SealedKey,
    old: &MasterKey,
    new: &MasterKey,
) -> Result<Option<SealedKey>, ResealError> {
    if sealed.master_key_id == new.id() {
        // Already under the new key (an earlier rotation, or a key written by a process that
        // already runs with it): it must open, or the rotation would leave it unreadable.
        new.unseal(label, sealed)?;
        return Ok(None);
    }
    if sealed.master_key_id != old.id() {
        return Err(ResealError::Mismatch {
            stored: sealed.master_key_id.clone(),
            process: old.id().to_owned(),
        });
    }
    let plain = old.unseal(label, sealed)?;
    seal_verified(new, label, &plain).map(Some)
}

/// `plain` sealed under `master` for `label`, opened again and compared before it is trusted.
pub fn seal_verified(
    master: &MasterKey,
    label: &str,
    plain: &[u8],
) -> Result<SealedKey, ResealError> {
    let sealed = master.seal(label, plain)?;
    let reopened = master
        .unseal(label, &sealed)
        .map_err(|_| ResealError::Unverified(label.to_owned()))?;
    if reopened.as_slice() != plain {
        return Err(ResealError::Unverified(label.to_owned()));
    }
    Ok(sealed)
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_master_key_and_kid() {
        let master = MasterKey::from_bytes([7; 32]);
        let sealed = master.seal("kid-a", b"private bytes").unwrap();
        assert_eq!(sealed.master_key_id, master.id());
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"private"));
        assert_eq!(
            master.unseal("kid-a", &sealed).unwrap().as_slice(),
            b"private bytes"
        );

        assert!(matches!(
            master.unseal("kid-b", &sealed),
            Err(MasterKeyError::Tampered { .. })
        ));
        let other = MasterKey::from_bytes([8; 32]);
        assert!(matches!(
            other.unseal("kid-a", &sealed),
            Err(MasterKeyError::WrongKey { .. })
        ));
        let mut flipped = sealed.clone();
        let last = flipped.ciphertext.len() - 1;
        flipped.ciphertext[last] ^= 1;
        assert!(matches!(
            master.unseal("kid-a", &flipped),
            Err(MasterKeyError::Tampered { .. })
        ));
    }

    #[test]
    fn resealing_moves_a_secret_to_the_new_key_once() {
        let (old, new) = (
            MasterKey::from_bytes([1; 32]),
            MasterKey::from_bytes([2; 32]),
        );
        let sealed = old.seal("kid-a", b"secret").unwrap();
        let moved = reseal("kid-a", &sealed, &old, &new).unwrap().unwrap();
        assert_eq!(new.unseal("kid-a", &moved).unwrap().as_slice(), b"secret");
        assert!(reseal("kid-a", &moved, &old, &new).unwrap().is_none());
        let stranger = MasterKey::from_bytes([3; 32]);
        assert!(matches!(
            reseal("kid-a", &sealed, &stranger, &new),
            Err(ResealError::Mismatch { .. })
        ));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let master = MasterKey::from_bytes([0xAB; 32]);
        let printed = format!("{master:?}");
        assert!(printed.contains("redacted"));
        assert!(!printed.contains("171")); // 0xAB
    }
}
