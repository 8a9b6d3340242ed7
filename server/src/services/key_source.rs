//! Where new key pairs come from: real generation in production, fixture keys in tests (so a
//! test never waits for RSA generation). A pair becomes a tenant's signing key when
//! [`super::spare_keys::SpareKeys`] gives it a kid and a certificate for that tenant.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use super::{ServiceError, off_the_workers};
use crate::domain::material::{KeyKind, MaterialError, PrivateKey};

/// Makes new key pairs.
pub trait KeySource: Send + Sync + std::fmt::Debug + 'static {
    /// A new private key of `kind`. May be slow: callers run it off the async workers
    /// ([`generate`]).
    fn private_key(&self, kind: KeyKind) -> Result<PrivateKey, MaterialError>;
}

/// How a key source travels through the application.
pub type SharedKeySource = Arc<dyn KeySource>;

/// Makes a key pair of `kind` on a blocking thread.
pub async fn generate(source: &SharedKeySource, kind: KeyKind) -> Result<PrivateKey, ServiceError> {
    let source = Arc::clone(source);
    Ok(off_the_workers(move || source.private_key(kind)).await??)
}

/// Real generation from the OS CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct GeneratedKeys;

impl KeySource for GeneratedKeys {
    fn private_key(&self, kind: KeyKind) -> Result<PrivateKey, MaterialError> {
        PrivateKey::generate(kind)
    }
}

/// Key pairs read from fixture private keys (PKCS#8 PEM), those of the kind asked for taken in
/// turn, in microseconds; each still gets a fresh kid and certificate when a tenant takes it.
/// A kind no fixture has is generated for real. For tests only: the same private key comes back.
#[derive(Debug)]
pub struct FixtureKeys {
    /// Each fixture with its kind, read once.
    pems: Vec<(KeyKind, String)>,
    next: AtomicUsize,
}

impl FixtureKeys {
    /// A source cycling through `pems`; fails on the first one that is not a key Signet accepts.
    pub fn new(pems: impl IntoIterator<Item = impl Into<String>>) -> Result<Self, MaterialError> {
        let pems = pems
            .into_iter()
            .map(|pem| {
                let pem: String = pem.into();
                Ok((PrivateKey::from_pkcs8_pem(&pem)?.kind(), pem))
            })
            .collect::<Result<Vec<_>, MaterialError>>()?;
        if pems.is_empty() {
            return Err(MaterialError::InvalidKey("no fixture keys".into()));
        }
        Ok(Self {
            pems,
            next: AtomicUsize::new(0),
        })
    }
}

impl KeySource for FixtureKeys {
    fn private_key(&self, kind: KeyKind) -> Result<PrivateKey, MaterialError> {
        let fixtures: Vec<&str> = self
            .pems
            .iter()
            .filter(|(of, _)| *of == kind)
            .map(|(_, pem)| pem.as_str())
            .collect();
        if fixtures.is_empty() {
            return PrivateKey::generate(kind);
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % fixtures.len();
        PrivateKey::from_pkcs8_pem(fixtures[index])
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fixture_keys_come_in_turn() {
        let source = FixtureKeys::new([
            include_str!("../../fixtures/rsa-2048-a.pk8.pem"),
            include_str!("../../fixtures/rsa-2048-b.pk8.pem"),
        ])
        .unwrap();
        let der = |key: PrivateKey| key.to_pkcs8_der().unwrap().to_vec();
        let rsa = KeyKind::Rsa(2048);
        let (a, b, c) = (
            der(source.private_key(rsa).unwrap()),
            der(source.private_key(rsa).unwrap()),
            der(source.private_key(rsa).unwrap()),
        );
        assert_ne!(a, b);
        assert_eq!(a, c, "the third key is the first fixture again");
        // No fixture is an Ed25519 key: one is generated.
        let ed = source.private_key(KeyKind::Ed25519).unwrap();
        assert_eq!(ed.kind(), KeyKind::Ed25519);
        assert!(FixtureKeys::new(["not a key"]).is_err());
        assert!(FixtureKeys::new(Vec::<String>::new()).is_err());
    }
}
