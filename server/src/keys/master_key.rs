//! The master key that encrypts every private signing key at rest (AES-256-GCM).
//!
//! It lives in a file, never in the database. Each ciphertext is stored beside the id of the
//! master key that sealed it, so a wrong key is named as such instead of failing as garbage, and
//! the master key can later be rotated key by key.

use std::{
    fs,
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
};

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Binds each ciphertext to its purpose and its kid, so a sealed key cannot be moved to another row.
const AAD_PREFIX: &str = "signet/private-key/v1/";

/// Why a master key could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("master key file {path} does not exist")]
    Missing { path: PathBuf },
    #[error("cannot read master key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create master key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "master key file {path} must hold 32 random bytes in base64 (e.g. `openssl rand -base64 32`)"
    )]
    Malformed { path: PathBuf },
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

    /// Reads the base64 key in `path`.
    pub fn load(path: &Path) -> Result<Self, MasterKeyError> {
        let text = Zeroizing::new(fs::read_to_string(path).map_err(|source| {
            if source.kind() == ErrorKind::NotFound {
                MasterKeyError::Missing {
                    path: path.to_owned(),
                }
            } else {
                MasterKeyError::Read {
                    path: path.to_owned(),
                    source,
                }
            }
        })?);
        let malformed = || MasterKeyError::Malformed {
            path: path.to_owned(),
        };
        let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| malformed())?);
        let bytes: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| malformed())?;
        Ok(Self::from_bytes(bytes))
    }

    /// Creates a new random key in `path`, readable only by its owner; fails if the file exists.
    pub fn create(path: &Path) -> Result<Self, MasterKeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut_slice());
        let encoded = Zeroizing::new(format!("{}\n", STANDARD.encode(bytes.as_slice())));
        let create_error = |source| MasterKeyError::Create {
            path: path.to_owned(),
            source,
        };
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(create_error)?;
        file.write_all(encoded.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(create_error)?;
        Ok(Self::from_bytes(*bytes))
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
    pub fn open(
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
            master.open("kid-a", &sealed).unwrap().as_slice(),
            b"private bytes"
        );

        assert!(matches!(
            master.open("kid-b", &sealed),
            Err(MasterKeyError::Tampered { .. })
        ));
        let other = MasterKey::from_bytes([8; 32]);
        assert!(matches!(
            other.open("kid-a", &sealed),
            Err(MasterKeyError::WrongKey { .. })
        ));
        let mut flipped = sealed.clone();
        let last = flipped.ciphertext.len() - 1;
        flipped.ciphertext[last] ^= 1;
        assert!(matches!(
            master.open("kid-a", &flipped),
            Err(MasterKeyError::Tampered { .. })
        ));
    }

    #[test]
    fn created_key_files_are_private_and_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let created = MasterKey::create(&path).unwrap();
        assert_eq!(MasterKey::load(&path).unwrap().id(), created.id());
        assert!(MasterKey::create(&path).is_err(), "never overwrites a key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn malformed_and_missing_key_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        assert!(matches!(
            MasterKey::load(&path),
            Err(MasterKeyError::Missing { .. })
        ));
        fs::write(&path, "not base64 at all").unwrap();
        assert!(matches!(
            MasterKey::load(&path),
            Err(MasterKeyError::Malformed { .. })
        ));
        fs::write(&path, STANDARD.encode([1u8; 16])).unwrap();
        assert!(matches!(
            MasterKey::load(&path),
            Err(MasterKeyError::Malformed { .. })
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
