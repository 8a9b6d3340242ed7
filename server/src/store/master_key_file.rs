//! The master key's file: 32 random bytes in base64, never in the database.

use std::{
    fs,
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::domain::sealing::{KEY_LEN, MasterKey};

/// Why a master key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyFileError {
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
}

/// Reads the base64 key in `path`.
pub fn read_master_key(path: &Path) -> Result<MasterKey, MasterKeyFileError> {
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|source| {
        if source.kind() == ErrorKind::NotFound {
            MasterKeyFileError::Missing {
                path: path.to_owned(),
            }
        } else {
            MasterKeyFileError::Read {
                path: path.to_owned(),
                source,
            }
        }
    })?);
    let malformed = || MasterKeyFileError::Malformed {
        path: path.to_owned(),
    };
    let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| malformed())?);
    let bytes: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| malformed())?;
    Ok(MasterKey::from_bytes(bytes))
}

/// Creates a new random key in `path`, readable only by its owner; fails if the file exists.
pub fn create_master_key(path: &Path) -> Result<MasterKey, MasterKeyFileError> {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    rand::rngs::OsRng.fill_bytes(bytes.as_mut_slice());
    let encoded = Zeroizing::new(format!("{}\n", STANDARD.encode(bytes.as_slice())));
    let create_error = |source| MasterKeyFileError::Create {
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
    Ok(MasterKey::from_bytes(*bytes))
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn created_key_files_are_private_and_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let created = create_master_key(&path).unwrap();
        assert_eq!(read_master_key(&path).unwrap().id(), created.id());
        assert!(create_master_key(&path).is_err(), "never overwrites a key");
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
            read_master_key(&path),
            Err(MasterKeyFileError::Missing { .. })
        ));
        fs::write(&path, "not base64 at all").unwrap();
        assert!(matches!(
            read_master_key(&path),
            Err(MasterKeyFileError::Malformed { .. })
        ));
        fs::write(&path, STANDARD.encode([1u8; 16])).unwrap();
        assert!(matches!(
            read_master_key(&path),
            Err(MasterKeyFileError::Malformed { .. })
        ));
    }
}
