//! The dashboard's operator: one password (argon2id), sign-in sessions, and sign-in throttling.
//!
//! Sessions live in the database (several servers share them); only a SHA-256 of each session
//! id is stored. The cookie is HttpOnly and SameSite=Strict, and its expiry slides with use.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
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

use crate::store::{KeyStore, StoreError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "signet_session";
/// A session ends after this long without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 60 * 60);
/// Failed sign-ins allowed per address within [`THROTTLE_WINDOW`].
const THROTTLE_FAILURES: u32 = 5;
const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);

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

/// Counts failed sign-ins per address.
#[derive(Debug, Default)]
struct Throttle {
    failures: Mutex<HashMap<IpAddr, (u32, DateTime<Utc>)>>,
}

impl Throttle {
    fn window() -> chrono::Duration {
        chrono::Duration::from_std(THROTTLE_WINDOW).unwrap_or(chrono::Duration::minutes(15))
    }

    /// Minutes until `addr` may try again, if it is locked out.
    fn locked(&self, addr: IpAddr, now: DateTime<Utc>) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, since) = failures.get(&addr)?;
        let until = *since + Self::window();
        (*count >= THROTTLE_FAILURES && until > now)
            .then(|| u64::try_from((until - now).num_minutes() + 1).unwrap_or(1))
    }

    fn fail(&self, addr: IpAddr, now: DateTime<Utc>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.retain(|_, (_, since)| *since + Self::window() > now);
        failures.entry(addr).or_insert((0, now)).0 += 1;
    }

    fn succeed(&self, addr: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&addr);
    }
}

/// Signs the operator in and out, and checks sessions.
#[derive(Clone)]
pub struct OperatorService {
    store: Arc<dyn KeyStore>,
    throttle: Arc<Throttle>,
}

impl std::fmt::Debug for OperatorService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorService")
    }
}

impl OperatorService {
    pub fn new(store: Arc<dyn KeyStore>) -> Self {
        Self {
            store,
            throttle: Arc::default(),
        }
    }

    /// Makes `password` the operator password if it is not already.
    pub async fn set_password(&self, password: &str) -> Result<(), OperatorError> {
        let current = self.store.operator_password_hash().await?;
        if current.is_some_and(|hash| verify_password(&hash, password)) {
            return Ok(());
        }
        let hash = hash_password(password)?;
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
        let addr = addr.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Some(minutes) = self.throttle.locked(addr, now) {
            return Err(OperatorError::Throttled(minutes));
        }
        let hash = self.store.operator_password_hash().await?;
        // Hash even without a stored password, so timing tells nothing.
        let ok = match &hash {
            Some(hash) => verify_password(hash, password),
            None => {
                let _ = hash_password(password);
                false
            }
        };
        if !ok {
            self.throttle.fail(addr, now);
            return Err(OperatorError::WrongPassword);
        }
        self.throttle.succeed(addr);
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        // A fresh id at every sign-in: an id planted before sign-in is never promoted.
        let session_id = URL_SAFE_NO_PAD.encode(bytes);
        self.store
            .create_session(&session_hash(&session_id), now, now + idle())
            .await?;
        Ok(session_id)
    }

    /// Whether `session_id` is a live session; slides its expiry when it is.
    pub async fn check(&self, session_id: &str, now: DateTime<Utc>) -> Result<bool, OperatorError> {
        Ok(self
            .store
            .touch_session(&session_hash(session_id), now, now + idle())
            .await?)
    }

    /// Ends a session.
    pub async fn sign_out(&self, session_id: &str) -> Result<(), OperatorError> {
        Ok(self.store.delete_session(&session_hash(session_id)).await?)
    }
}

fn idle() -> chrono::Duration {
    chrono::Duration::from_std(SESSION_IDLE).unwrap_or(chrono::Duration::hours(12))
}

/// The `Set-Cookie` value for a session id (`None` clears the cookie).
pub fn session_cookie(session_id: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match session_id {
        Some(id) => format!(
            "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
            SESSION_IDLE.as_secs()
        ),
        None => format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
    }
}

/// The session id in a `Cookie` header, if any.
pub fn session_from_cookies(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty() && value.len() <= 64)
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "wrong horse"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn cookies_are_http_only_strict_and_parse_back() {
        let cookie = session_cookie(Some("abc"), true);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.ends_with("; Secure"));
        assert!(!session_cookie(Some("abc"), false).contains("Secure"));
        assert_eq!(
            session_from_cookies("a=1; signet_session=xyz; b=2"),
            Some("xyz")
        );
        assert_eq!(session_from_cookies("signet_session="), None);
        assert_eq!(session_from_cookies("other=1"), None);
    }

    #[test]
    fn the_throttle_locks_an_address_after_five_failures() {
        let throttle = Throttle::default();
        let addr = IpAddr::from([192, 0, 2, 1]);
        let now = Utc::now();
        for _ in 0..THROTTLE_FAILURES {
            assert!(throttle.locked(addr, now).is_none());
            throttle.fail(addr, now);
        }
        assert!(throttle.locked(addr, now).is_some());
        assert!(throttle.locked(IpAddr::from([192, 0, 2, 2]), now).is_none());
        let later = now + chrono::Duration::minutes(16);
        assert!(throttle.locked(addr, later).is_none());
    }
}
