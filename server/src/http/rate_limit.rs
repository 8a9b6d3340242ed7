//! The per-client request limit of the Management API: a fixed one-minute window per client,
//! reported on every response as `X-RateLimit-Limit`, `-Remaining` and `-Reset`.

use std::{collections::HashMap, sync::Mutex};

use axum::http::{HeaderName, HeaderValue};
use chrono::{DateTime, Utc};

const WINDOW_SECS: i64 = 60;

/// Where a caller stands against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// When the window resets, Unix seconds.
    pub reset: i64,
}

impl Quota {
    /// The `X-RateLimit-*` headers.
    pub fn headers(&self) -> [(HeaderName, HeaderValue); 3] {
        [
            (
                HeaderName::from_static("x-ratelimit-limit"),
                HeaderValue::from(self.limit),
            ),
            (
                HeaderName::from_static("x-ratelimit-remaining"),
                HeaderValue::from(self.remaining),
            ),
            (
                HeaderName::from_static("x-ratelimit-reset"),
                HeaderValue::from(self.reset),
            ),
        ]
    }
}

/// Counts each client's requests per minute.
#[derive(Debug)]
pub struct ClientRateLimiter {
    per_minute: u32,
    window: Mutex<Window>,
}

/// The requests of each client in one minute.
#[derive(Debug, Default)]
struct Window {
    /// Unix seconds.
    start: i64,
    used: HashMap<String, u32>,
}

impl ClientRateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            window: Mutex::default(),
        }
    }

    /// Counts one request of `client_id` at `now`; `Err` when the client is over its limit.
    pub fn check(&self, client_id: &str, now: DateTime<Utc>) -> Result<Quota, Quota> {
        let window = now.timestamp() - now.timestamp().rem_euclid(WINDOW_SECS);
        let mut counts = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A new minute starts from nothing, so the map holds only this minute's clients.
        if counts.start != window {
            counts.start = window;
            counts.used.clear();
        }
        let quota = |used: u32| Quota {
            limit: self.per_minute,
            remaining: self.per_minute.saturating_sub(used),
            reset: window + WINDOW_SECS,
        };
        let used = counts.used.get(client_id).copied().unwrap_or(0);
        if used >= self.per_minute {
            return Err(quota(used));
        }
        // A client's id is copied once a minute, not once a request.
        match counts.used.get_mut(client_id) {
            Some(count) => *count += 1,
            None => {
                counts.used.insert(client_id.to_owned(), 1);
            }
        }
        Ok(quota(used + 1))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn each_client_gets_its_own_window() {
        let limiter = ClientRateLimiter::new(2);
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 30).unwrap();
        assert_eq!(limiter.check("a", now).unwrap().remaining, 1);
        assert_eq!(limiter.check("a", now).unwrap().remaining, 0);
        let refused = limiter.check("a", now).unwrap_err();
        assert_eq!(refused.reset, now.timestamp() + 30);
        assert!(
            limiter.check("b", now).is_ok(),
            "other clients are unaffected"
        );
        let next_minute = now + chrono::Duration::seconds(30);
        assert_eq!(limiter.check("a", next_minute).unwrap().remaining, 1);
    }
}
