//! `POST /oauth/token` under attack: guessed secrets, other grants, widened scopes, brute force.

use std::net::SocketAddr;

use axum::{body::Body, extract::ConnectInfo, http::Request};
use base64::{Engine, engine::general_purpose::STANDARD};

use super::{assert_nothing_leaked, assert_oauth_error, key_snapshot};
use crate::support::{Reply, TENANT, World, post_form, send, world};

async fn token_request(world: &World, body: &str, from: Option<[u8; 4]>) -> Reply {
    let mut request = Request::post("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap();
    if let Some(ip) = from {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 50_000))));
    }
    send(&world.router, request).await
}

fn credentials(id: &str, secret: &str) -> String {
    format!(
        "grant_type=client_credentials&client_id={id}&client_secret={}&audience=https://{TENANT}/api/v2/",
        secret
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    )
}

/// A wrong secret and an unknown client get the very same answer: the endpoint is no oracle
/// for which client ids exist.
#[tokio::test]
async fn near_miss_secrets_and_unknown_clients_get_one_identical_refusal() {
    let world = world().await;
    let (id, secret) = world.client("read:signing_keys").await;
    let mut flipped = secret.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let near_misses = [
        String::new(),
        secret[..secret.len() - 1].to_owned(),
        format!("{secret}x"),
        secret.to_uppercase(),
        flipped,
        format!("{secret}\u{0}"),
        "x".repeat(10_000),
    ];
    let reference = token_request(&world, &credentials("no-such-client", &secret), None).await;
    assert_oauth_error(&reference, 401, "invalid_client");
    for wrong in &near_misses {
        if *wrong == secret {
            continue;
        }
        let reply = token_request(&world, &credentials(&id, wrong), None).await;
        assert_oauth_error(&reply, 401, "invalid_client");
        assert_eq!(reply.body, reference.body, "same words for every failure");
        assert_eq!(reply.header("www-authenticate"), "Basic realm=\"signet\"");
        assert_nothing_leaked(&reply, &[&secret]);
    }
    // The same through HTTP Basic.
    let basic = Request::post("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}x"))),
        )
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    let reply = send(&world.router, basic).await;
    assert_oauth_error(&reply, 401, "invalid_client");
    assert_eq!(reply.body, reference.body);
}

#[tokio::test]
async fn only_the_client_credentials_grant_is_served() {
    let world = world().await;
    let (id, secret) = world.client("read:signing_keys").await;
    for grant in [
        "password",
        "authorization_code",
        "refresh_token",
        "implicit",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "CLIENT_CREDENTIALS",
        "client_credentials%00",
        "",
    ] {
        let body = format!(
            "grant_type={grant}&client_id={id}&client_secret={secret}&username=admin&password=x&refresh_token=x&code=x"
        );
        let reply = post_form(&world.router, "/oauth/token", &body).await;
        assert_oauth_error(&reply, 400, "unsupported_grant_type");
        assert_nothing_leaked(&reply, &[&secret]);
    }
    // A grant_type that is not a string at all.
    for body in [
        serde_json::json!({"grant_type": ["client_credentials"], "client_id": id, "client_secret": secret}),
        serde_json::json!({"grant_type": 1, "client_id": id, "client_secret": secret}),
        serde_json::json!({"grant_type": "client_credentials", "client_id": {"$ne": ""}, "client_secret": secret}),
    ] {
        let request = Request::post("/oauth/token")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let reply = send(&world.router, request).await;
        assert_oauth_error(&reply, 400, "invalid_request");
    }
}

/// A client gets at most what it was granted, however the request spells the scope.
#[tokio::test]
async fn scope_escalation_is_refused_in_every_spelling() {
    let world = world().await;
    let (id, secret) = world.client("read:signing_keys").await;
    let before = key_snapshot(&world);
    for scope in [
        "read:signing_keys update:signing_keys",
        "read:signing_keys\tcreate:signing_keys",
        "read:signing_keys%0Aupdate:signing_keys",
        "read:signing_keys,update:signing_keys",
        "read:signing_keys+create:signing_keys+update:signing_keys",
        "*",
        "update:*",
        "read:signing_keys%00update:signing_keys",
        "openid profile offline_access",
    ] {
        let reply = post_form(
            &world.router,
            "/oauth/token",
            &format!("{}&scope={scope}", credentials(&id, &secret)),
        )
        .await;
        assert_oauth_error(&reply, 400, "invalid_scope");
    }
    // And an audience of another API or tenant gets no token at all.
    for audience in [
        "https://evil.example/api/v2/",
        "https://tenant.signet.test/api/v2",
        "https://tenant.signet.test.evil.example/api/v2/",
    ] {
        let reply = post_form(
            &world.router,
            "/oauth/token",
            &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&audience={audience}"),
        )
        .await;
        assert_oauth_error(&reply, 403, "access_denied");
    }
    assert_eq!(key_snapshot(&world), before);
}

/// Guessing a client's secret from one address stops after ten failures, even for the right
/// secret, while the client keeps working from its own address; and one address guessing many
/// client ids is stopped too.
#[tokio::test]
async fn brute_force_is_throttled_per_client_and_address_and_per_address() {
    let world = world().await;
    let (victim, secret) = world.client("read:signing_keys").await;
    let attacker = Some([203, 0, 113, 66]);
    let owner = Some([192, 0, 2, 10]);
    for guess in 0..10 {
        let reply = token_request(
            &world,
            &credentials(&victim, &format!("guess-{guess}")),
            attacker,
        )
        .await;
        assert_oauth_error(&reply, 401, "invalid_client");
    }
    let throttled = token_request(&world, &credentials(&victim, &secret), attacker).await;
    assert_oauth_error(&throttled, 429, "too_many_attempts");
    let retry_after: u64 = throttled.header("retry-after").parse().unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_nothing_leaked(&throttled, &[&secret]);
    // The attacker could not lock the real client out.
    let owners = token_request(&world, &credentials(&victim, &secret), owner).await;
    assert_eq!(owners.status, 200, "{}", owners.text());

    // Spraying guesses over many client ids from one address.
    let (other, other_secret) = world.client("read:signing_keys").await;
    let sprayer = Some([203, 0, 113, 99]);
    for guess in 0..100 {
        let reply = token_request(
            &world,
            &credentials(&format!("client-{guess}"), "guess"),
            sprayer,
        )
        .await;
        assert_oauth_error(&reply, 401, "invalid_client");
    }
    let reply = token_request(&world, &credentials(&other, &other_secret), sprayer).await;
    assert_oauth_error(&reply, 429, "too_many_attempts");
    let reply = token_request(&world, &credentials(&other, &other_secret), owner).await;
    assert_eq!(reply.status, 200);
}

/// Body-level hostility: too large, or not the format it claims to be.
#[tokio::test]
async fn oversized_and_mistyped_token_requests_are_oauth_errors() {
    let world = world().await;
    let (id, secret) = world.client("read:signing_keys").await;
    let huge = Request::post("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "{}&padding={}",
            credentials(&id, &secret),
            "x".repeat(100_000)
        )))
        .unwrap();
    let reply = send(&world.router, huge).await;
    assert_oauth_error(&reply, 413, "invalid_request");
    assert_nothing_leaked(&reply, &[&secret]);
    for content_type in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded-evil",
        "",
    ] {
        let request = Request::post("/oauth/token")
            .header("content-type", content_type)
            .body(Body::from(credentials(&id, &secret)))
            .unwrap();
        let reply = send(&world.router, request).await;
        assert_oauth_error(&reply, 400, "invalid_request");
    }
    let json_bomb = Request::post("/oauth/token")
        .header("content-type", "application/json")
        .body(Body::from("[".repeat(10_000)))
        .unwrap();
    assert_oauth_error(
        &send(&world.router, json_bomb).await,
        400,
        "invalid_request",
    );
}
