//! The dashboard's operator: one password (argon2id, hashed off the async workers), sign-in
//! sessions, and sign-in throttling.
//!
//! Sessions live in the database (several servers share them); only a SHA-256 of each session
//! id is stored. The cookie that carries the id is the HTTP layer's (http/session.rs).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng as PasswordRng},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use rand::{Rng, RngCore, distributions::Alphanumeric};
use sha2::{Digest, Sha256};

use super::{ServiceError, off_the_workers, sign_in_throttle::SignInThrottle};
use crate::{
    domain::Actor,
    store::{AuditEntry, AuditLog, OperatorStore, StoreError},
};

/// A session ends after this long without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 60 * 60);

/// Why a sign-in or session check failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("wrong password")]
    WrongPassword,
    #[error("too many failed sign-ins; retry in {0} minutes")]
    Throttled(u64),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing was interrupted")]
    Interrupted,
}

impl From<ServiceError> for OperatorError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Store(error) => OperatorError::Store(error),
            _ => OperatorError::Interrupted,
        }
    }
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, OperatorError> {
    let salt = SaltString::generate(&mut PasswordRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| OperatorError::Hashing(e.to_string()))
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new random operator password, for a first start without `SIGNET_ADMIN_PASSWORD`.
pub fn generate_password() -> String {
    rand::rngs::OsRng
        .sample_iter(Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

fn session_hash(session_id: &str) -> Vec<u8> {
    Sha256::digest(session_id.as_bytes()).to_vec()
}

/// Signs the operator in and out, and checks sessions.
#[derive(Clone)]
pub struct OperatorService {
    store: Arc<dyn OperatorStore>,
    /// The trail of the tenant whose dashboard this service signs in to.
    audit: Arc<dyn AuditLog>,
    throttle: Arc<SignInThrottle>,
    /// Sessions found live in the last [`SESSION_RECHECK`], by id hash, with when (on the
    /// service's clock): a page view does not write to the database each time.
    live: Arc<Mutex<HashMap<Vec<u8>, DateTime<Utc>>>>,
}

/// How long a session found live is taken as live without asking the database again (and so
/// without extending its idle expiry, twelve hours away). A session ended through another
/// process is refused here within this time; through this one, at once.
const SESSION_RECHECK: chrono::Duration = chrono::Duration::seconds(1);
/// Most sessions remembered as live; past it, the memory starts again.
const MAX_LIVE_SESSIONS: usize = 10_000;

impl std::fmt::Debug for OperatorService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorService")
    }
}

impl OperatorService {
    /// Signs in to the dashboard of the tenant whose trail `audit` is; every sign-in, and every
    /// wrong password, is appended to it.
    pub fn new(store: Arc<dyn OperatorStore>, audit: Arc<dyn AuditLog>) -> Self {
        Self {
            store,
            audit,
            throttle: Arc::default(),
            live: Arc::default(),
        }
    }

    /// Makes `password` the operator password if it is not already.
    pub async fn set_password(&self, password: &str) -> Result<(), OperatorError> {
        let current = self.store.operator_password_hash().await?;
        if let Some(hash) = current
            && verify_off_the_workers(hash, password).await?
        {
            return Ok(());
        }
        let password = password.to_owned();
        let hash = off_the_workers(move || hash_password(&password)).await??;
        Ok(self.store.set_operator_password_hash(&hash).await?)
    }

    /// Whether an operator password exists.
    pub async fn has_password(&self) -> Result<bool, OperatorError> {
        Ok(self.store.operator_password_hash().await?.is_some())
    }

    /// Checks the password and opens a session; returns the session id for the cookie.
    pub async fn sign_in(
        &self,
        password: &str,
        addr: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<String, OperatorError> {
        let actor = Actor::operator(addr);
        let addr = addr.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Some(minutes) = self.throttle.locked(addr, now) {
            return Err(OperatorError::Throttled(minutes));
        }
        let hash = self.store.operator_password_hash().await?;
        // Hash even without a stored password, so timing tells nothing.
        let ok = match hash {
            Some(hash) => verify_off_the_workers(hash, password).await?,
            None => {
                let password = password.to_owned();
                let _ = off_the_workers(move || hash_password(&password)).await?;
                false
            }
        };
        if !ok {
            self.throttle.fail(addr, now);
            let failed = AuditEntry {
                at: now,
                actor: &actor,
                action: "sign_in_failed",
                kid: None,
                detail: "wrong password",
            };
            self.audit.append_audit(&failed).await?;
            return Err(OperatorError::WrongPassword);
        }
        self.throttle.succeed(addr);
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        // A fresh id at every sign-in: an id planted before sign-in is never promoted.
        let session_id = URL_SAFE_NO_PAD.encode(bytes);
        let signed_in = AuditEntry {
            at: now,
            actor: &actor,
            action: "sign_in",
            kid: None,
            detail: "signed in to the dashboard",
        };
        self.store
            .create_session(&session_hash(&session_id), now + idle(), &signed_in)
            .await?;
        Ok(session_id)
    }

    /// Whether `session_id` is a live session; slides its expiry when it is.
    ///
    /// One request rechecks a session found live within the last two [`SESSION_RECHECK`]s; the
    /// requests that arrive while it does go on the last answer instead of each writing the same
    /// row. Every request in flight when the second ran out rechecked at once before: 32
    /// connections loading pages made a burst of 32 writes a second, and the writers that waited
    /// for SQLite's lock slept in its busy handler (the page's p99 14–17 ms, 50–80 ms with the
    /// threads under `SCHED_BATCH`).
    pub async fn check(&self, session_id: &str, now: DateTime<Utc>) -> Result<bool, OperatorError> {
        let hash = session_hash(session_id);
        // When this request claimed the recheck, the time the session was confirmed before.
        let claimed = {
            let mut remembered = self.live();
            let seen = remembered.get(&hash).copied();
            let within = |span| seen.is_some_and(|at| at <= now && now < at + span);
            if within(SESSION_RECHECK) {
                return Ok(true);
            }
            // A session confirmed that recently cannot have expired idle (twelve hours); it can
            // only have been ended through another process, which this check may take a second
            // to see in any case.
            if within(SESSION_RECHECK * 2) {
                remembered.insert(hash.clone(), now);
                seen
            } else {
                None
            }
        };
        let live = match self.store.touch_session(&hash, now, now + idle()).await {
            Ok(live) => live,
            Err(error) => {
                // Not rechecked: the next request asks again.
                if let Some(at) = claimed {
                    self.live().insert(hash, at);
                }
                return Err(error.into());
            }
        };
        let mut remembered = self.live();
        if !live {
            remembered.remove(&hash);
        } else {
            if remembered.len() >= MAX_LIVE_SESSIONS {
                remembered.clear();
            }
            remembered.insert(hash, now);
        }
        Ok(live)
    }

    /// Ends a session.
    pub async fn sign_out(&self, session_id: &str) -> Result<(), OperatorError> {
        let hash = session_hash(session_id);
        self.live().remove(&hash);
        Ok(self.store.delete_session(&hash).await?)
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, DateTime<Utc>>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Checks a password on a blocking thread: argon2 takes tens of milliseconds of CPU.
async fn verify_off_the_workers(hash: String, password: &str) -> Result<bool, OperatorError> {
    let password = zeroize::Zeroizing::new(password.to_owned());
    Ok(off_the_workers(move || verify_password(&hash, &password)).await?)
}

fn idle() -> chrono::Duration {
    chrono::Duration::from_std(SESSION_IDLE).unwrap_or(chrono::Duration::hours(12))
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use tokio::sync::Semaphore;

    use super::*;
    use crate::store::SqlStore;

    /// The real store, with every `touch_session` counted and held until the test lets it go.
    struct HeldTouches {
        store: SqlStore,
        touches: AtomicUsize,
        gate: Semaphore,
    }

    #[async_trait]
    impl OperatorStore for HeldTouches {
        async fn operator_password_hash(&self) -> Result<Option<String>, StoreError> {
            self.store.operator_password_hash().await
        }

        async fn set_operator_password_hash(&self, hash: &str) -> Result<(), StoreError> {
            self.store.set_operator_password_hash(hash).await
        }

        async fn create_session(
            &self,
            id_hash: &[u8],
            expires_at: DateTime<Utc>,
            audit: &AuditEntry<'_>,
        ) -> Result<(), StoreError> {
            self.store.create_session(id_hash, expires_at, audit).await
        }

        async fn touch_session(
            &self,
            id_hash: &[u8],
            now: DateTime<Utc>,
            expires_at: DateTime<Utc>,
        ) -> Result<bool, StoreError> {
            self.touches.fetch_add(1, Ordering::SeqCst);
            self.gate.acquire().await.unwrap().forget();
            self.store.touch_session(id_hash, now, expires_at).await
        }

        async fn delete_session(&self, id_hash: &[u8]) -> Result<(), StoreError> {
            self.store.delete_session(id_hash).await
        }
    }

    #[tokio::test]
    async fn one_request_rechecks_a_session_while_the_others_go_on_the_last_answer() {
        let sql = SqlStore::connect("sqlite::memory:").await.unwrap();
        let store = Arc::new(HeldTouches {
            store: sql.clone(),
            touches: AtomicUsize::new(0),
            gate: Semaphore::new(1),
        });
        let service = OperatorService::new(store.clone(), Arc::new(sql));
        service.set_password("correct horse battery").await.unwrap();
        let start = Utc::now();
        let session = service
            .sign_in("correct horse battery", None, start)
            .await
            .unwrap();
        assert!(service.check(&session, start).await.unwrap());
        assert_eq!(store.touches.load(Ordering::SeqCst), 1);

        // A second and a half later: the first request rechecks, and waits on the database.
        let later = start + chrono::Duration::milliseconds(1_500);
        let first = tokio::spawn({
            let (service, session) = (service.clone(), session.clone());
            async move { service.check(&session, later).await.unwrap() }
        });
        while store.touches.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        // The requests that arrive meanwhile neither wait nor write (a wait fails the test).
        let meanwhile = async {
            for _ in 0..10 {
                assert!(service.check(&session, later).await.unwrap());
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), meanwhile)
            .await
            .expect("the requests that arrived meanwhile waited for the recheck");
        assert_eq!(store.touches.load(Ordering::SeqCst), 2);
        store.gate.add_permits(1);
        assert!(first.await.unwrap());

        // A session last confirmed long ago is asked about by every request, and once it is
        // ended, refused.
        store.gate.add_permits(2);
        service.sign_out(&session).await.unwrap();
        let much_later = start + chrono::Duration::seconds(10);
        assert!(!service.check(&session, much_later).await.unwrap());
        assert!(!service.check(&session, much_later).await.unwrap());
        assert_eq!(store.touches.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "wrong horse"));
        assert!(!verify_password("not a hash", "x"));
    }
}
