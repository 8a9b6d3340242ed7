//! Scheduled rotation (SPEC §12): the policy API, the publication window, the adaptive JWKS
//! cache, a year of daily rotations in simulated time, and exactly-once across processes.

use std::time::Duration;

use app::keys::KeyState;
use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use signet::{
    services::{clock::Clock, tokens},
    store::{AuditLog, AuditQuery},
};

use crate::{
    process::{ALL_SCOPES, Deployment},
    support::{TENANT, World, call, get, send, settings, world_with},
};

const POLICY: &str = "/api/v2/keys/signing/policy";

async fn patch(world: &World, token: &str, body: &str) -> crate::support::Reply {
    let request = Request::patch(POLICY)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(&world.router, request).await
}

/// A world whose publication window is `window` seconds.
async fn world_with_window(window: u32) -> World {
    let mut config = settings(100, 1000);
    config.publication_window_secs = window;
    world_with(config).await
}

#[expect(
    clippy::too_many_lines,
    reason = "one story: every refusal and change of the policy"
)]
#[tokio::test]
async fn the_policy_is_off_until_set_and_every_change_is_checked_and_audited() {
    let world = world_with_window(30).await;
    let token = world.token(ALL_SCOPES).await;
    let shown = call(&world.router, "GET", POLICY, &token).await;
    assert_eq!(shown.status, StatusCode::OK);
    let policy = shown.json();
    assert_eq!(policy["rotate_every_seconds"], Value::Null);
    assert_eq!(policy["revoke_previous_after_seconds"], Value::Null);
    assert_eq!(policy["next_rotation_at"], Value::Null);
    assert_eq!(policy["publication_window_seconds"], 30);
    assert_eq!(policy["signing_alg"], "RS256");
    assert_eq!(policy["key_size"], 2048);

    let refused = [
        (r#"{"rotate_every_seconds": 3599}"#, "invalid_policy"),
        (r#"{"rotate_every_seconds": 0}"#, "invalid_policy"),
        (r#"{"revoke_previous_after_seconds": -1}"#, "invalid_policy"),
        (r#"{"revoke_previous_after_seconds": 1.5}"#, "invalid_body"),
        (r#"{"rotate_every_seconds": "30d"}"#, "invalid_body"),
        (r#"{"next_rotation_at": null}"#, "invalid_body"),
        (r#"{"publication_window_seconds": 0}"#, "invalid_body"),
        (r#"{"every": 3600}"#, "invalid_body"),
        (r#"{"signing_alg": "HS256"}"#, "unsupported_algorithm"),
        ("not json", "invalid_body"),
    ];
    for (body, code) in refused {
        let reply = patch(&world, &token, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.json()["errorCode"], code, "{body}: {}", reply.text());
        assert!(!reply.json()["message"].as_str().unwrap().is_empty());
    }
    let events = world
        .store
        .audit_events(&AuditQuery::newest(100))
        .await
        .unwrap();
    assert!(events.iter().all(|e| e.action != "set_rotation_policy"));

    let reader = world.token("read:signing_keys").await;
    let forbidden = patch(&world, &reader, r#"{"rotate_every_seconds": 86400}"#).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    let set = patch(
        &world,
        &token,
        r#"{"rotate_every_seconds": 2592000, "revoke_previous_after_seconds": 86400}"#,
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let policy = set.json();
    assert_eq!(policy["rotate_every_seconds"], 2_592_000);
    assert_eq!(policy["revoke_previous_after_seconds"], 86_400);
    let current_since = world
        .keys
        .published()
        .current()
        .unwrap()
        .record
        .current_since;
    let expected = current_since.unwrap() + TimeDelta::days(30);
    assert_eq!(
        policy["next_rotation_at"],
        signet::services::published::iso(expected)
    );
    // A PATCH changes only what it names.
    let grace_only = patch(&world, &token, r#"{"revoke_previous_after_seconds": null}"#).await;
    assert_eq!(grace_only.json()["rotate_every_seconds"], 2_592_000);
    assert_eq!(
        grace_only.json()["revoke_previous_after_seconds"],
        Value::Null
    );
    let events = world
        .store
        .audit_events(&AuditQuery::newest(100))
        .await
        .unwrap();
    let audited: Vec<_> = events
        .iter()
        .filter(|e| e.action == "set_rotation_policy")
        .collect();
    assert_eq!(audited.len(), 2);
    assert!(
        audited[0].detail.contains("every 2592000 s"),
        "{}",
        audited[0].detail
    );
}

#[tokio::test]
async fn a_manual_rotation_waits_for_the_publication_window_unless_forced() {
    let world = world_with_window(30).await;
    let token = world.token(ALL_SCOPES).await;
    let rotate = "/api/v2/keys/signing/rotate";
    // Provisioned a moment ago: the next key is brand new.
    let refused = call(&world.router, "POST", rotate, &token).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert_eq!(refused.json()["errorCode"], "next_key_too_new");
    let wait: i64 = refused.header("retry-after").parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("force=true")
    );
    let before = world.keys.published().version;

    let bad = call(&world.router, "POST", &format!("{rotate}?force=1"), &token).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(world.keys.published().version, before);

    world.clock.advance(TimeDelta::seconds(wait));
    let rotated = call(&world.router, "POST", rotate, &token).await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.text());
    // The fresh next key is too new again; forcing rotates at once.
    let again = call(&world.router, "POST", rotate, &token).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let forced = call(
        &world.router,
        "POST",
        &format!("{rotate}?force=true"),
        &token,
    )
    .await;
    assert_eq!(forced.status, StatusCode::CREATED, "{}", forced.text());
    // The emergency path (no Management API route: dashboard and CLI) is never held back.
    let actor = signet::domain::Actor::operator(None);
    world
        .keys
        .rotate_and_revoke(&actor, world.clock.now())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_dashboard_asks_a_second_time_before_a_rotation_inside_the_window() {
    use crate::dashboard_actions::{Caller, action};
    let world = world_with_window(30).await;
    let cookie = crate::support::operator_session(&world).await;
    let next = crate::support::kid_in(&world.keys, KeyState::Next);
    let rotate = format!("next_kid={next}");
    let refused = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "rotate_signing_key",
        &rotate,
    )
    .await;
    assert_eq!(refused.status, 409, "{}", refused.text());
    assert!(
        refused.text().contains("NextKeyTooNew"),
        "{}",
        refused.text()
    );
    // Without JavaScript the refusal comes back in the query, with the wait.
    let plain = action(
        &world,
        Some(&cookie),
        Caller::PlainForm,
        "rotate_signing_key",
        &rotate,
    )
    .await;
    assert!(
        plain
            .header("location")
            .contains("failed=next_key_too_new&seconds=")
    );
    let page = crate::support::get_with_cookie(
        &world.router,
        "/tenant/signing_keys?confirm=rotate",
        &cookie,
    )
    .await;
    assert!(
        page.text().contains("Rotate anyway"),
        "the dialog asks a second time"
    );
    assert!(page.text().contains(r#"name="force" value="true""#));
    let forced = format!("{rotate}&force=true");
    let done = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "rotate_signing_key",
        &forced,
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["kid"], next.as_str());
}

#[tokio::test]
async fn the_dashboard_saves_a_schedule_and_shows_what_it_will_do() {
    use crate::dashboard_actions::{Caller, action};
    let world = world_with_window(0).await;
    let cookie = crate::support::operator_session(&world).await;
    let actor = signet::domain::Actor::operator(None);
    world.keys.rotate(&actor, world.clock.now()).await.unwrap();
    let schedule = "rotate_every=30&rotate_unit=minutes&revoke_after=1&revoke_unit=off";
    let refused = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "set_rotation_schedule",
        schedule,
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(world.keys.published().policy.is_off());
    let schedule = "rotate_every=7&rotate_unit=days&revoke_after=12&revoke_unit=hours";
    let saved = action(
        &world,
        Some(&cookie),
        Caller::PlainForm,
        "set_rotation_schedule",
        schedule,
    )
    .await;
    assert!(
        saved.header("location").ends_with("?done=schedule"),
        "{}",
        saved.header("location")
    );
    let policy = world.keys.published().policy;
    assert_eq!(policy.rotate_every_seconds, Some(7 * 86_400));
    assert_eq!(policy.revoke_previous_after_seconds, Some(12 * 3_600));
    let events = world
        .store
        .audit_events(&AuditQuery::newest(1))
        .await
        .unwrap();
    assert_eq!(
        (events[0].action.as_str(), events[0].actor.as_str()),
        ("set_rotation_policy", "operator")
    );
    let page =
        crate::support::get_with_cookie(&world.router, "/tenant/signing_keys", &cookie).await;
    assert!(
        page.text().contains("Every 7 days."),
        "the card says what the schedule does"
    );
    assert!(page.text().contains("Next automatic rotation"));
    assert!(
        page.text().contains("Will be revoked automatically on"),
        "the previous key says when"
    );
}

#[tokio::test]
async fn the_jwks_is_never_cached_past_a_scheduled_change() {
    let world = world_with_window(0).await;
    let token = world.token(ALL_SCOPES).await;
    let set = patch(&world, &token, r#"{"rotate_every_seconds": 3600}"#).await;
    assert_eq!(set.status, StatusCode::OK);
    let since = world
        .keys
        .published()
        .current()
        .unwrap()
        .record
        .current_since
        .unwrap();
    let cache_control = |reply: &crate::support::Reply| reply.header("cache-control").to_owned();

    world.schedule.tick(world.clock.now()).await.unwrap();
    let far = get(&world.router, "/.well-known/jwks.json").await;
    assert!(cache_control(&far).contains("max-age=15, stale-while-revalidate=15"));

    // Twenty seconds before the rotation: the two lifetimes together end at it, at the latest
    // (whole seconds, rounded towards the change).
    let lifetimes = |reply: &crate::support::Reply| -> (i64, i64) {
        let header = cache_control(reply);
        let number = |name: &str| {
            let after = header.split(&format!("{name}=")).nth(1).unwrap();
            after.split(',').next().unwrap().trim().parse().unwrap()
        };
        (number("max-age"), number("stale-while-revalidate"))
    };
    world.clock.set(since + TimeDelta::seconds(3600 - 20));
    world.schedule.tick(world.clock.now()).await.unwrap();
    let near = get(&world.router, "/.well-known/jwks.json").await;
    let (age, stale) = lifetimes(&near);
    assert!(
        age == 15 && (4..=5).contains(&stale),
        "{}",
        cache_control(&near)
    );
    world.clock.set(since + TimeDelta::seconds(3600 - 4));
    let nearer = get(&world.router, "/.well-known/jwks.json").await;
    let (age, stale) = lifetimes(&nearer);
    assert!(
        (3..=4).contains(&age) && stale == 0,
        "{}",
        cache_control(&nearer)
    );
    let etag = nearer.header("etag").to_owned();
    let request = Request::get("/.well-known/jwks.json")
        .header("if-none-match", &etag)
        .body(Body::empty())
        .unwrap();
    let not_modified = send(&world.router, request).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert_eq!(lifetimes(&not_modified).0, age);

    // The rotation happens, and the next one is an hour away again.
    world.clock.set(since + TimeDelta::seconds(3600));
    let ticked = world.schedule.tick(world.clock.now()).await.unwrap();
    assert!(ticked.rotated_to.is_some());
    let after = get(&world.router, "/.well-known/jwks.json").await;
    assert!(cache_control(&after).contains("max-age=15, stale-while-revalidate=15"));
    assert_ne!(after.header("etag"), etag);
}

/// Every live token verifies against the published keys; no revoked key is published; one
/// current and one next key.
fn check_invariants(world: &World, live: &[(String, i64)], now: DateTime<Utc>) {
    let published = world.keys.published();
    for state in [KeyState::Current, KeyState::Next] {
        let count = published
            .keys
            .iter()
            .filter(|k| k.record.state == state)
            .count();
        assert_eq!(count, 1, "{state} keys at {now}");
    }
    let jwks: Value = serde_json::from_slice(&published.jwks()).unwrap();
    for jwk in jwks["keys"].as_array().unwrap() {
        let kid = jwk["kid"].as_str().unwrap();
        let key = published.find(kid).unwrap();
        assert_ne!(
            key.record.state,
            KeyState::Revoked,
            "{kid} in the JWKS at {now}"
        );
    }
    for (token, exp) in live {
        assert!(*exp > now.timestamp());
        tokens::verify(&published.verifiers, TENANT, token, now)
            .unwrap_or_else(|e| panic!("a live token stopped verifying at {now}: {e}"));
    }
}

#[tokio::test]
async fn a_year_of_daily_rotations_never_breaks_a_live_token() {
    let world = world_with_window(30).await;
    let token = world.token(ALL_SCOPES).await;
    let set = patch(
        &world,
        &token,
        r#"{"rotate_every_seconds": 86400, "revoke_previous_after_seconds": 3600}"#,
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let scopes = vec!["read:signing_keys".to_owned()];
    let lifetime = Duration::from_secs(8 * 3600);
    let mut live: Vec<(String, i64)> = Vec::new();
    let (mut rotations, mut revocations) = (0, 0);
    // Every three hours for a year: a token valid for eight hours, then the schedule's tick.
    for _ in 0..(365 * 8) {
        world.clock.advance(TimeDelta::hours(3));
        let now = world.clock.now();
        live.retain(|(_, exp)| *exp > now.timestamp());
        let (jwt, claims) = world
            .signing
            .issue_access_token("year-client", &scopes, lifetime, now)
            .await
            .unwrap();
        live.push((jwt, claims.exp));
        let ticked = world.schedule.tick(now).await.unwrap();
        rotations += usize::from(ticked.rotated_to.is_some());
        revocations += ticked.revoked.len();
        world.signing.flush().await.unwrap();
        check_invariants(&world, &live, now);
    }
    assert!((364..=366).contains(&rotations), "{rotations} rotations");
    assert!(revocations >= rotations - 1, "{revocations} revocations");
    let events = world
        .store
        .audit_events(&AuditQuery::newest(10_000))
        .await
        .unwrap();
    let by_schedule = events
        .iter()
        .filter(|e| e.actor == "schedule" && e.action == "rotate")
        .count();
    assert_eq!(by_schedule, rotations);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set SIGNET_TEST_DATABASE_URL"]
async fn postgres_two_servers_rotate_on_schedule_exactly_once_even_when_one_is_killed() {
    let deployment = Deployment::postgres("schedule_exactly_once").await;
    deployment.advance_clock(0);
    deployment
        .signet(&["keys", "list"])
        .await
        .assert_clear("provision");
    let set = deployment
        .signet(&[
            "keys",
            "policy",
            "set",
            "--rotate-every",
            "1h",
            "--revoke-previous-after",
            "0",
        ])
        .await;
    assert!(set.status.success(), "{}", set.stderr);
    let (a, b) = (
        deployment.start_server().await,
        deployment.start_server().await,
    );
    let mut a = Some(a);
    for period in 1..=3 {
        deployment.advance_clock(3_600);
        if period == 2 {
            // SIGKILL at the moment the rotation is due; the other server makes it.
            a.take().unwrap().kill();
        }
        wait_for_scheduled_rotations(&deployment, period).await;
        if period == 2 {
            a = Some(deployment.start_server().await);
        }
    }
    let a = a.unwrap();
    // Both serve the same key set, and the schedule revoked each retired key once.
    // (Both read afresh: the schedule may still be revoking a retired key.)
    wait_until(|| async { a.api.jwks_kids().await == b.api.jwks_kids().await }).await;
    let events = scheduled_events(&deployment).await;
    assert_eq!(events.iter().filter(|e| e.0 == "rotate").count(), 3);
    let mut revoked: Vec<_> = events
        .iter()
        .filter(|e| e.0 == "revoke")
        .map(|e| &e.1)
        .collect();
    let count = revoked.len();
    revoked.dedup();
    assert_eq!(revoked.len(), count, "a key revoked twice: {events:?}");
}

#[tokio::test]
async fn a_rotation_due_while_signet_was_down_happens_once_at_the_next_start() {
    let deployment = Deployment::sqlite();
    deployment.advance_clock(0);
    deployment
        .signet(&["keys", "list"])
        .await
        .assert_clear("provision");
    let set = deployment
        .signet(&["keys", "policy", "set", "--rotate-every", "1h"])
        .await;
    assert!(set.status.success(), "{}", set.stderr);
    let shown: Value =
        serde_json::from_str(&deployment.signet(&["keys", "policy", "show"]).await.stdout).unwrap();
    assert_eq!(shown["rotate_every_seconds"], 3600);
    assert!(shown["next_rotation_at"].is_string());
    let listed = deployment.signet(&["keys", "list"]).await.stdout;
    let next = shown["next_rotation_at"].as_str().unwrap();
    assert!(
        listed.contains(&format!(
            "schedule: rotate every 1 hour; next rotation {next}"
        )),
        "{listed}"
    );
    // Three periods pass with no server running: one rotation, not three.
    deployment.advance_clock(3 * 3_600 + 60);
    let server = deployment.start_server().await;
    wait_for_scheduled_rotations(&deployment, 1).await;
    // Current, next and one previous key, once the server has published its own rotation.
    wait_until(|| async { server.api.jwks_kids().await.len() == 3 }).await;
    assert_eq!(scheduled_events(&deployment).await.len(), 1);
}

/// The audit events the schedule made, oldest first: (action, kid).
async fn scheduled_events(deployment: &Deployment) -> Vec<(String, String)> {
    let store = deployment.store().await;
    let mut events: Vec<_> = store
        .audit_events(&AuditQuery::newest(1_000))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.actor == "schedule")
        .map(|e| (e.action, e.kid.unwrap_or_default()))
        .collect();
    events.reverse();
    events
}

async fn wait_for_scheduled_rotations(deployment: &Deployment, count: usize) {
    wait_until(|| async {
        let rotations = scheduled_events(deployment)
            .await
            .iter()
            .filter(|e| e.0 == "rotate")
            .count();
        assert!(
            rotations <= count,
            "{rotations} scheduled rotations, expected {count}"
        );
        rotations == count
    })
    .await;
}

/// Polls `condition` until it holds (a minute at most): the servers tick every second.
async fn wait_until<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
