//! Failed client authentications at the token endpoint, counted per (client id, address) and
//! per address. Client secrets are 256-bit random values, so guessing one is hopeless anyway;
//! the throttle keeps a guessing run from costing the server work and shows up in the logs.
//!
//! Counting per (client, address) rather than per client alone means nobody can lock a real
//! client out by failing on purpose from elsewhere. Like the rate limiter it is per process.

use std::{collections::HashMap, net::IpAddr, sync::Mutex};

use chrono::{DateTime, Duration, Utc};

/// Failures of one client id from one address before that pair must wait.
const PAIR_FAILURES: u32 = 10;
/// Failures from one address, whatever the client ids, before that address must wait.
const ADDRESS_FAILURES: u32 = 100;
/// How long failures count, from the first one.
const WINDOW_MINUTES: i64 = 15;
/// Entries kept at most; beyond this, new pairs are not tracked (addresses still are), so an
/// attacker inventing client ids cannot grow the map without bound.
const MAX_ENTRIES: usize = 100_000;
/// Client ids are short; an attacker's 16 KB "id" is counted by its first characters.
const MAX_ID_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Bucket {
    Pair(String, Option<IpAddr>),
    Address(Option<IpAddr>),
}

/// The failure counts; one per server process.
#[derive(Debug, Default)]
pub struct TokenThrottle {
    failures: Mutex<HashMap<Bucket, (u32, DateTime<Utc>)>>,
}

fn pair(client_id: &str, addr: Option<IpAddr>) -> Bucket {
    Bucket::Pair(client_id.chars().take(MAX_ID_CHARS).collect(), addr)
}

impl TokenThrottle {
    /// Seconds until `client_id` may try again from `addr`, if it is throttled.
    pub fn locked(&self, client_id: &str, addr: Option<IpAddr>, now: DateTime<Utc>) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        [
            (pair(client_id, addr), PAIR_FAILURES),
            (Bucket::Address(addr), ADDRESS_FAILURES),
        ]
        .into_iter()
        .filter_map(|(bucket, limit)| {
            let (count, since) = failures.get(&bucket)?;
            let until = *since + Duration::minutes(WINDOW_MINUTES);
            (*count >= limit && until > now)
                .then(|| u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1))
        })
        .max()
    }

    /// Counts a failed authentication.
    pub fn fail(&self, client_id: &str, addr: Option<IpAddr>, now: DateTime<Utc>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let window = Duration::minutes(WINDOW_MINUTES);
        if failures.len() >= MAX_ENTRIES {
            failures.retain(|_, (_, since)| *since + window > now);
        }
        let count = |bucket: Bucket, failures: &mut HashMap<_, _>| {
            let entry = failures.entry(bucket).or_insert((0, now));
            if entry.1 + window <= now {
                *entry = (0, now);
            }
            entry.0 += 1;
        };
        count(Bucket::Address(addr), &mut failures);
        if failures.len() < MAX_ENTRIES {
            count(pair(client_id, addr), &mut failures);
        }
    }

    /// A successful authentication clears its pair (not its address: other ids may be guessed).
    pub fn succeed(&self, client_id: &str, addr: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&pair(client_id, addr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_throttled_after_its_failures_and_others_are_not() {
        let throttle = TokenThrottle::default();
        let now = Utc::now();
        let (here, there) = (
            Some(IpAddr::from([192, 0, 2, 1])),
            Some(IpAddr::from([192, 0, 2, 2])),
        );
        for _ in 0..PAIR_FAILURES {
            assert_eq!(throttle.locked("bot", here, now), None);
            throttle.fail("bot", here, now);
        }
        assert!(throttle.locked("bot", here, now).is_some());
        assert_eq!(throttle.locked("bot", there, now), None, "other addresses");
        assert_eq!(throttle.locked("other", here, now), None, "other clients");
        let later = now + Duration::minutes(WINDOW_MINUTES);
        assert_eq!(throttle.locked("bot", here, later), None, "the window ends");
    }

    #[test]
    fn an_address_guessing_many_ids_is_throttled() {
        let throttle = TokenThrottle::default();
        let (now, here) = (Utc::now(), Some(IpAddr::from([192, 0, 2, 1])));
        for i in 0..ADDRESS_FAILURES {
            throttle.fail(&format!("id-{i}"), here, now);
        }
        assert!(throttle.locked("fresh", here, now).is_some());
        assert_eq!(throttle.locked("fresh", None, now), None);
    }
}
