//! Where new signing keys come from: real generation in production, fixture keys in tests (so
//! a test never waits for RSA generation).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use chrono::{DateTime, Utc};

use super::{ServiceError, off_the_workers};
use crate::domain::material::{
    GeneratedKey, MaterialError, PrivateKey, generate_signing_key, new_kid, self_signed_certificate,
};

/// Makes new signing keys: a fresh kid, a private key and its certificate for the tenant.
pub trait KeySource: Send + Sync + std::fmt::Debug + 'static {
    /// A new key for `tenant_domain`, certified from `now`. May be slow: callers run it off the
    /// async workers ([`generate`]).
    fn generate(
        &self,
        tenant_domain: &str,
        now: DateTime<Utc>,
    ) -> Result<GeneratedKey, MaterialError>;
}

/// How a key source travels through the application.
pub type SharedKeySource = Arc<dyn KeySource>;

/// Generates a key on a blocking thread.
pub async fn generate(
    source: &SharedKeySource,
    tenant_domain: &str,
    now: DateTime<Utc>,
) -> Result<GeneratedKey, ServiceError> {
    let (source, domain) = (Arc::clone(source), tenant_domain.to_owned());
    Ok(off_the_workers(move || source.generate(&domain, now)).await??)
}

/// Real RSA generation from the OS CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct GeneratedKeys;

impl KeySource for GeneratedKeys {
    fn generate(
        &self,
        tenant_domain: &str,
        now: DateTime<Utc>,
    ) -> Result<GeneratedKey, MaterialError> {
        generate_signing_key(tenant_domain, now)
    }
}

/// Keys made from fixture private keys (PKCS#8 PEM), taken in turn: each gets a fresh kid and a
/// fresh certificate, in milliseconds. For tests only: the same private key comes back.
#[derive(Debug)]
pub struct FixtureKeys {
    pems: Vec<String>,
    next: AtomicUsize,
}

impl FixtureKeys {
    /// A source cycling through `pems`; fails on the first one that is not a key Signet accepts.
    pub fn new(pems: impl IntoIterator<Item = impl Into<String>>) -> Result<Self, MaterialError> {
        let pems: Vec<String> = pems.into_iter().map(Into::into).collect();
        for pem in &pems {
            PrivateKey::from_pkcs8_pem(pem)?;
        }
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
    fn generate(
        &self,
        tenant_domain: &str,
        now: DateTime<Utc>,
    ) -> Result<GeneratedKey, MaterialError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.pems.len();
        let private = PrivateKey::from_pkcs8_pem(&self.pems[index])?;
        Ok(GeneratedKey {
            kid: new_kid(),
            cert_der: self_signed_certificate(&private, tenant_domain, now)?,
            private,
        })
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fixture_keys_come_in_turn_with_fresh_kids() {
        let source = FixtureKeys::new([
            include_str!("../../fixtures/rsa-2048-a.pk8.pem"),
            include_str!("../../fixtures/rsa-2048-b.pk8.pem"),
        ])
        .unwrap();
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let (a, b, c) = (
            source.generate("fixture.test", now).unwrap(),
            source.generate("fixture.test", now).unwrap(),
            source.generate("fixture.test", now).unwrap(),
        );
        assert_ne!(a.kid, c.kid);
        // The kids material.rs generates have the shape app::keys::Kid calls issued.
        for key in [&a, &b, &c] {
            assert!(app::keys::Kid::parse(&key.kid).unwrap().is_issued_shape());
        }
        assert_ne!(a.cert_der, b.cert_der);
        let der = |key: &GeneratedKey| key.private.to_pkcs8_der().unwrap().to_vec();
        assert_eq!(der(&a), der(&c), "the third key is the first fixture again");
        assert!(FixtureKeys::new(["not a key"]).is_err());
        assert!(FixtureKeys::new(Vec::<String>::new()).is_err());
    }
}
