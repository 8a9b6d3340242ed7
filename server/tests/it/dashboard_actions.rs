//! The dashboard's actions: rotate, rotate-and-revoke and revoke through the server functions
//! (as the hydrated page calls them, and as plain form posts), the words for every refusal,
//! certificate downloads, and the live stream of key events.

use std::time::Duration;

use axum::{body::Body, http::Request};
use http_body_util::BodyExt;
use signet::{
    domain::Actor,
    store::{AuditLog, AuditQuery},
};
use tower::ServiceExt;

use crate::support::{
    Reply, World, actor, get_with_cookie, operator_session, send, settings, world, world_with,
};

/// How the call is made: by the hydrated page (wants data) or by a plain form post (wants a page).
#[derive(Clone, Copy)]
pub enum Caller {
    Page,
    PlainForm,
}

pub async fn action(
    world: &World,
    cookie: Option<&str>,
    caller: Caller,
    path: &str,
    body: &str,
) -> Reply {
    let mut request = Request::post(format!("/_signet/{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("referer", "http://signet.test/tenant/signing_keys");
    request = match caller {
        Caller::Page => request.header("accept", "application/json"),
        Caller::PlainForm => request.header("accept", "text/html,application/xhtml+xml"),
    };
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    send(
        &world.router,
        request.body(Body::from(body.to_owned())).unwrap(),
    )
    .await
}

fn kid_in(world: &World, state: &str) -> String {
    world
        .keys
        .published()
        .keys
        .iter()
        .find(|key| key.record.state.as_str() == state)
        .map(|key| key.record.kid.clone())
        .unwrap()
}

fn kids(world: &World) -> Vec<(String, String)> {
    world
        .keys
        .published()
        .keys
        .iter()
        .map(|key| (key.record.kid.clone(), key.record.state.to_string()))
        .collect()
}

#[tokio::test]
async fn rotating_from_the_page_moves_the_keys_and_is_audited_as_the_operator() {
    let world = world().await;
    let cookie = operator_session(&world).await;
    let (current, next) = (kid_in(&world, "current"), kid_in(&world, "next"));

    let reply = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "rotate_signing_key",
        &format!("next_kid={next}"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["action"], "rotate");
    assert_eq!(reply.json()["kid"], next.as_str());

    assert_eq!(kid_in(&world, "current"), next);
    assert_eq!(kid_in(&world, "previous"), current);
    let events = world
        .store
        .audit_events(&AuditQuery::newest(1))
        .await
        .unwrap();
    assert_eq!(events[0].actor, "operator");
    assert_eq!(events[0].action, "rotate");
}

#[tokio::test]
async fn a_confirmation_of_keys_that_changed_meanwhile_changes_nothing() {
    let world = world().await;
    let cookie = operator_session(&world).await;
    let stale_next = kid_in(&world, "next");
    // Someone else rotates while the dialog is open.
    world
        .keys
        .rotate(&actor(), crate::support::now())
        .await
        .unwrap();
    let before = kids(&world);

    let reply = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "rotate_signing_key",
        &format!("next_kid={stale_next}"),
    )
    .await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert_eq!(reply.json(), serde_json::json!("KeysChanged"));

    let stale_current = before
        .iter()
        .find(|(_, s)| s == "previous")
        .unwrap()
        .0
        .clone();
    let reply = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "rotate_and_revoke_signing_key",
        &format!("current_kid={stale_current}"),
    )
    .await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert_eq!(kids(&world), before, "nothing changed");
}

#[tokio::test]
async fn rotate_and_revoke_revokes_the_key_the_operator_confirmed() {
    let world = world().await;
    let cookie = operator_session(&world).await;
    let (current, next) = (kid_in(&world, "current"), kid_in(&world, "next"));
    let reply = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "rotate_and_revoke_signing_key",
        &format!("current_kid={current}"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["kid"], next.as_str());
    assert_eq!(reply.json()["revoked"], current.as_str());
    assert_eq!(kid_in(&world, "revoked"), current);
    assert!(!String::from_utf8_lossy(&world.keys.published().jwks()).contains(&current));
}

#[tokio::test]
async fn revoking_without_javascript_redirects_back_with_the_outcome() {
    let world = world().await;
    let cookie = operator_session(&world).await;
    world
        .keys
        .rotate(&actor(), crate::support::now())
        .await
        .unwrap();
    let previous = kid_in(&world, "previous");

    let reply = action(
        &world,
        Some(&cookie),
        Caller::PlainForm,
        "revoke_signing_key",
        &format!("kid={previous}"),
    )
    .await;
    assert_eq!(reply.status, 302, "{}", reply.text());
    let location = reply.header("location").to_owned();
    assert_eq!(
        location,
        format!("/tenant/signing_keys?done=revoke&kid={previous}")
    );
    assert_eq!(kid_in(&world, "revoked"), previous);

    let shown = get_with_cookie(&world.router, &location, &cookie).await;
    assert!(
        shown.text().contains(&format!("Key {previous} revoked.")),
        "the page says what happened"
    );

    // The second operator's click on the same key: refused in words, nothing else changes.
    let before = kids(&world);
    let reply = action(
        &world,
        Some(&cookie),
        Caller::PlainForm,
        "revoke_signing_key",
        &format!("kid={previous}"),
    )
    .await;
    assert_eq!(reply.status, 302);
    let location = reply.header("location").to_owned();
    assert!(location.contains("failed=not_revocable"), "{location}");
    let shown = get_with_cookie(&world.router, &location, &cookie).await;
    assert!(
        shown
            .text()
            .contains("was already revoked, perhaps by another operator")
    );
    assert_eq!(kids(&world), before);

    let reply = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "revoke_signing_key",
        &format!("kid={previous}"),
    )
    .await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.json()["NotRevocable"]["state"], "revoked");
}

#[tokio::test]
async fn refusals_are_sentences_with_a_status_never_a_500() {
    let world = world_with(settings(1, 1000)).await;
    let cookie = operator_session(&world).await;

    // Only previously used keys can be revoked.
    let current = kid_in(&world, "current");
    let reply = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "revoke_signing_key",
        &format!("kid={current}"),
    )
    .await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.json()["NotRevocable"]["state"], "current");

    for kid in [
        "does-not-exist",
        "../../etc/passwd",
        "' OR 1=1 --",
        &"k".repeat(10_000),
    ] {
        let body = serde_urlencoded::to_string([("kid", kid)]).unwrap();
        let reply = action(
            &world,
            Some(&cookie),
            Caller::Page,
            "revoke_signing_key",
            &body,
        )
        .await;
        assert_eq!(reply.status, 404, "{kid:.40}: {}", reply.text());
        assert!(reply.json()["KeyNotFound"].is_string());
    }
    let reply = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "rotate_signing_key",
        "",
    )
    .await;
    assert_eq!(reply.status, 400, "a missing field: {}", reply.text());

    // The tenant's limit is one rotation a day here.
    let next = kid_in(&world, "next");
    let reply = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "rotate_signing_key",
        &format!("next_kid={next}"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let next = kid_in(&world, "next");
    let reply = action(
        &world,
        Some(&cookie),
        Caller::Page,
        "rotate_signing_key",
        &format!("next_kid={next}"),
    )
    .await;
    assert_eq!(reply.status, 429, "{}", reply.text());
    assert_eq!(reply.json()["RotationLimit"]["limit"], 1);
    let reply = action(
        &world,
        Some(&cookie),
        Caller::PlainForm,
        "rotate_signing_key",
        &format!("next_kid={next}"),
    )
    .await;
    let shown = get_with_cookie(&world.router, reply.header("location"), &cookie).await;
    assert!(
        shown.text().contains("the tenant&#x27;s limit")
            || shown.text().contains("the tenant's limit")
    );
}

#[tokio::test]
async fn actions_without_a_session_change_nothing_and_say_so() {
    let world = world().await;
    let before = kids(&world);
    let next = kid_in(&world, "next");
    let reply = action(
        &world,
        None,
        Caller::Page,
        "rotate_signing_key",
        &format!("next_kid={next}"),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json(), serde_json::json!("SignedOut"));

    let reply = action(
        &world,
        None,
        Caller::PlainForm,
        "rotate_signing_key",
        &format!("next_kid={next}"),
    )
    .await;
    assert!(reply.status.is_redirection());
    assert_eq!(reply.header("location"), "/login?failed=signed_out");
    let login = send(
        &world.router,
        Request::get("/login?failed=signed_out")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(login.text().contains("Your session has ended"));

    let reply = action(
        &world,
        Some("signet_session=forged"),
        Caller::Page,
        "rotate_signing_key",
        &format!("next_kid={next}"),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(kids(&world), before);
}

#[tokio::test]
async fn certificates_download_for_valid_keys_only() {
    let world = world().await;
    let cookie = operator_session(&world).await;
    let next = kid_in(&world, "next");

    let pem = get_with_cookie(
        &world.router,
        &format!("/tenant/signing_keys/{next}/certificate.pem"),
        &cookie,
    )
    .await;
    assert_eq!(pem.status, 200);
    assert!(pem.header("content-disposition").starts_with("attachment;"));
    assert!(pem.text().starts_with("-----BEGIN CERTIFICATE-----\r\n"));
    let cer = get_with_cookie(
        &world.router,
        &format!("/tenant/signing_keys/{next}/certificate.cer"),
        &cookie,
    )
    .await;
    assert_eq!(cer.body[0], 0x30, "DER starts with a SEQUENCE");
    let p7b = get_with_cookie(
        &world.router,
        &format!("/tenant/signing_keys/{next}/certificate.p7b"),
        &cookie,
    )
    .await;
    assert!(p7b.text().starts_with("-----BEGIN PKCS7-----"));

    assert_eq!(
        get_with_cookie(
            &world.router,
            &format!("/tenant/signing_keys/{next}/key.pem"),
            &cookie
        )
        .await
        .status,
        404
    );
    assert_eq!(
        get_with_cookie(
            &world.router,
            "/tenant/signing_keys/nope/certificate.pem",
            &cookie
        )
        .await
        .status,
        404
    );

    world
        .keys
        .rotate_and_revoke(&actor(), crate::support::now())
        .await
        .unwrap();
    let revoked = kid_in(&world, "revoked");
    let gone = get_with_cookie(
        &world.router,
        &format!("/tenant/signing_keys/{revoked}/certificate.pem"),
        &cookie,
    )
    .await;
    assert_eq!(gone.status, 404, "a revoked certificate is not offered");

    let anonymous = send(
        &world.router,
        Request::get(format!("/tenant/signing_keys/{next}/certificate.pem"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(anonymous.header("location"), "/login");
}

/// Reads the stream until a `keys` event arrives; its data.
async fn next_version(body: &mut Body) -> i64 {
    let mut seen = String::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event within five seconds")
            .expect("the stream is open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
        if let Some(event) = seen.split("\n\n").find(|e| e.contains("event: keys")) {
            let data = event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap();
            return data.parse().unwrap();
        }
    }
}

#[tokio::test]
async fn the_event_stream_announces_every_change() {
    let world = world().await;
    let cookie = operator_session(&world).await;
    let request = Request::get("/_signet/events")
        .header("cookie", &cookie)
        .header("accept", "text/event-stream")
        .body(Body::empty())
        .unwrap();
    let response = world.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();

    let first = next_version(&mut body).await;
    assert_eq!(
        first,
        world.keys.published().version,
        "the version on connect"
    );
    let cli = Actor {
        name: "cli:test".into(),
        remote_addr: None,
        rate_limited: false,
    };
    world
        .keys
        .rotate(&cli, crate::support::now())
        .await
        .unwrap();
    let second = next_version(&mut body).await;
    assert!(second > first);
    assert_eq!(second, world.keys.published().version);

    let anonymous = send(
        &world.router,
        Request::get("/_signet/events").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, 401, "the stream needs a session");
}
