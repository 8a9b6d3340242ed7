//! Random sequences of rotate, revoke, rotate-and-revoke and restart over real storage keep
//! docs/design.md §1's invariants: exactly one current and one next key, revocation is terminal, refused
//! operations change nothing, the JWKS is exactly the current, next and previous keys, and a kid
//! is never reused.
//!
//! The long sequences rotate with fixture keys straight through the key change's transaction
//! (what `KeyService::rotate` does once it has its key); as many sequences again rotate through
//! the service itself, whose key source hands out fixture keys, so no test waits for RSA
//! generation.

use std::{collections::HashSet, sync::Arc};

use app::keys::KeyState;
use chrono::Utc;
use proptest::{prelude::*, sample::Index, test_runner::TestCaseError};
use signet::{
    config::Config,
    domain::{
        lifecycle::{KeyError, Operation},
        material::PrivateKey,
    },
    services::{ServiceError, keys::KeyService},
    store::{KeyStore, NewKey, SqlStore},
};

use crate::support::{
    actor, apply, fixture_key, kid_in, master, provisioned_store, settings, start_service,
};

/// Which kid a revocation names.
#[derive(Debug, Clone)]
enum Target {
    Current,
    Next,
    Previous(Index),
    Revoked(Index),
    Unknown,
}

#[derive(Debug, Clone)]
enum Step {
    Rotate,
    RotateAndRevoke,
    Revoke(Target),
    /// Drop the service and start a new one on the same database.
    Restart,
    /// Offer a kid the tenant already had as the new next key, straight to the store.
    RotateReusing(Index),
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
        4 => Just(Step::Rotate),
        2 => Just(Step::RotateAndRevoke),
        5 => target.prop_map(Step::Revoke),
        1 => Just(Step::Restart),
        1 => any::<Index>().prop_map(Step::RotateReusing),
    ]
}

/// The key set docs/design.md §1 says there should be, kept apart from Signet's code.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    current: String,
    next: String,
    /// Oldest first.
    previous: Vec<String>,
    revoked: HashSet<String>,
    /// Every kid the tenant ever had.
    used: Vec<String>,
}

impl Model {
    fn of(service: &KeyService) -> Self {
        let (current, next) = (
            kid_in(service, KeyState::Current),
            kid_in(service, KeyState::Next),
        );
        Self {
            used: vec![current.clone(), next.clone()],
            current,
            next,
            previous: vec![],
            revoked: HashSet::new(),
        }
    }

    fn state_of(&self, kid: &str) -> Option<KeyState> {
        if kid == self.current {
            Some(KeyState::Current)
        } else if kid == self.next {
            Some(KeyState::Next)
        } else if self.previous.iter().any(|k| k == kid) {
            Some(KeyState::Previous)
        } else if self.revoked.contains(kid) {
            Some(KeyState::Revoked)
        } else {
            None
        }
    }

    fn kid_for(&self, target: &Target) -> String {
        let revoked: Vec<&String> = {
            let mut revoked: Vec<_> = self.revoked.iter().collect();
            revoked.sort();
            revoked
        };
        match target {
            Target::Current => Some(self.current.clone()),
            Target::Next => Some(self.next.clone()),
            Target::Previous(i) => {
                (!self.previous.is_empty()).then(|| i.get(&self.previous).clone())
            }
            Target::Revoked(i) => (!revoked.is_empty()).then(|| (*i.get(&revoked)).clone()),
            Target::Unknown => None,
        }
        .unwrap_or_else(|| "neverIssuedKid_000000".to_owned())
    }

    /// After a rotation that brought in `new_next`.
    fn rotate(&mut self, new_next: &str) {
        let retired = std::mem::replace(&mut self.current, self.next.clone());
        self.previous.push(retired);
        self.next = new_next.to_owned();
        self.used.push(new_next.to_owned());
    }

    fn revoke(&mut self, kid: &str) {
        self.previous.retain(|k| k != kid);
        self.revoked.insert(kid.to_owned());
    }
}

/// What a refused operation must leave untouched: the store's version and the key set served.
#[derive(Debug, PartialEq)]
struct Snapshot {
    version: i64,
    records: Vec<signet::domain::lifecycle::KeyRecord>,
    jwks: Vec<u8>,
}

async fn snapshot(store: &Arc<SqlStore>, service: &KeyService) -> Snapshot {
    let published = service.published();
    Snapshot {
        version: store.version().await.unwrap(),
        records: published.keys.iter().map(|k| k.record.clone()).collect(),
        jwks: published.jwks().to_vec(),
    }
}

/// A fixture key under a kid of our choosing (sealed for that kid, as the store expects).
fn fixture_key_with_kid(kid: &str) -> NewKey {
    let mut key = fixture_key(2);
    let private =
        PrivateKey::from_pkcs8_pem(include_str!("../../fixtures/rsa-2048-c.pk8.pem")).unwrap();
    key.sealed = master()
        .seal(kid, &private.to_pkcs8_der().unwrap())
        .unwrap();
    key.kid = kid.to_owned();
    key
}

/// Every invariant, on what the service serves and what the database holds.
async fn check(
    store: &Arc<SqlStore>,
    service: &KeyService,
    model: &Model,
) -> Result<(), TestCaseError> {
    let published = service.published();
    let in_state = |state| {
        published
            .keys
            .iter()
            .filter(|k| k.record.state == state)
            .map(|k| k.record.kid.clone())
            .collect::<Vec<_>>()
    };
    prop_assert_eq!(in_state(KeyState::Current), vec![model.current.clone()]);
    prop_assert_eq!(in_state(KeyState::Next), vec![model.next.clone()]);
    let mut previous = in_state(KeyState::Previous);
    previous.sort();
    let mut expected_previous = model.previous.clone();
    expected_previous.sort();
    prop_assert_eq!(previous, expected_previous);

    // The JWKS: current, next, then every previous key; no revoked key, nothing else.
    let jwks: serde_json::Value = serde_json::from_slice(&published.jwks()).unwrap();
    let jwks_kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    prop_assert_eq!(jwks_kids.len(), 2 + model.previous.len(), "{:?}", jwks_kids);
    prop_assert_eq!(&jwks_kids[0], &model.current);
    prop_assert_eq!(&jwks_kids[1], &model.next);
    let mut jwks_previous = jwks_kids[2..].to_vec();
    jwks_previous.sort();
    let mut expected_previous = model.previous.clone();
    expected_previous.sort();
    prop_assert_eq!(jwks_previous, expected_previous);

    // The database: every kid ever issued exactly once, each in the model's state; revoked keys
    // stay revoked and have lost their private part.
    let stored = store.load(usize::MAX).await.unwrap();
    let mut stored_kids: Vec<&str> = stored.keys.iter().map(|k| k.record.kid.as_str()).collect();
    stored_kids.sort_unstable();
    let mut used: Vec<&str> = model.used.iter().map(String::as_str).collect();
    used.sort_unstable();
    prop_assert_eq!(stored_kids, used, "no kid lost, none twice");
    for key in &stored.keys {
        prop_assert_eq!(
            Some(key.record.state),
            model.state_of(&key.record.kid),
            "{:?}",
            key.record
        );
        prop_assert_eq!(
            key.sealed.is_none(),
            key.record.state == KeyState::Revoked,
            "{:?}",
            key.record
        );
    }
    Ok(())
}

/// How a sequence rotates.
#[derive(Debug, Clone, Copy)]
enum Rotation {
    /// A fixture key through the store's transaction, then a refresh of the service.
    FixtureKey,
    /// `KeyService::rotate`, generating RSA keys.
    Service,
}

#[expect(
    clippy::too_many_lines,
    reason = "the interpreter of every step against the model"
)]
async fn run(steps: Vec<Step>, rotation: Rotation) -> Result<(), TestCaseError> {
    // No rotation limit: a refusal for the limit would be a refusal the model cannot predict.
    let settings: Config = settings(0, 1000);
    let store = provisioned_store().await;
    let mut service = start_service(store.clone(), &settings).await;
    let mut model = Model::of(&service);
    check(&store, &service, &model).await?;

    for step in &steps {
        let before = snapshot(&store, &service).await;
        let changed = match step {
            Step::Restart => {
                drop(service);
                service = start_service(store.clone(), &settings).await;
                false
            }
            Step::Rotate | Step::RotateAndRevoke => {
                let and_revoke = matches!(step, Step::RotateAndRevoke);
                let old_current = model.current.clone();
                let new_next = match rotation {
                    Rotation::Service if and_revoke => {
                        let rotated = service
                            .rotate_and_revoke(&actor(), crate::support::now())
                            .await
                            .unwrap();
                        prop_assert_eq!(rotated.revoked.as_deref(), Some(old_current.as_str()));
                        prop_assert_eq!(&rotated.current.record.kid, &model.next);
                        next_kid(&service)
                    }
                    Rotation::Service => {
                        let rotated = service
                            .rotate(&actor(), crate::support::now())
                            .await
                            .unwrap();
                        prop_assert_eq!(&rotated.current.record.kid, &model.next);
                        next_kid(&service)
                    }
                    Rotation::FixtureKey => {
                        let key = fixture_key(model.used.len() % 3);
                        let new_next = key.kid.clone();
                        let op = if and_revoke {
                            Operation::RotateAndRevoke {
                                new_next: new_next.clone(),
                            }
                        } else {
                            Operation::Rotate {
                                new_next: new_next.clone(),
                            }
                        };
                        apply(store.as_ref(), &op, Some(key), &actor(), Utc::now(), None)
                            .await
                            .unwrap();
                        service.refresh().await.unwrap();
                        new_next
                    }
                };
                prop_assert!(!model.used.contains(&new_next), "kid {} reused", new_next);
                model.rotate(&new_next);
                if and_revoke {
                    model.revoke(&old_current);
                }
                true
            }
            Step::Revoke(target) => {
                let kid = model.kid_for(target);
                let result = service.revoke(&kid, &actor(), crate::support::now()).await;
                match (model.state_of(&kid), result) {
                    (Some(KeyState::Previous), Ok(revoked)) => {
                        prop_assert_eq!(revoked.record.state, KeyState::Revoked);
                        model.revoke(&kid);
                        true
                    }
                    (None, Err(ServiceError::Key(KeyError::NotFound(_)))) => false,
                    (
                        Some(state),
                        Err(ServiceError::Key(KeyError::NotRevocable { state: s, .. })),
                    ) if state == s && state != KeyState::Previous => false,
                    (expected, got) => {
                        return Err(TestCaseError::fail(format!(
                            "revoking {kid} ({expected:?}) gave {got:?}"
                        )));
                    }
                }
            }
            Step::RotateReusing(index) => {
                let kid = index.get(&model.used).clone();
                let op = Operation::Rotate {
                    new_next: kid.clone(),
                };
                let result = apply(
                    store.as_ref(),
                    &op,
                    Some(fixture_key_with_kid(&kid)),
                    &actor(),
                    Utc::now(),
                    None,
                )
                .await;
                prop_assert!(
                    result.is_err(),
                    "kid {} ({:?}) was reused",
                    kid,
                    model.state_of(&kid)
                );
                service.refresh().await.unwrap();
                false
            }
        };
        let after = snapshot(&store, &service).await;
        if changed {
            prop_assert_eq!(after.version, before.version + 1, "one change, one version");
        } else {
            // Refusals and restarts leave the database and what is served exactly as they were.
            prop_assert_eq!(&after, &before, "{:?} changed something", step);
        }
        check(&store, &service, &model).await?;
    }
    Ok(())
}

fn next_kid(service: &KeyService) -> String {
    service
        .published()
        .keys
        .iter()
        .find(|k| k.record.state == KeyState::Next)
        .unwrap()
        .record
        .kid
        .clone()
}

fn block_on(future: impl Future<Output = Result<(), TestCaseError>>) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_operations_over_real_storage_keep_the_invariants(
        steps in prop::collection::vec(step(), 1..40)
    ) {
        block_on(run(steps, Rotation::FixtureKey))?;
    }
}

proptest! {
    // The service's key source hands out fixture keys: as many sequences as any property.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_operations_through_the_key_service_keep_the_invariants(
        steps in prop::collection::vec(step(), 1..8)
    ) {
        block_on(run(steps, Rotation::Service))?;
    }
}
