//! Key pairs generated ahead of time, shared by every tenant of the process, so neither a
//! rotation nor a new tenant waits for key generation (a 4096-bit RSA key takes seconds): up to
//! [`SPARE_KEYS`] of every kind in use wait, refilled in the background by one thread at a time,
//! at the lowest CPU priority, once the change that took a spare is over ([`RefillWhenDone`]):
//! a refill started during the rotation held one of two cores against it for 0.1–0.5 s, and
//! nice 19 did not keep it out of the way (measured: rotation p90 8.3 → 5.2 ms at 10 keys).
//! A kind is in use once a key of it has been asked for (the deployment's default kind from the
//! start). A pair becomes a tenant's key when it is taken: it gets a fresh kid and a certificate
//! for that tenant's domain then (one signature, a millisecond).
//!
//! Only a server keeps spares ([`Refill::InTheBackground`]). A one-shot command
//! ([`Refill::Never`]) generates the key it takes when it takes it: spares made after its change
//! would be thrown away at exit, and a thread still generating one while the process exits was
//! how `signet keys rotate` ended in SIGABRT under load. A server stops its refill and waits for
//! it when it shuts down ([`SpareKeys::close`]).

use std::collections::HashMap;
use std::sync::{
    Arc, Mutex, MutexGuard, PoisonError,
    atomic::{AtomicBool, Ordering},
};
use std::thread::JoinHandle;

use app::algorithm::KeySpec;
use chrono::{DateTime, Utc};

use super::{
    ServiceError,
    key_source::{SharedKeySource, generate},
    off_the_workers,
};
use crate::domain::material::{
    GeneratedKey, KeyKind, PrivateKey, new_kid, self_signed_certificate,
};

/// How many key pairs of each kind in use wait ready-made: a new tenant takes two, a rotation
/// one, so a burst of this many rotations (or half as many new tenants) waits for no key
/// generation (0.1–0.5 s of CPU each for RSA-2048, seconds for RSA-4096).
pub const SPARE_KEYS: usize = 4;

/// Whether a pool makes spares ahead of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refill {
    /// On a thread of its own, once each change that took a spare is over: a server.
    InTheBackground,
    /// Never: a one-shot command generates each key it takes when it takes it.
    Never,
}

/// The pool of spare key pairs; cheap to clone, every clone is the same pool.
#[derive(Debug, Clone)]
pub struct SpareKeys {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: SharedKeySource,
    /// The spares of every kind in use (a kind with no entry is not in use).
    keys: Mutex<HashMap<KeyKind, Vec<PrivateKey>>>,
    /// Whether a background task is refilling `keys`.
    filling: AtomicBool,
    /// Set by [`SpareKeys::close`] (and from the start under [`Refill::Never`]): no refill
    /// starts, and one under way stops before its next key.
    closed: AtomicBool,
    /// The refill threads started, for [`SpareKeys::close`] to wait for.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl SpareKeys {
    /// An empty pool of key pairs from `source`, keeping spares of `kind` from the start when
    /// it refills at all.
    pub fn new(source: SharedKeySource, kind: KeyKind, refill: Refill) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                keys: Mutex::new(HashMap::from([(kind, Vec::with_capacity(SPARE_KEYS))])),
                filling: AtomicBool::new(false),
                closed: AtomicBool::new(refill == Refill::Never),
                threads: Mutex::default(),
            }),
        }
    }

    fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    fn keys(&self) -> MutexGuard<'_, HashMap<KeyKind, Vec<PrivateKey>>> {
        self.inner
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many key pairs of `kind` wait.
    pub fn count(&self, kind: KeyKind) -> usize {
        self.keys().get(&kind).map_or(0, Vec::len)
    }

    /// How many key pairs of every kind in use wait.
    pub fn counts(&self) -> Vec<(KeyKind, usize)> {
        self.keys()
            .iter()
            .map(|(kind, spares)| (*kind, spares.len()))
            .collect()
    }

    /// The kind in use with the fewest spares, if any has fewer than [`SPARE_KEYS`].
    fn shortest(&self) -> Option<KeyKind> {
        self.keys()
            .iter()
            .filter(|(_, spares)| spares.len() < SPARE_KEYS)
            .min_by_key(|(_, spares)| spares.len())
            .map(|(kind, _)| *kind)
    }

    /// A signing key of type `spec` for `tenant_domain`, certified from `now`: a spare pair, or
    /// one generated now when none waits. Starts no refill: the change that takes it holds a
    /// [`RefillWhenDone`], which starts one when the change is over.
    pub async fn take(
        &self,
        spec: KeySpec,
        tenant_domain: &str,
        now: DateTime<Utc>,
    ) -> Result<GeneratedKey, ServiceError> {
        let kind = KeyKind::of(spec);
        let spare = self.keys().entry(kind).or_default().pop();
        let private = match spare {
            Some(key) => key,
            None => generate(&self.inner.source, kind).await?,
        };
        let domain = tenant_domain.to_owned();
        let certified = off_the_workers(move || {
            let cert_der = self_signed_certificate(&private, &domain, now);
            (private, cert_der)
        })
        .await?;
        match certified {
            (private, Ok(cert_der)) => Ok(GeneratedKey {
                kid: new_kid(),
                spec,
                cert_der,
                private,
            }),
            (private, Err(error)) => {
                self.put_back_pair(private);
                Err(error.into())
            }
        }
    }

    /// Returns a key that was taken but never stored, for the next attempt (it gets a new kid
    /// and certificate then).
    pub fn put_back(&self, key: GeneratedKey) {
        self.put_back_pair(key.private);
    }

    fn put_back_pair(&self, private: PrivateKey) {
        self.keys().entry(private.kind()).or_default().push(private);
    }

    /// A guard for a change that takes spares: dropped when the change is over (done, failed,
    /// or abandoned by its caller), it starts the refill.
    pub fn refill_when_done(&self) -> RefillWhenDone {
        RefillWhenDone(self.clone())
    }

    /// Tops every kind in use up to [`SPARE_KEYS`] on a thread of its own at the lowest CPU
    /// priority, unless that is under way, every kind is full or the pool is closed.
    pub fn spawn_refill(&self) {
        // Held while the thread starts, so that `close` either finds it or stops it starting.
        let mut threads = self.threads();
        if self.is_closed()
            || self.shortest().is_none()
            || self.inner.filling.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let pool = self.clone();
        let spawned = std::thread::Builder::new()
            .name("signet-spare-keys".into())
            .spawn(move || {
                lowest_priority();
                pool.refill();
            });
        match spawned {
            Ok(thread) => {
                threads.retain(|thread| !thread.is_finished());
                threads.push(thread);
            }
            Err(error) => {
                // The next taker generates its key itself and tries again.
                tracing::warn!(%error, "cannot start the thread that pre-generates key pairs");
                self.inner.filling.store(false, Ordering::Release);
            }
        }
    }

    fn threads(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.inner
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts no more refills and waits for the one under way to finish the key it is making
    /// (blocking: call it from `spawn_blocking`). The spares stay and can still be taken.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let threads = std::mem::take(&mut *self.threads());
        for thread in threads {
            // A refill thread does not panic; if one did, it has ended all the same.
            let _ = thread.join();
        }
    }

    fn refill(&self) {
        let inner = &self.inner;
        loop {
            while let Some(kind) = self.shortest().filter(|_| !self.is_closed()) {
                // Generated without holding the lock: takers take spares meanwhile.
                match inner.source.private_key(kind) {
                    Ok(key) => self.put_back_pair(key),
                    Err(error) => {
                        // The next taker generates its key itself and tries again.
                        tracing::warn!(%error, %kind, "cannot pre-generate a signing key pair");
                        inner.filling.store(false, Ordering::Release);
                        return;
                    }
                }
            }
            inner.filling.store(false, Ordering::Release);
            // A taker that took a spare after the last count found this task still busy and
            // started none: go on for it, unless another task already has.
            if self.is_closed()
                || self.shortest().is_none()
                || inner.filling.swap(true, Ordering::AcqRel)
            {
                break;
            }
        }
    }
}

/// Starts the refill of its pool when dropped: see [`SpareKeys::refill_when_done`].
#[derive(Debug)]
#[must_use = "the refill starts when this is dropped"]
pub struct RefillWhenDone(SpareKeys);

impl Drop for RefillWhenDone {
    fn drop(&mut self) {
        self.0.spawn_refill();
    }
}

/// Lowers the calling thread to the lowest scheduling priority (nice 19: on Linux the nice
/// value is the thread's own). Elsewhere the thread keeps its priority: there `setpriority`
/// would lower the whole process.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `setpriority` only reads its arguments; `gettid` names this thread alone.
        let result =
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid().cast_unsigned(), 19) };
        if result != 0 {
            let error = std::io::Error::last_os_error();
            tracing::debug!(%error, "cannot lower the spare key thread's priority");
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{domain::material::PublicMaterial, services::key_source::FixtureKeys};

    const RSA: KeyKind = KeyKind::Rsa(2048);

    fn pool() -> SpareKeys {
        let source = FixtureKeys::new([include_str!("../../fixtures/rsa-2048-a.pk8.pem")]).unwrap();
        SpareKeys::new(
            Arc::new(source),
            KeyKind::Rsa(2048),
            Refill::InTheBackground,
        )
    }

    /// Waits until `pool` holds [`SPARE_KEYS`] of `kind` (the refill runs on its own thread).
    async fn until_full(pool: &SpareKeys, kind: KeyKind) {
        while pool.count(kind) < SPARE_KEYS {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn the_pool_fills_up_in_the_background_and_certifies_keys_for_their_tenant() {
        let pool = pool();
        assert_eq!(pool.count(RSA), 0);
        let refill = pool.refill_when_done();
        let made_now = pool
            .take(KeySpec::DEFAULT, "a.test", Utc::now())
            .await
            .unwrap();
        drop(refill);
        until_full(&pool, RSA).await;
        let spare = pool
            .take(KeySpec::DEFAULT, "b.test", Utc::now())
            .await
            .unwrap();
        assert_ne!(spare.kid, made_now.kid);
        // The kids have the shape app::keys::Kid calls issued.
        for key in [&made_now, &spare] {
            assert!(app::keys::Kid::parse(&key.kid).unwrap().is_issued_shape());
        }
        // The certificate names the tenant that took the key (its CN, as DER bytes).
        let names = |key: &GeneratedKey, domain: &str| {
            PublicMaterial::from_certificate(&key.kid, key.spec.alg, &key.cert_der).unwrap();
            key.cert_der
                .windows(domain.len())
                .any(|bytes| bytes == domain.as_bytes())
        };
        assert!(names(&made_now, "a.test") && !names(&made_now, "b.test"));
        assert!(names(&spare, "b.test") && !names(&spare, "a.test"));
        assert!(pool.count(RSA) <= SPARE_KEYS);
        pool.put_back(spare);
        assert!(pool.count(RSA) >= 1);
        assert!(
            pool.take(KeySpec::DEFAULT, "", Utc::now()).await.is_err(),
            "no certificate without a name"
        );
    }

    #[tokio::test]
    async fn the_refill_starts_once_the_change_that_took_a_spare_is_over() {
        let pool = pool();
        pool.spawn_refill();
        until_full(&pool, RSA).await;
        // The refill's thread notes that it is done after its last key.
        while pool.inner.filling.load(Ordering::Acquire) {
            tokio::task::yield_now().await;
        }
        let change = async {
            let _refill = pool.refill_when_done();
            pool.take(KeySpec::DEFAULT, "a.test", Utc::now())
                .await
                .unwrap();
            // Still inside the change: no refill competes with it for a core.
            assert!(!pool.inner.filling.load(Ordering::Acquire));
            assert_eq!(pool.count(RSA), SPARE_KEYS - 1);
        };
        change.await;
        until_full(&pool, RSA).await;
        // A change abandoned half-way (its caller went away) starts the refill too.
        let abandoned = async {
            let _refill = pool.refill_when_done();
            pool.take(KeySpec::DEFAULT, "a.test", Utc::now())
                .await
                .unwrap();
            std::future::pending::<()>().await;
        };
        // Polled once at least (the spare is taken at once), then dropped unfinished.
        tokio::select! {
            biased;
            () = abandoned => unreachable!("it never finishes"),
            () = tokio::task::yield_now() => {}
        }
        until_full(&pool, RSA).await;
    }

    #[tokio::test]
    async fn a_kind_once_asked_for_is_kept_ready_too() {
        let pool = pool();
        let es256 = KeySpec::parse("ES256", None).unwrap();
        let refill = pool.refill_when_done();
        let key = pool.take(es256, "a.test", Utc::now()).await.unwrap();
        drop(refill);
        assert_eq!(key.private.kind(), KeyKind::P256);
        let public = PublicMaterial::from_certificate(&key.kid, es256.alg, &key.cert_der).unwrap();
        assert_eq!(public.jwk().unwrap().crv.as_deref(), Some("P-256"));
        until_full(&pool, KeyKind::P256).await;
        until_full(&pool, RSA).await;
        assert_eq!(pool.count(KeyKind::Ed25519), 0, "never asked for");
    }

    /// Fixture keys, noting the nice value of the thread each is made on.
    #[cfg(target_os = "linux")]
    #[derive(Debug)]
    struct NotingPriority {
        keys: FixtureKeys,
        nice: Mutex<Vec<i32>>,
    }

    #[cfg(target_os = "linux")]
    impl crate::services::key_source::KeySource for NotingPriority {
        fn private_key(
            &self,
            kind: KeyKind,
        ) -> Result<PrivateKey, crate::domain::material::MaterialError> {
            self.nice.lock().unwrap().push(own_nice());
            self.keys.private_key(kind)
        }
    }

    #[tokio::test]
    async fn a_one_shot_pool_makes_no_spares_and_a_closed_pool_stops_refilling() {
        let source = FixtureKeys::new([include_str!("../../fixtures/rsa-2048-a.pk8.pem")]).unwrap();
        let one_shot = SpareKeys::new(Arc::new(source), RSA, Refill::Never);
        let refill = one_shot.refill_when_done();
        one_shot
            .take(KeySpec::DEFAULT, "a.test", Utc::now())
            .await
            .unwrap();
        drop(refill);
        one_shot.spawn_refill();
        assert!(!one_shot.inner.filling.load(Ordering::Acquire));
        assert!(one_shot.threads().is_empty());
        assert_eq!(one_shot.count(RSA), 0);

        let pool = pool();
        pool.spawn_refill();
        let closing = pool.clone();
        tokio::task::spawn_blocking(move || closing.close())
            .await
            .unwrap();
        // Once `close` returns no thread is making keys, and none starts again.
        assert!(!pool.inner.filling.load(Ordering::Acquire));
        assert!(pool.threads().is_empty());
        let made = pool.count(RSA);
        drop(pool.refill_when_done());
        assert!(!pool.inner.filling.load(Ordering::Acquire));
        assert_eq!(pool.count(RSA), made);
        // The spares made before stay takeable.
        if made > 0 {
            pool.take(KeySpec::DEFAULT, "a.test", Utc::now())
                .await
                .unwrap();
            assert_eq!(pool.count(RSA), made - 1);
        }
    }

    #[cfg(target_os = "linux")]
    fn own_nice() -> i32 {
        // SAFETY: reads the calling thread's nice value (`gettid`: this thread alone).
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid().cast_unsigned()) }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn spares_are_made_at_the_lowest_priority_and_a_taker_short_of_one_at_its_own() {
        let source = Arc::new(NotingPriority {
            keys: FixtureKeys::new([include_str!("../../fixtures/rsa-2048-a.pk8.pem")]).unwrap(),
            nice: Mutex::new(Vec::new()),
        });
        let pool = SpareKeys::new(source.clone(), RSA, Refill::InTheBackground);
        // The pool is empty: the taker's key is made for it, at its thread's own priority.
        let refill = pool.refill_when_done();
        pool.take(KeySpec::DEFAULT, "a.test", Utc::now())
            .await
            .unwrap();
        drop(refill);
        until_full(&pool, RSA).await;
        let mut nice = source.nice.lock().unwrap().clone();
        nice.sort_unstable();
        let mut expected = vec![19; SPARE_KEYS];
        expected.push(own_nice());
        expected.sort_unstable();
        assert_eq!(nice, expected);
    }
}
