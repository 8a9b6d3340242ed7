//! Two `signet serve` processes behind one load balancer share a PostgreSQL database: changes made
//! at the same moment through different processes are serialised by the database, and a change
//! made through one process is served by the other within two seconds (docs/design.md §1, §8; issue 5).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use app::keys::KeyState;
use rand::{Rng, seq::SliceRandom};
use serde_json::Value;
use signet::store::{AuditLog, AuditQuery};

use crate::process::{Api, Deployment, checked_keys, kids_of, stored_kids, valid_kids};

/// The bound for another process to follow a change.
const PROPAGATION_BOUND: Duration = Duration::from_secs(2);
const CONCURRENT_OPERATIONS: usize = 50;
/// Rotations before the race, so it has previous keys to revoke.
const SETUP_ROTATIONS: usize = 4;

fn kid_in(keys: &[Value], flag: &str) -> String {
    keys.iter().find(|key| key[flag] == true).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// How long after `since` `happened` first holds; fails after the propagation bound.
async fn delay_until(
    what: &str,
    since: Instant,
    mut happened: impl AsyncFnMut() -> bool,
) -> Duration {
    loop {
        if happened().await {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < PROPAGATION_BOUND,
            "{what} did not happen within {PROPAGATION_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set SIGNET_TEST_DATABASE_URL"]
async fn a_change_through_one_server_reaches_the_other_within_two_seconds() {
    let deployment = Deployment::postgres("the propagation test").await;
    let (a, b) = tokio::join!(deployment.start_server(), deployment.start_server());
    let client = deployment.create_client().await;
    let token_a = a.api.token(&client).await;
    // Signed by the key that is current now, which is about to be rotated out and revoked.
    let token_b = b.api.token(&client).await;
    let old_current = kid_in(&a.api.keys(&token_a).await, "current");

    let rotation_sent = Instant::now();
    let rotated = a
        .api
        .call("POST", "/api/v2/keys/signing/rotate", &token_a)
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new_next = kid_in(&a.api.keys(&token_a).await, "next");
    let jwks_delay = delay_until("B publishing the new next key", rotation_sent, async || {
        b.api.jwks_kids().await.contains(&new_next)
    })
    .await;

    let revocation_sent = Instant::now();
    let revoked = a
        .api
        .call(
            "PUT",
            &format!("/api/v2/keys/signing/{old_current}/revoke"),
            &token_a,
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let revocation_delay = delay_until(
        "B refusing a token of the revoked key",
        revocation_sent,
        async || {
            b.api
                .call("GET", "/api/v2/keys/signing", &token_b)
                .await
                .status
                == 401
        },
    )
    .await;
    assert!(!b.api.jwks_kids().await.contains(&old_current));
    eprintln!(
        "propagation: jwks {} ms, revocation {} ms",
        jwks_delay.as_millis(),
        revocation_delay.as_millis()
    );
}

/// What one of the concurrent operations ended in.
#[derive(Debug)]
enum Outcome {
    Rotated,
    Revoked(String),
    RotatedAndRevoked,
    /// A clear refusal: the Auth0 `errorCode`, or the command line's one-line message.
    Refused(String),
}

async fn rotate_through(api: Api, token: String) -> Outcome {
    let answer = api
        .call("POST", "/api/v2/keys/signing/rotate", &token)
        .await;
    if answer.status == 201 {
        return Outcome::Rotated;
    }
    answer.assert_clear_refusal("rotate");
    Outcome::Refused(answer.json()["errorCode"].as_str().unwrap().to_owned())
}

async fn revoke_through(api: Api, token: String, kid: String) -> Outcome {
    let answer = api
        .call("PUT", &format!("/api/v2/keys/signing/{kid}/revoke"), &token)
        .await;
    if answer.status == 200 {
        return Outcome::Revoked(kid);
    }
    answer.assert_clear_refusal("revoke");
    Outcome::Refused(answer.json()["errorCode"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set SIGNET_TEST_DATABASE_URL"]
#[expect(clippy::too_many_lines, reason = "one story: setup, race, one truth")]
async fn fifty_concurrent_changes_through_two_servers_keep_one_truth() {
    let deployment = Deployment::postgres("the two-server concurrency test").await;
    let deployment = std::sync::Arc::new(deployment);
    let started = Instant::now();
    let (a, b) = tokio::join!(deployment.start_server(), deployment.start_server());
    let client = deployment.create_client().await;
    // The tokens' key is rotated out before the race and never revoked, so the race's
    // rotate-and-revokes (which revoke whatever is current) cannot invalidate them.
    let (token_a, token_b) = (a.api.token(&client).await, b.api.token(&client).await);
    let tokens_key = kid_in(&a.api.keys(&token_a).await, "current");
    for _ in 0..SETUP_ROTATIONS {
        let rotated = a
            .api
            .call("POST", "/api/v2/keys/signing/rotate", &token_a)
            .await;
        assert_eq!(rotated.status, 201, "{}", rotated.body);
    }
    // Revocations aim at previous keys, and at the current and next keys, which the race's
    // rotations may or may not have turned into previous keys by then.
    let targets: Vec<String> = kids_of(&Value::Array(a.api.keys(&token_a).await))
        .into_iter()
        .filter(|kid| *kid != tokens_key)
        .collect();

    let mut rng = rand::thread_rng();
    let mut race = tokio::task::JoinSet::new();
    for i in 0..CONCURRENT_OPERATIONS {
        let (api, token) = if i % 2 == 0 {
            (a.api.clone(), token_a.clone())
        } else {
            (b.api.clone(), token_b.clone())
        };
        match i % 5 {
            0 | 1 => {
                race.spawn(rotate_through(api, token));
            }
            2 | 3 => {
                let kid = targets.choose(&mut rng).unwrap().clone();
                race.spawn(revoke_through(api, token, kid));
            }
            _ => {
                // No HTTP route does rotate-and-revoke; the command line is a third process.
                let deployment = deployment.clone();
                race.spawn(async move {
                    let run = deployment.signet(&["keys", "rotate-and-revoke"]).await;
                    run.assert_clear("rotate-and-revoke");
                    if run.status.success() {
                        Outcome::RotatedAndRevoked
                    } else {
                        Outcome::Refused(run.stderr.trim().to_owned())
                    }
                });
            }
        }
        // A little jitter, so the operations interleave differently on every run.
        if rng.gen_bool(0.2) {
            tokio::task::yield_now().await;
        }
    }
    let (mut rotated, mut rotated_and_revoked) = (0, 0);
    let mut revoked = Vec::new();
    let mut refusals = BTreeMap::<String, usize>::new();
    while let Some(outcome) = race.join_next().await {
        match outcome.unwrap() {
            Outcome::Rotated => rotated += 1,
            Outcome::Revoked(kid) => revoked.push(kid),
            Outcome::RotatedAndRevoked => rotated_and_revoked += 1,
            Outcome::Refused(reason) => *refusals.entry(reason).or_default() += 1,
        }
    }
    eprintln!(
        "{CONCURRENT_OPERATIONS} concurrent operations over two servers and the CLI: \
         {rotated} rotations, {} revocations, {rotated_and_revoked} rotate-and-revokes succeeded; \
         refused: {refusals:?}",
        revoked.len()
    );
    assert!(rotated > 0, "no rotation succeeded");

    let store = deployment.store().await;
    let stored = checked_keys(&store, &deployment.master_key()).await;
    let rotations = SETUP_ROTATIONS + rotated + rotated_and_revoked;
    assert_eq!(
        stored.keys.len(),
        2 + rotations,
        "every rotation created exactly one key, and nothing else did"
    );
    let revoked_in_store = stored_kids(&stored, KeyState::Revoked);
    assert_eq!(revoked_in_store.len(), revoked.len() + rotated_and_revoked);
    assert!(revoked.iter().all(|kid| revoked_in_store.contains(kid)));

    let events = store
        .audit_events(&AuditQuery::newest(usize::MAX))
        .await
        .unwrap();
    let mut actions = BTreeMap::<&str, usize>::new();
    for event in &events {
        *actions.entry(event.action.as_str()).or_default() += 1;
    }
    // The Management API client the test made is audited too (SPEC §14).
    let expected = BTreeMap::from([
        ("provision", 1),
        ("create_client", 1),
        ("rotate", SETUP_ROTATIONS + rotated),
        ("revoke", revoked.len()),
        ("rotate_and_revoke", rotated_and_revoked),
    ]);
    let expected: BTreeMap<&str, usize> = expected.into_iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(
        actions, expected,
        "one audit event per successful operation"
    );
    let mut audited_revocations: Vec<_> = events
        .iter()
        .filter(|event| event.action == "revoke")
        .map(|event| event.kid.clone().unwrap())
        .collect();
    audited_revocations.sort();
    revoked.sort();
    assert_eq!(audited_revocations, revoked);

    let expected_jwks = valid_kids(&stored);
    let since = Instant::now();
    delay_until("both servers serving the final JWKS", since, async || {
        a.api.jwks_kids().await == expected_jwks && b.api.jwks_kids().await == expected_jwks
    })
    .await;
    eprintln!(
        "the two-server concurrency test took {} ms",
        started.elapsed().as_millis()
    );
}
