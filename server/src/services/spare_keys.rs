//! Next keys generated ahead of time, so a rotation never waits for key generation: up to
//! [`SPARE_KEYS`], refilled in the background by one task at a time.

use std::sync::{
    Arc, Mutex, MutexGuard, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use chrono::{DateTime, Utc};

use super::{
    ServiceError,
    clock::SharedClock,
    key_source::{SharedKeySource, generate},
};
use crate::domain::material::GeneratedKey;

/// How many next keys wait ready-made: a burst of this many rotations waits for no RSA
/// generation (about 0.1–0.5 s of CPU each).
pub const SPARE_KEYS: usize = 3;

/// The pool of spare keys; cheap to clone, every clone is the same pool.
#[derive(Debug, Clone)]
pub struct SpareKeys {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: SharedKeySource,
    clock: SharedClock,
    tenant_domain: String,
    keys: Mutex<Vec<GeneratedKey>>,
    /// Whether a background task is refilling `keys`.
    filling: AtomicBool,
}

impl SpareKeys {
    /// An empty pool of keys for `tenant_domain` from `source`; the refill task reads `clock`.
    pub fn new(source: SharedKeySource, clock: SharedClock, tenant_domain: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                clock,
                tenant_domain: tenant_domain.to_owned(),
                keys: Mutex::new(Vec::with_capacity(SPARE_KEYS)),
                filling: AtomicBool::new(false),
            }),
        }
    }

    fn keys(&self) -> MutexGuard<'_, Vec<GeneratedKey>> {
        self.inner
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many keys wait.
    pub fn count(&self) -> usize {
        self.keys().len()
    }

    /// A spare key, or one generated now (certified from `now`) when none waits.
    pub async fn take(&self, now: DateTime<Utc>) -> Result<GeneratedKey, ServiceError> {
        let spare = self.keys().pop();
        match spare {
            Some(key) => Ok(key),
            None => generate(&self.inner.source, &self.inner.tenant_domain, now).await,
        }
    }

    /// Returns a key that was taken but never stored, for the next attempt.
    pub fn put_back(&self, key: GeneratedKey) {
        self.keys().push(key);
    }

    /// Tops the pool up to [`SPARE_KEYS`] in the background, unless that is under way.
    pub fn spawn_refill(&self) {
        if self.inner.filling.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = self.clone();
        tokio::spawn(async move { pool.refill().await });
    }

    async fn refill(&self) {
        let inner = &self.inner;
        loop {
            while self.count() < SPARE_KEYS {
                // Generated without holding the lock: rotations take spares meanwhile.
                let now = inner.clock.now();
                match generate(&inner.source, &inner.tenant_domain, now).await {
                    Ok(key) => self.put_back(key),
                    Err(error) => {
                        // The next rotation generates its key itself and tries again.
                        tracing::warn!(%error, "cannot pre-generate the next signing key");
                        inner.filling.store(false, Ordering::Release);
                        return;
                    }
                }
            }
            inner.filling.store(false, Ordering::Release);
            // A rotation that took a spare after the last count found this task still busy and
            // started none: go on for it, unless another task already has.
            if self.count() >= SPARE_KEYS || inner.filling.swap(true, Ordering::AcqRel) {
                break;
            }
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::services::{clock::SystemClock, key_source::FixtureKeys};

    fn pool() -> SpareKeys {
        let source = FixtureKeys::new([include_str!("../../fixtures/rsa-2048-a.pk8.pem")]).unwrap();
        SpareKeys::new(Arc::new(source), Arc::new(SystemClock), "spare.test")
    }

    #[tokio::test]
    async fn the_pool_fills_up_in_the_background_and_hands_keys_out() {
        let pool = pool();
        assert_eq!(pool.count(), 0);
        let made_now = pool.take(Utc::now()).await.unwrap();
        pool.spawn_refill();
        while pool.count() < SPARE_KEYS {
            tokio::task::yield_now().await;
        }
        let spare = pool.take(Utc::now()).await.unwrap();
        assert_ne!(spare.kid, made_now.kid);
        assert_eq!(pool.count(), SPARE_KEYS - 1);
        pool.put_back(spare);
        assert_eq!(pool.count(), SPARE_KEYS);
    }
}
