//! Failed operator sign-ins, counted per address group: an IPv4 address, or an IPv6 /64 (one
//! host usually owns a whole /64, so counting single IPv6 addresses would count nothing).
//! Bounded, so an attacker with many addresses cannot grow it without limit.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Mutex, PoisonError},
};

use chrono::{DateTime, TimeDelta, Utc};

/// Failed sign-ins allowed per address group within [`WINDOW_MINUTES`].
pub const MAX_FAILURES: u32 = 5;
/// How long failures count, from the first one.
const WINDOW_MINUTES: i64 = 15;
/// Address groups tracked at most; when full, expired entries go first, then the oldest.
const MAX_ENTRIES: usize = 10_000;

/// The addresses one sign-in counter covers.
fn group(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// The failure counts of one server process.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<IpAddr, (u32, DateTime<Utc>)>>,
}

fn window() -> TimeDelta {
    TimeDelta::minutes(WINDOW_MINUTES)
}

impl SignInThrottle {
    /// Minutes until `addr` may try again, if it is locked out.
    pub fn locked(&self, addr: IpAddr, now: DateTime<Utc>) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let (count, since) = failures.get(&group(addr))?;
        let until = *since + window();
        (*count >= MAX_FAILURES && until > now)
            .then(|| u64::try_from((until - now).num_minutes() + 1).unwrap_or(1))
    }

    /// Counts a failed sign-in from `addr`.
    pub fn fail(&self, addr: IpAddr, now: DateTime<Utc>) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let key = group(addr);
        if failures.len() >= MAX_ENTRIES && !failures.contains_key(&key) {
            failures.retain(|_, (_, since)| *since + window() > now);
        }
        if failures.len() >= MAX_ENTRIES && !failures.contains_key(&key) {
            let oldest = failures
                .iter()
                .min_by_key(|(_, (_, since))| *since)
                .map(|(addr, _)| *addr);
            if let Some(oldest) = oldest {
                failures.remove(&oldest);
            }
        }
        let entry = failures.entry(key).or_insert((0, now));
        // Failures count for one window from the first; after it, counting starts again.
        if entry.1 + window() <= now {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// A successful sign-in clears its address group.
    pub fn succeed(&self, addr: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.remove(&group(addr));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn start() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(1)
    }

    #[test]
    fn the_throttle_locks_an_address_after_five_failures() {
        let throttle = SignInThrottle::default();
        let addr = IpAddr::from([192, 0, 2, 1]);
        let now = start();
        for _ in 0..MAX_FAILURES {
            assert!(throttle.locked(addr, now).is_none());
            throttle.fail(addr, now);
        }
        assert!(throttle.locked(addr, now).is_some());
        assert!(throttle.locked(IpAddr::from([192, 0, 2, 2]), now).is_none());
        let later = now + TimeDelta::minutes(16);
        assert!(throttle.locked(addr, later).is_none());
        // A failure after the window starts a new count.
        throttle.fail(addr, later);
        assert!(throttle.locked(addr, later).is_none());
    }

    #[test]
    fn ipv6_addresses_of_one_slash_64_share_a_counter() {
        let throttle = SignInThrottle::default();
        let now = start();
        for host in 0..MAX_FAILURES {
            let addr: IpAddr = format!("2001:db8:1:2::{:x}", host + 1).parse().unwrap();
            throttle.fail(addr, now);
        }
        let neighbour: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(throttle.locked(neighbour, now).is_some());
        assert!(throttle.locked(elsewhere, now).is_none());
    }

    #[test]
    fn the_map_stays_bounded() {
        let throttle = SignInThrottle::default();
        let now = start();
        for i in 0..(MAX_ENTRIES as u32 + 50) {
            throttle.fail(
                IpAddr::from(i.to_be_bytes()),
                now + TimeDelta::milliseconds(i.into()),
            );
        }
        assert_eq!(throttle.len(), MAX_ENTRIES);
        // The newest address is still tracked; the oldest made room.
        let newest = IpAddr::from((MAX_ENTRIES as u32 + 49).to_be_bytes());
        throttle.fail(newest, now + TimeDelta::seconds(30));
        assert_eq!(throttle.len(), MAX_ENTRIES);
    }
}
