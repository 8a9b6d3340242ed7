//! The signing-key lifecycle as a pure state machine: no IO and no clock reads.
//!
//! The key service loads a [`KeySet`] inside a store transaction, asks it for the [`Change`] an
//! [`Operation`] makes at `now`, and has the store write that change before the commit. Every invariant of the key set is checked here, so it
//! is tested in microseconds and holds whatever backend persists it.

use app::keys::KeyState;
use chrono::{DateTime, Utc};

/// One signing key's lifecycle facts (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub kid: String,
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
    pub current_since: Option<DateTime<Utc>>,
    pub current_until: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyRecord {
    /// A freshly generated key waiting in the queue.
    pub fn next(kid: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            kid: kid.into(),
            state: KeyState::Next,
            created_at: now,
            current_since: None,
            current_until: None,
            revoked_at: None,
        }
    }

    fn promoted(&self, now: DateTime<Utc>) -> Self {
        Self {
            state: KeyState::Current,
            current_since: Some(now),
            ..self.clone()
        }
    }

    fn retired(&self, now: DateTime<Utc>) -> Self {
        Self {
            state: KeyState::Previous,
            current_until: Some(now),
            ..self.clone()
        }
    }

    /// A next key withdrawn before it ever signed: revoked, with a current interval of zero
    /// length at `now` (it never was current; the store's invariants want both instants).
    fn withdrawn(&self, now: DateTime<Utc>) -> Self {
        Self {
            state: KeyState::Revoked,
            current_since: Some(now),
            current_until: Some(now),
            revoked_at: Some(now),
            ..self.clone()
        }
    }

    fn revoked(&self, now: DateTime<Utc>) -> Self {
        Self {
            state: KeyState::Revoked,
            revoked_at: Some(now),
            ..self.clone()
        }
    }
}

/// Why the lifecycle refuses an operation, or why stored keys cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("signing key {0} not found")]
    NotFound(String),
    #[error("signing key {kid} is {state}; only a previously used key can be revoked")]
    NotRevocable { kid: String, state: KeyState },
    #[error("key id {0} is already in use; key ids are never reused")]
    KidReused(String),
    #[error("the stored key set breaks an invariant: {0}")]
    Inconsistent(String),
    #[error("the new key does not match the operation")]
    NewKeyMismatch,
    /// The next key has not been in the JWKS for the publication window: relying parties may
    /// not have fetched it yet, so it must not sign yet (SPEC §12).
    #[error(
        "the next key was published too recently for relying parties to have fetched it; \
         rotate in {retry_after_seconds} s, or force the rotation"
    )]
    NextKeyTooNew { retry_after_seconds: i64 },
}

/// A lifecycle operation. Operations that create a key carry the new next key's kid; its
/// material was generated beforehand so the operation itself never waits for RSA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// current → previous, next → current, `new_next` → next.
    Rotate { new_next: String },
    /// previous → revoked.
    Revoke { kid: String },
    /// Rotate, then revoke the key that was current: the emergency path for a compromised key.
    RotateAndRevoke { new_next: String },
    /// next → revoked (withdrawn before it ever signed), `new_next` → next: how a change of
    /// algorithm reaches the queue without touching the current key (SPEC §13).
    ReplaceNext { new_next: String },
}

impl Operation {
    /// The audit log's name for the operation.
    pub fn action(&self) -> &'static str {
        match self {
            Operation::Rotate { .. } => "rotate",
            Operation::Revoke { .. } => "revoke",
            Operation::RotateAndRevoke { .. } => "rotate_and_revoke",
            Operation::ReplaceNext { .. } => "replace_next",
        }
    }

    /// The kid of the key this operation creates, if any.
    pub fn new_key(&self) -> Option<&str> {
        match self {
            Operation::Rotate { new_next }
            | Operation::RotateAndRevoke { new_next }
            | Operation::ReplaceNext { new_next } => Some(new_next),
            Operation::Revoke { .. } => None,
        }
    }

    /// The kid this operation revokes by name, if any.
    pub fn revokes(&self) -> Option<&str> {
        match self {
            Operation::Revoke { kid } => Some(kid),
            _ => None,
        }
    }

    /// Refuses unless `new_kid` is exactly the key this operation creates (none for a revocation).
    pub fn expects_new_key(&self, new_kid: Option<&str>) -> Result<(), KeyError> {
        if self.new_key() == new_kid {
            Ok(())
        } else {
            Err(KeyError::NewKeyMismatch)
        }
    }
}

/// What an operation changed: the records to write back and the key to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Existing keys in their new state.
    pub updated: Vec<KeyRecord>,
    /// The new next key, when the operation created one.
    pub inserted: Option<KeyRecord>,
    /// The key that became current, when the operation rotated.
    pub new_current: Option<String>,
    /// The key that was revoked, when the operation revoked one.
    pub revoked: Option<String>,
}

impl Change {
    /// This change followed by `later`, as one change: `later`'s records win.
    fn then(mut self, later: Change) -> Change {
        for record in later.updated {
            match self.updated.iter_mut().find(|r| r.kid == record.kid) {
                Some(earlier) => *earlier = record,
                None => self.updated.push(record),
            }
        }
        Change {
            inserted: later.inserted.or(self.inserted),
            new_current: later.new_current.or(self.new_current),
            revoked: later.revoked.or(self.revoked),
            updated: self.updated,
        }
    }

    /// The kid the audit log files this change under: the revoked key, else the new current key.
    pub fn subject(&self) -> Option<&str> {
        self.revoked.as_deref().or(self.new_current.as_deref())
    }

    /// A readable summary for the audit log.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(kid) = &self.new_current {
            parts.push(format!("{kid} became current"));
        }
        if let Some(key) = &self.inserted {
            parts.push(format!("{} queued as next", key.kid));
        }
        if let Some(kid) = &self.revoked {
            parts.push(format!("{kid} revoked"));
        }
        parts.join("; ")
    }
}

/// The keys an operation is decided on: the current and next keys, plus any other key the caller
/// loaded (the one a revocation names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<KeyRecord>,
}

impl KeySet {
    /// Checks the invariants: exactly one current and one next key, and no kid twice.
    pub fn new(keys: Vec<KeyRecord>) -> Result<Self, KeyError> {
        let count = |state| keys.iter().filter(|k| k.state == state).count();
        for state in [KeyState::Current, KeyState::Next] {
            if count(state) != 1 {
                return Err(KeyError::Inconsistent(format!(
                    "{} {state} keys instead of exactly one",
                    count(state)
                )));
            }
        }
        let mut kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
        kids.sort_unstable();
        if let Some(pair) = kids.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(KeyError::Inconsistent(format!(
                "kid {} appears twice",
                pair[0]
            )));
        }
        Ok(Self { keys })
    }

    /// The first two keys of a tenant: `current` signs from `now`, `next` waits in the queue.
    pub fn provision(current: &str, next: &str, now: DateTime<Utc>) -> Result<Self, KeyError> {
        if current == next {
            return Err(KeyError::KidReused(next.to_owned()));
        }
        Self::new(vec![
            KeyRecord::next(current, now).promoted(now),
            KeyRecord::next(next, now),
        ])
    }

    /// The audit log's summary of provisioning this set.
    pub fn describe_provisioning(&self) -> String {
        format!(
            "{} current; {} queued as next",
            self.current().kid,
            self.next().kid
        )
    }

    /// Every key in the set.
    pub fn keys(&self) -> &[KeyRecord] {
        &self.keys
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> &KeyRecord {
        self.only(KeyState::Current)
    }

    /// The key that becomes current at the next rotation.
    pub fn next(&self) -> &KeyRecord {
        self.only(KeyState::Next)
    }

    fn only(&self, state: KeyState) -> &KeyRecord {
        // `new` guarantees exactly one, so the fallback is unreachable; it keeps this panic-free.
        self.keys
            .iter()
            .find(|k| k.state == state)
            .unwrap_or(&self.keys[0])
    }

    fn find(&self, kid: &str) -> Option<&KeyRecord> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Decides what `op` changes at `now`, or why it is refused. `self` is not modified.
    ///
    /// Time never runs backwards within a key set: a `now` earlier than an instant the set
    /// already records (a request that read its clock, then queued behind a change made by a
    /// process whose clock is ahead) is taken as that instant, so a key is never revoked
    /// before it stopped being current, nor current before it was created.
    pub fn plan(&self, op: &Operation, now: DateTime<Utc>) -> Result<Change, KeyError> {
        let now = self.latest_instant().map_or(now, |latest| latest.max(now));
        match op {
            Operation::Rotate { new_next } => self.plan_rotate(new_next, now),
            Operation::Revoke { kid } => self.plan_revoke(kid, now),
            Operation::RotateAndRevoke { new_next } => {
                let rotation = self.plan_rotate(new_next, now)?;
                let revocation = self
                    .apply(&rotation)
                    .plan_revoke(&self.current().kid, now)?;
                Ok(rotation.then(revocation))
            }
            Operation::ReplaceNext { new_next } => self.plan_replace_next(new_next, now),
        }
    }

    fn plan_replace_next(&self, new_next: &str, now: DateTime<Utc>) -> Result<Change, KeyError> {
        if self.find(new_next).is_some() {
            return Err(KeyError::KidReused(new_next.to_owned()));
        }
        Ok(Change {
            updated: vec![self.next().withdrawn(now)],
            inserted: Some(KeyRecord::next(new_next, now)),
            new_current: None,
            revoked: Some(self.next().kid.clone()),
        })
    }

    /// The latest instant any key of the set records.
    fn latest_instant(&self) -> Option<DateTime<Utc>> {
        self.keys
            .iter()
            .flat_map(|k| {
                [
                    Some(k.created_at),
                    k.current_since,
                    k.current_until,
                    k.revoked_at,
                ]
            })
            .flatten()
            .max()
    }

    fn plan_rotate(&self, new_next: &str, now: DateTime<Utc>) -> Result<Change, KeyError> {
        if self.find(new_next).is_some() {
            return Err(KeyError::KidReused(new_next.to_owned()));
        }
        Ok(Change {
            updated: vec![self.current().retired(now), self.next().promoted(now)],
            inserted: Some(KeyRecord::next(new_next, now)),
            new_current: Some(self.next().kid.clone()),
            revoked: None,
        })
    }

    fn plan_revoke(&self, kid: &str, now: DateTime<Utc>) -> Result<Change, KeyError> {
        let key = self
            .find(kid)
            .ok_or_else(|| KeyError::NotFound(kid.to_owned()))?;
        if !key.state.can_revoke() {
            return Err(KeyError::NotRevocable {
                kid: kid.to_owned(),
                state: key.state,
            });
        }
        Ok(Change {
            updated: vec![key.revoked(now)],
            inserted: None,
            new_current: None,
            revoked: Some(kid.to_owned()),
        })
    }

    /// The set after `change`; how the in-memory view and the tests follow a transition.
    pub fn apply(&self, change: &Change) -> KeySet {
        let mut keys: Vec<KeyRecord> = self
            .keys
            .iter()
            .map(|k| {
                change
                    .updated
                    .iter()
                    .find(|u| u.kid == k.kid)
                    .unwrap_or(k)
                    .clone()
            })
            .collect();
        keys.extend(change.inserted.iter().cloned());
        KeySet { keys }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn state_of(set: &KeySet, kid: &str) -> KeyState {
        set.find(kid).unwrap().state
    }

    fn rotate(set: &KeySet, new_next: &str, now: DateTime<Utc>) -> KeySet {
        let op = Operation::Rotate {
            new_next: new_next.into(),
        };
        set.apply(&set.plan(&op, now).unwrap())
    }

    #[test]
    fn provisioning_makes_one_current_and_one_next_key() {
        let set = KeySet::provision("a", "b", t(0)).unwrap();
        assert_eq!(set.current().kid, "a");
        assert_eq!(set.current().current_since, Some(t(0)));
        assert_eq!(set.next().kid, "b");
        assert_eq!(set.next().current_since, None);
    }

    #[test]
    fn provisioning_refuses_one_kid_for_both_keys() {
        assert_eq!(
            KeySet::provision("a", "a", t(0)),
            Err(KeyError::KidReused("a".into()))
        );
    }

    #[test]
    fn rotation_moves_every_key_one_step_along() {
        let set = KeySet::provision("a", "b", t(0)).unwrap();
        let rotated = rotate(&set, "c", t(10));

        assert_eq!(state_of(&rotated, "a"), KeyState::Previous);
        assert_eq!(rotated.find("a").unwrap().current_until, Some(t(10)));
        assert_eq!(rotated.current().kid, "b");
        assert_eq!(rotated.current().current_since, Some(t(10)));
        assert_eq!(rotated.next().kid, "c");
        assert_eq!(rotated.next().created_at, t(10));
        // The result still satisfies every invariant.
        assert!(KeySet::new(rotated.keys().to_vec()).is_ok());
    }

    #[test]
    fn a_late_clock_never_makes_time_run_backwards_in_the_set() {
        // A revocation that read its clock at t(5), then queued behind a rotation made at t(10)
        // by a process whose clock is ahead.
        let set = rotate(&KeySet::provision("a", "b", t(0)).unwrap(), "c", t(10));
        let op = Operation::Revoke { kid: "a".into() };
        let revoked = set.apply(&set.plan(&op, t(5)).unwrap());
        let a = revoked.find("a").unwrap();
        assert_eq!((a.current_until, a.revoked_at), (Some(t(10)), Some(t(10))));
        let rotated = rotate(&revoked, "d", t(3));
        assert_eq!(rotated.current().current_since, Some(t(10)));
        assert!(KeySet::new(rotated.keys().to_vec()).is_ok());
    }

    #[test]
    fn rotation_reports_the_new_current_key() {
        let set = KeySet::provision("a", "b", t(0)).unwrap();
        let op = Operation::Rotate {
            new_next: "c".into(),
        };
        let change = set.plan(&op, t(1)).unwrap();
        assert_eq!(change.new_current.as_deref(), Some("b"));
        assert_eq!(change.subject(), Some("b"));
        assert_eq!(change.describe(), "b became current; c queued as next");
        assert_eq!(change.inserted.unwrap().kid, "c");
    }

    #[test]
    fn rotation_refuses_a_kid_already_in_the_set() {
        let set = KeySet::provision("a", "b", t(0)).unwrap();
        let op = Operation::Rotate {
            new_next: "a".into(),
        };
        assert_eq!(set.plan(&op, t(1)), Err(KeyError::KidReused("a".into())));
    }

    #[test]
    fn a_previous_key_can_be_revoked() {
        let set = rotate(&KeySet::provision("a", "b", t(0)).unwrap(), "c", t(1));
        let op = Operation::Revoke { kid: "a".into() };
        let change = set.plan(&op, t(5)).unwrap();
        let after = set.apply(&change);

        assert_eq!(state_of(&after, "a"), KeyState::Revoked);
        assert_eq!(after.find("a").unwrap().revoked_at, Some(t(5)));
        assert_eq!(change.revoked.as_deref(), Some("a"));
        assert_eq!(after.current().kid, "b");
        assert_eq!(after.next().kid, "c");
    }

    #[test]
    fn current_next_and_revoked_keys_cannot_be_revoked() {
        let set = rotate(&KeySet::provision("a", "b", t(0)).unwrap(), "c", t(1));
        let revoked = set.apply(
            &set.plan(&Operation::Revoke { kid: "a".into() }, t(2))
                .unwrap(),
        );
        for (kid, state) in [
            ("b", KeyState::Current),
            ("c", KeyState::Next),
            ("a", KeyState::Revoked),
        ] {
            let op = Operation::Revoke { kid: kid.into() };
            assert_eq!(
                revoked.plan(&op, t(3)),
                Err(KeyError::NotRevocable {
                    kid: kid.into(),
                    state
                })
            );
        }
    }

    #[test]
    fn revoking_an_unknown_kid_is_not_found() {
        let set = KeySet::provision("a", "b", t(0)).unwrap();
        let op = Operation::Revoke { kid: "zzz".into() };
        assert_eq!(set.plan(&op, t(1)), Err(KeyError::NotFound("zzz".into())));
    }

    #[test]
    fn replacing_the_next_key_withdraws_it_and_leaves_the_current_key_alone() {
        let set = KeySet::provision("a", "b", t(0)).unwrap();
        let op = Operation::ReplaceNext {
            new_next: "c".into(),
        };
        let change = set.plan(&op, t(5)).unwrap();
        assert_eq!(change.revoked.as_deref(), Some("b"));
        assert_eq!(change.new_current, None);
        let after = set.apply(&change);
        assert_eq!(after.current(), set.current());
        assert_eq!(after.next().kid, "c");
        let withdrawn = after.find("b").unwrap();
        assert_eq!(withdrawn.state, KeyState::Revoked);
        assert_eq!(withdrawn.current_since, withdrawn.current_until);
        assert_eq!(withdrawn.revoked_at, Some(t(5)));
        KeySet::new(after.keys().to_vec()).unwrap();
        let reused = Operation::ReplaceNext {
            new_next: "a".into(),
        };
        assert_eq!(
            set.plan(&reused, t(5)),
            Err(KeyError::KidReused("a".into()))
        );
    }

    #[test]
    fn rotate_and_revoke_revokes_the_key_that_was_current() {
        let set = rotate(&KeySet::provision("a", "b", t(0)).unwrap(), "c", t(1));
        let op = Operation::RotateAndRevoke {
            new_next: "d".into(),
        };
        let change = set.plan(&op, t(7)).unwrap();
        let after = set.apply(&change);

        let b = after.find("b").unwrap();
        assert_eq!(b.state, KeyState::Revoked);
        assert_eq!(b.current_until, Some(t(7)));
        assert_eq!(b.revoked_at, Some(t(7)));
        assert_eq!(state_of(&after, "a"), KeyState::Previous, "older keys stay");
        assert_eq!(after.current().kid, "c");
        assert_eq!(after.current().current_since, Some(t(7)));
        assert_eq!(after.next().kid, "d");
        assert_eq!(change.new_current.as_deref(), Some("c"));
        assert_eq!(change.revoked.as_deref(), Some("b"));
        assert_eq!(change.subject(), Some("b"));
        assert!(KeySet::new(after.keys().to_vec()).is_ok());
    }

    #[test]
    fn planning_leaves_the_set_unchanged() {
        let set = KeySet::provision("a", "b", t(0)).unwrap();
        let before = set.clone();
        let _ = set.plan(
            &Operation::RotateAndRevoke {
                new_next: "c".into(),
            },
            t(1),
        );
        assert_eq!(set, before);
    }

    #[test]
    fn many_rotations_keep_the_invariants_and_every_kid() {
        let mut set = KeySet::provision("k0", "k1", t(0)).unwrap();
        for i in 2..50 {
            set = rotate(&set, &format!("k{i}"), t(i));
            let op = Operation::Revoke {
                kid: format!("k{}", i - 2),
            };
            if i % 3 == 0 {
                set = set.apply(&set.plan(&op, t(i)).unwrap());
            }
            assert!(KeySet::new(set.keys().to_vec()).is_ok());
        }
        assert_eq!(set.keys().len(), 50);
        assert_eq!(set.current().kid, "k48");
        assert_eq!(set.next().kid, "k49");
    }

    /// Properties of any sequence of operations, checked against a model written separately
    /// from the state machine: docs/design.md §1's invariants hold after every step.
    mod properties {
        use std::collections::HashSet;

        use proptest::{prelude::*, sample::Index};

        use super::*;

        /// Which kid a step names.
        #[derive(Debug, Clone)]
        enum Target {
            Current,
            Next,
            Previous(Index),
            Revoked(Index),
            Unknown,
        }

        /// The kid a step offers for the new next key.
        #[derive(Debug, Clone)]
        enum NewKid {
            Fresh,
            /// Any kid the tenant ever had, revoked ones included.
            Used(Index),
        }

        #[derive(Debug, Clone)]
        enum Step {
            Rotate(NewKid),
            Revoke(Target),
            RotateAndRevoke(NewKid),
            ReplaceNext(NewKid),
        }

        fn new_kid() -> impl Strategy<Value = NewKid> {
            prop_oneof![
                3 => Just(NewKid::Fresh),
                1 => any::<Index>().prop_map(NewKid::Used),
            ]
        }

        fn step() -> impl Strategy<Value = Step> {
            let target = prop_oneof![
                1 => Just(Target::Current),
                1 => Just(Target::Next),
                3 => any::<Index>().prop_map(Target::Previous),
                1 => any::<Index>().prop_map(Target::Revoked),
                1 => Just(Target::Unknown),
            ];
            prop_oneof![
                3 => new_kid().prop_map(Step::Rotate),
                3 => target.prop_map(Step::Revoke),
                1 => new_kid().prop_map(Step::RotateAndRevoke),
                1 => new_kid().prop_map(Step::ReplaceNext),
            ]
        }

        /// What the lifecycle should hold, as plain lists.
        #[derive(Debug, Clone)]
        struct Model {
            current: String,
            next: String,
            previous: Vec<String>,
            revoked: Vec<String>,
            /// Every kid ever handed out, in order.
            used: Vec<String>,
        }

        impl Model {
            fn pick(kids: &[String], index: &Index) -> Option<String> {
                (!kids.is_empty()).then(|| index.get(kids).clone())
            }

            fn kid_for(&self, target: &Target) -> String {
                match target {
                    Target::Current => Some(self.current.clone()),
                    Target::Next => Some(self.next.clone()),
                    Target::Previous(i) => Self::pick(&self.previous, i),
                    Target::Revoked(i) => Self::pick(&self.revoked, i),
                    Target::Unknown => None,
                }
                .unwrap_or_else(|| "never-issued".to_owned())
            }

            fn state_of(&self, kid: &str) -> Option<KeyState> {
                if kid == self.current {
                    Some(KeyState::Current)
                } else if kid == self.next {
                    Some(KeyState::Next)
                } else if self.previous.iter().any(|k| k == kid) {
                    Some(KeyState::Previous)
                } else if self.revoked.iter().any(|k| k == kid) {
                    Some(KeyState::Revoked)
                } else {
                    None
                }
            }

            fn rotate(&mut self, new_next: &str) {
                let retired = std::mem::replace(&mut self.current, self.next.clone());
                self.previous.push(retired);
                self.next = new_next.to_owned();
                self.used.push(new_next.to_owned());
            }

            fn revoke(&mut self, kid: &str) {
                self.previous.retain(|k| k != kid);
                self.revoked.push(kid.to_owned());
            }

            fn replace_next(&mut self, new_next: &str) {
                let withdrawn = std::mem::replace(&mut self.next, new_next.to_owned());
                self.revoked.push(withdrawn);
                self.used.push(new_next.to_owned());
            }
        }

        /// Checks `set` against `model` and docs/design.md §1's invariants.
        fn check(set: &KeySet, model: &Model) -> Result<(), TestCaseError> {
            prop_assert!(KeySet::new(set.keys().to_vec()).is_ok(), "{set:?}");
            prop_assert_eq!(&set.current().kid, &model.current);
            prop_assert_eq!(&set.next().kid, &model.next);
            let kids: HashSet<&str> = set.keys().iter().map(|k| k.kid.as_str()).collect();
            let used: HashSet<&str> = model.used.iter().map(String::as_str).collect();
            prop_assert_eq!(kids, used, "every kid ever issued is kept, once");
            for key in set.keys() {
                prop_assert_eq!(Some(key.state), model.state_of(&key.kid), "{:?}", key);
                match key.state {
                    KeyState::Next => prop_assert!(key.current_since.is_none()),
                    KeyState::Current => {
                        prop_assert!(key.current_since.is_some() && key.current_until.is_none())
                    }
                    KeyState::Previous => prop_assert!(
                        key.current_since <= key.current_until && key.revoked_at.is_none()
                    ),
                    KeyState::Revoked => prop_assert!(
                        key.current_until.is_some() && key.current_until <= key.revoked_at
                    ),
                }
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            #[test]
            fn any_sequence_of_operations_keeps_the_invariants(
                steps in prop::collection::vec(step(), 0..60)
            ) {
                let mut set = KeySet::provision("k0", "k1", t(0)).unwrap();
                let mut model = Model {
                    current: "k0".into(),
                    next: "k1".into(),
                    previous: vec![],
                    revoked: vec![],
                    used: vec!["k0".into(), "k1".into()],
                };
                for (i, step) in steps.iter().enumerate() {
                    let now = t(i64::try_from(i).unwrap() + 1);
                    let fresh = format!("k{}", model.used.len());
                    let offered = |new: &NewKid| match new {
                        NewKid::Fresh => fresh.clone(),
                        NewKid::Used(i) => i.get(&model.used).clone(),
                    };
                    // The model after a step that queues `new_next` as `queue` does, unless
                    // that kid was ever issued.
                    let queuing = |new_next: &String, queue: fn(&mut Model, &str)| {
                        if model.used.contains(new_next) {
                            return Err(KeyError::KidReused(new_next.clone()));
                        }
                        let mut after = model.clone();
                        queue(&mut after, new_next);
                        Ok(after)
                    };
                    let (op, expected) = match step {
                        Step::Rotate(new) => {
                            let new_next = offered(new);
                            let expected = queuing(&new_next, Model::rotate);
                            (Operation::Rotate { new_next }, expected)
                        }
                        Step::RotateAndRevoke(new) => {
                            let new_next = offered(new);
                            let expected = queuing(&new_next, |after, kid| {
                                let current = after.current.clone();
                                after.rotate(kid);
                                after.revoke(&current);
                            });
                            (Operation::RotateAndRevoke { new_next }, expected)
                        }
                        Step::ReplaceNext(new) => {
                            let new_next = offered(new);
                            let expected = queuing(&new_next, Model::replace_next);
                            (Operation::ReplaceNext { new_next }, expected)
                        }
                        Step::Revoke(target) => {
                            let kid = model.kid_for(target);
                            let expected = match model.state_of(&kid) {
                                None => Err(KeyError::NotFound(kid.clone())),
                                Some(KeyState::Previous) => {
                                    let mut after = model.clone();
                                    after.revoke(&kid);
                                    Ok(after)
                                }
                                Some(state) => Err(KeyError::NotRevocable { kid: kid.clone(), state }),
                            };
                            (Operation::Revoke { kid }, expected)
                        }
                    };
                    let before = set.clone();
                    match (set.plan(&op, now), expected) {
                        (Ok(change), Ok(after)) => {
                            let applied = set.apply(&change);
                            // Only the keys the operation names move, and they move at `now`.
                            for key in applied.keys() {
                                let old = before.find(&key.kid);
                                if old != Some(key) {
                                    prop_assert!(
                                        key.created_at == now
                                            || key.current_since == Some(now)
                                            || key.current_until == Some(now)
                                            || key.revoked_at == Some(now),
                                        "{:?} changed without a timestamp of now", key
                                    );
                                }
                                if let Some(old) = old.filter(|old| old.state == KeyState::Revoked) {
                                    prop_assert_eq!(old, key, "revocation is terminal");
                                }
                            }
                            set = applied;
                            model = after;
                        }
                        (Err(error), Err(expected)) => prop_assert_eq!(error, expected),
                        (got, expected) => prop_assert!(
                            false,
                            "step {:?}: planned {:?}, expected {:?}", step, got, expected.map(|_| ())
                        ),
                    }
                    prop_assert_eq!(&set.keys().len(), &model.used.len());
                    check(&set, &model)?;
                }
            }
        }
    }

    #[test]
    fn the_new_key_must_be_the_one_the_operation_names() {
        let rotate = Operation::Rotate {
            new_next: "c".into(),
        };
        assert_eq!(rotate.expects_new_key(Some("c")), Ok(()));
        assert_eq!(
            rotate.expects_new_key(Some("d")),
            Err(KeyError::NewKeyMismatch)
        );
        assert_eq!(rotate.expects_new_key(None), Err(KeyError::NewKeyMismatch));
        let revoke = Operation::Revoke { kid: "a".into() };
        assert_eq!(revoke.expects_new_key(None), Ok(()));
        assert_eq!(revoke.revokes(), Some("a"));
    }

    #[test]
    fn invariant_violations_are_reported() {
        let two_current = vec![
            KeyRecord::next("a", t(0)).promoted(t(0)),
            KeyRecord::next("b", t(0)).promoted(t(0)),
            KeyRecord::next("c", t(0)),
        ];
        assert!(matches!(
            KeySet::new(two_current),
            Err(KeyError::Inconsistent(_))
        ));
        let no_next = vec![KeyRecord::next("a", t(0)).promoted(t(0))];
        assert!(matches!(
            KeySet::new(no_next),
            Err(KeyError::Inconsistent(_))
        ));
        let duplicate = vec![
            KeyRecord::next("a", t(0)).promoted(t(0)),
            KeyRecord::next("b", t(0)),
            KeyRecord::next("b", t(0)).retired(t(0)),
        ];
        assert!(matches!(
            KeySet::new(duplicate),
            Err(KeyError::Inconsistent(_))
        ));
    }
}
