//! The per-client request limit of the Management API: a fixed one-minute window per client,
//! reported on every response as `X-RateLimit-Limit`, `-Remaining` and `-Reset`.

use std::{collections::HashMap, sync::Mutex};

use axum::http::HeaderName;
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
    pub fn headers(&self) -> [(HeaderName, String); 3] {
        [
            (
                HeaderName::from_static("x-ratelimit-limit"),
                self.limit.to_string(),
            ),
            (
                HeaderName::from_static("x-ratelimit-remaining"),
                self.remaining.to_string(),
            ),
            (
                HeaderName::from_static("x-ratelimit-reset"),
                self.reset.to_string(),
            ),
        ]
    }
}

/// Counts each client's requests per minute.
#[derive(Debug)]
pub struct ClientRateLimiter {
    per_minute: u32,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl ClientRateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `client_id` at `now`; `Err` when the client is over its limit.
    pub fn check(&self, client_id: &str, now: DateTime<Utc>) -> Result<Quota, Quota> {
        let window = now.timestamp() - now.timestamp().rem_euclid(WINDOW_SECS);
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Old windows are dropped as they expire, so the map holds only this minute's clients.
        windows.retain(|_, (start, _)| *start == window);
        let used = &mut windows.entry(client_id.to_owned()).or_insert((window, 0)).1;
        let quota = |used: u32| Quota {
            limit: self.per_minute,
            remaining: self.per_minute.saturating_sub(used),
            reset: window + WINDOW_SECS,
        };
        if *used >= self.per_minute {
            return Err(quota(*used));
        }
        *used += 1;
        Ok(quota(*used))
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
