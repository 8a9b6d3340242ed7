//! Scheduled rotation (SPEC §12): the tenant's rotation policy, the publication window, and when
//! each change the schedule makes falls due. Pure: every function takes `now`.
//!
//! Two rules make a schedule safe by construction:
//! - a key becomes current only once it has been in the JWKS for the publication window, so no
//!   relying party sees a token signed by a key it has not fetched ([`Schedule::rotation_at`]);
//! - a previous key is revoked only once no token it signed can still be live, plus the grace
//!   ([`Schedule::revocation_at`]).

use app::algorithm::KeySpec;
use chrono::{DateTime, TimeDelta, Utc};

use super::lifecycle::{KeyError, KeyRecord, KeySet};

/// The shortest period a schedule may rotate at.
pub const MIN_ROTATION_SECONDS: i64 = 3_600;
/// The longest period or grace a policy may name: ten years.
pub const MAX_POLICY_SECONDS: i64 = 10 * 366 * 86_400;
/// How long after a key stops being current the schedule waits, at least, before it revokes it:
/// a process that had not yet followed the rotation may sign with it for a moment, and its
/// ledger reservation (written before it signs) is in the database well within this.
pub const RETIREMENT_SETTLE_SECONDS: i64 = 60;

/// A tenant's rotation policy; the default is no schedule at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RotationPolicy {
    /// The current key is rotated once it has been current this long; `None`: never.
    pub rotate_every_seconds: Option<i64>,
    /// A previous key is revoked this long after its last token expired; `None`: never.
    pub revoke_previous_after_seconds: Option<i64>,
    /// The type new keys get: the next key has it from the moment it is set (SPEC §13).
    pub key: KeySpec,
}

/// How long a key must have been published before it may become current:
/// `SIGNET_PUBLICATION_WINDOW_SECS`, the JWKS `max-age` plus `stale-while-revalidate` by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicationWindow {
    pub seconds: i64,
}

impl PublicationWindow {
    /// The JWKS cache lifetime a relying party may hold the key set for.
    pub const DEFAULT_SECONDS: i64 = 30;
}

/// Why a policy cannot be honoured; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRefusal {
    #[error("rotate_every_seconds must be at least {MIN_ROTATION_SECONDS} (one hour)")]
    PeriodTooShort,
    #[error(
        "rotate_every_seconds must be longer than the publication window of {window} seconds, \
         or no key would ever be published long enough to become current"
    )]
    PeriodWithinWindow { window: i64 },
    #[error("revoke_previous_after_seconds must not be negative")]
    NegativeGrace,
    #[error("{field} must be at most {MAX_POLICY_SECONDS} seconds (ten years)")]
    TooLong { field: &'static str },
}

impl RotationPolicy {
    /// The policy, if every number can be honoured under `window`.
    pub fn checked(self, window: PublicationWindow) -> Result<Self, PolicyRefusal> {
        if let Some(every) = self.rotate_every_seconds {
            if every < MIN_ROTATION_SECONDS {
                return Err(PolicyRefusal::PeriodTooShort);
            }
            if every <= window.seconds {
                return Err(PolicyRefusal::PeriodWithinWindow {
                    window: window.seconds,
                });
            }
            if every > MAX_POLICY_SECONDS {
                return Err(PolicyRefusal::TooLong {
                    field: "rotate_every_seconds",
                });
            }
        }
        if let Some(grace) = self.revoke_previous_after_seconds {
            if grace < 0 {
                return Err(PolicyRefusal::NegativeGrace);
            }
            if grace > MAX_POLICY_SECONDS {
                return Err(PolicyRefusal::TooLong {
                    field: "revoke_previous_after_seconds",
                });
            }
        }
        Ok(self)
    }

    /// Whether the policy schedules anything.
    pub fn is_off(&self) -> bool {
        self.rotate_every_seconds.is_none() && self.revoke_previous_after_seconds.is_none()
    }

    /// The audit log's summary of the policy.
    pub fn describe(&self) -> String {
        let every = self
            .rotate_every_seconds
            .map_or_else(|| "never".to_owned(), |s| format!("every {s} s"));
        let revoke = self.revoke_previous_after_seconds.map_or_else(
            || "never".to_owned(),
            |s| format!("{s} s after their last token expires"),
        );
        format!(
            "rotate {every}; revoke previous keys {revoke}; new keys {}",
            self.key
        )
    }
}

/// What the schedule decides with: the policy and the publication window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub policy: RotationPolicy,
    pub window: PublicationWindow,
}

fn plus_seconds(at: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    TimeDelta::try_seconds(seconds)
        .and_then(|delta| at.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// When `next` has been published for the window: the earliest it may become current.
pub fn ready_at(next: &KeyRecord, window: PublicationWindow) -> DateTime<Utc> {
    plus_seconds(next.created_at, window.seconds)
}

/// Whole seconds (rounded up) a manual rotation at `now` would have to wait for the next key to
/// have been published for the window; `None` if it may rotate now, or the window is off.
pub fn manual_wait(set: &KeySet, window: PublicationWindow, now: DateTime<Utc>) -> Option<i64> {
    if window.seconds <= 0 {
        return None;
    }
    let ready = ready_at(set.next(), window);
    (ready > now).then(|| {
        let millis = (ready - now).num_milliseconds();
        (millis + 999) / 1000
    })
}

/// What must hold inside the transaction for a rotation to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationGate {
    /// The operator's manual rotation: refused while the next key is newer than the window.
    Published(PublicationWindow),
    /// Forced by the operator, or the emergency Rotate & Revoke: never held back.
    Unchecked,
    /// The schedule's rotation: goes ahead only if it is still due (another process may have
    /// rotated a moment ago); otherwise nothing happens.
    Due(Schedule),
}

impl RotationGate {
    /// `Ok(true)` to rotate, `Ok(false)` to do nothing (a scheduled rotation no longer due),
    /// or the refusal of a manual rotation that would break relying parties.
    pub fn check(&self, set: &KeySet, now: DateTime<Utc>) -> Result<bool, KeyError> {
        match self {
            RotationGate::Unchecked => Ok(true),
            RotationGate::Published(window) => match manual_wait(set, *window, now) {
                Some(retry_after_seconds) => Err(KeyError::NextKeyTooNew {
                    retry_after_seconds,
                }),
                None => Ok(true),
            },
            RotationGate::Due(schedule) => Ok(schedule
                .rotation_at(set.current(), set.next())
                .is_some_and(|at| at <= now)),
        }
    }
}

impl Schedule {
    /// When the schedule rotates: once `current` has been current for the period, and not
    /// before `next` has been published for the window. `None` without a schedule.
    pub fn rotation_at(&self, current: &KeyRecord, next: &KeyRecord) -> Option<DateTime<Utc>> {
        let every = self.policy.rotate_every_seconds?;
        let since = current.current_since.unwrap_or(current.created_at);
        Some(plus_seconds(since, every).max(ready_at(next, self.window)))
    }

    /// When the schedule revokes `previous`, whose tokens are live until `live_tokens_until`
    /// (Unix seconds; `None` if it never signed): the grace after the later of its last token's
    /// expiry and [`RETIREMENT_SETTLE_SECONDS`] after it stopped being current. `None` if the
    /// policy never revokes, or the key is not a previous key.
    pub fn revocation_at(
        &self,
        previous: &KeyRecord,
        live_tokens_until: Option<i64>,
    ) -> Option<DateTime<Utc>> {
        let grace = self.policy.revoke_previous_after_seconds?;
        if !previous.state.can_revoke() {
            return None;
        }
        let retired = previous.current_until.unwrap_or(previous.created_at);
        let settled = plus_seconds(retired, RETIREMENT_SETTLE_SECONDS);
        let last_token = live_tokens_until
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Some(plus_seconds(settled.max(last_token), grace))
    }
}

/// How long a cache may hold the JWKS at `now` when the key set changes at `change_at`:
/// `(max_age, stale_while_revalidate)`, each at most its configured value, together never past
/// the change.
pub fn cache_lifetimes(
    max_age: i64,
    stale_while_revalidate: i64,
    change_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (i64, i64) {
    let Some(change_at) = change_at else {
        return (max_age, stale_while_revalidate);
    };
    let left = (change_at - now).num_seconds().max(0);
    let age = max_age.min(left);
    (age, stale_while_revalidate.min(left - age))
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use app::keys::KeyState;
    use chrono::TimeZone;

    use super::*;
    use crate::domain::lifecycle::Operation;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(seconds)
    }

    const WINDOW: PublicationWindow = PublicationWindow { seconds: 30 };

    fn policy(every: Option<i64>, grace: Option<i64>) -> RotationPolicy {
        RotationPolicy {
            key: KeySpec::DEFAULT,
            rotate_every_seconds: every,
            revoke_previous_after_seconds: grace,
        }
    }

    #[test]
    fn policies_that_cannot_be_honoured_are_refused_with_the_reason() {
        let refused = [
            (policy(Some(3_599), None), PolicyRefusal::PeriodTooShort),
            (policy(Some(-5), None), PolicyRefusal::PeriodTooShort),
            (policy(None, Some(-1)), PolicyRefusal::NegativeGrace),
            (
                policy(Some(MAX_POLICY_SECONDS + 1), None),
                PolicyRefusal::TooLong {
                    field: "rotate_every_seconds",
                },
            ),
            (
                policy(None, Some(MAX_POLICY_SECONDS + 1)),
                PolicyRefusal::TooLong {
                    field: "revoke_previous_after_seconds",
                },
            ),
        ];
        for (policy, refusal) in refused {
            assert_eq!(policy.checked(WINDOW), Err(refusal));
        }
        let long_window = PublicationWindow { seconds: 7_200 };
        assert_eq!(
            policy(Some(7_200), None).checked(long_window),
            Err(PolicyRefusal::PeriodWithinWindow { window: 7_200 })
        );
        for fine in [
            policy(None, None),
            policy(Some(3_600), Some(0)),
            policy(Some(30 * 86_400), Some(86_400)),
        ] {
            assert_eq!(fine.checked(WINDOW), Ok(fine));
        }
    }

    #[test]
    fn a_scheduled_rotation_waits_for_the_period_and_for_the_next_key_to_be_published() {
        let set = KeySet::provision("a", "b", t(0)).unwrap();
        let schedule = Schedule {
            policy: policy(Some(3_600), None),
            window: WINDOW,
        };
        assert_eq!(
            schedule.rotation_at(set.current(), set.next()),
            Some(t(3_600))
        );
        let gate = RotationGate::Due(schedule);
        assert!(!gate.check(&set, t(3_599)).unwrap());
        assert!(gate.check(&set, t(3_600)).unwrap());
        // A next key replaced moments before the period ends is waited for.
        let op = Operation::Rotate {
            new_next: "c".into(),
        };
        let rotated = set.apply(&set.plan(&op, t(3_590)).unwrap());
        let fresh = KeySet::new(
            rotated
                .keys()
                .iter()
                .map(|k| KeyRecord {
                    current_since: k.current_since.map(|_| t(0)),
                    ..k.clone()
                })
                .collect(),
        )
        .unwrap();
        assert_eq!(
            schedule.rotation_at(fresh.current(), fresh.next()),
            Some(t(3_620))
        );
        let off = Schedule {
            policy: RotationPolicy::default(),
            window: WINDOW,
        };
        assert!(!RotationGate::Due(off).check(&set, t(1_000_000)).unwrap());
    }

    #[test]
    fn a_manual_rotation_is_refused_while_the_next_key_is_newer_than_the_window() {
        let set = KeySet::provision("a", "b", t(0)).unwrap();
        let gate = RotationGate::Published(WINDOW);
        assert_eq!(
            gate.check(&set, t(12)),
            Err(KeyError::NextKeyTooNew {
                retry_after_seconds: 18
            })
        );
        assert_eq!(
            gate.check(&set, t(29) + TimeDelta::milliseconds(1)),
            Err(KeyError::NextKeyTooNew {
                retry_after_seconds: 1
            })
        );
        assert!(gate.check(&set, t(30)).unwrap());
        assert!(RotationGate::Unchecked.check(&set, t(0)).unwrap());
        // Off means off, even for a key stamped by a process whose clock is ahead.
        let off = RotationGate::Published(PublicationWindow { seconds: 0 });
        assert!(off.check(&set, t(-5)).unwrap());
    }

    #[test]
    fn a_previous_key_is_revoked_after_its_last_live_token_plus_the_grace() {
        let schedule = Schedule {
            policy: policy(None, Some(600)),
            window: WINDOW,
        };
        let mut previous = KeyRecord::next("a", t(0));
        previous.state = KeyState::Previous;
        previous.current_since = Some(t(0));
        previous.current_until = Some(t(1_000));
        let token_until = t(5_000).timestamp();
        assert_eq!(
            schedule.revocation_at(&previous, Some(token_until)),
            Some(t(5_600))
        );
        // A key that never signed still waits for stragglers to settle.
        assert_eq!(schedule.revocation_at(&previous, None), Some(t(1_660)));
        assert_eq!(
            schedule.revocation_at(&previous, Some(t(10).timestamp())),
            Some(t(1_660))
        );
        let never = Schedule {
            policy: policy(Some(3_600), None),
            window: WINDOW,
        };
        assert_eq!(never.revocation_at(&previous, None), None);
        let current = KeyRecord::next("b", t(0));
        assert_eq!(schedule.revocation_at(&current, None), None);
    }

    #[test]
    fn the_jwks_cache_lifetime_never_reaches_past_a_scheduled_change() {
        assert_eq!(cache_lifetimes(15, 15, None, t(0)), (15, 15));
        assert_eq!(cache_lifetimes(15, 15, Some(t(3_600)), t(0)), (15, 15));
        assert_eq!(cache_lifetimes(15, 15, Some(t(20)), t(0)), (15, 5));
        assert_eq!(cache_lifetimes(15, 15, Some(t(9)), t(0)), (9, 0));
        assert_eq!(cache_lifetimes(15, 15, Some(t(0)), t(5)), (0, 0));
    }
}
