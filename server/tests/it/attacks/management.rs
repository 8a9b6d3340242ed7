//! The Management API under hostile requests: wrong methods, hostile kids, oversized and
//! mistyped bodies, and a flood from one client.

use std::net::SocketAddr;

use axum::{body::Body, extract::ConnectInfo, http::Request};
use chrono::Timelike;
use signet::services::clock::Clock;

use super::{ALL, assert_auth0_error, assert_nothing_leaked, key_snapshot, kid_in};
use crate::support::{Reply, World, call, get, send, settings, world, world_with};

const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];

async fn call_with_body(
    world: &World,
    method: &str,
    uri: &str,
    token: &str,
    content_type: Option<&str>,
    body: Body,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    send(&world.router, request.body(body).unwrap()).await
}

#[tokio::test]
async fn every_route_refuses_every_other_method_with_405_in_auth0_shape() {
    let world = world().await;
    let token = world.token(ALL).await;
    let (current, next) = (kid_in(&world, "Current"), kid_in(&world, "Next"));
    let before = key_snapshot(&world);
    let routes = [
        ("/api/v2/keys/signing".to_owned(), "GET", "GET,HEAD"),
        ("/api/v2/keys/signing/rotate".to_owned(), "POST", "POST"),
        (format!("/api/v2/keys/signing/{next}"), "GET", "GET,HEAD"),
        (
            format!("/api/v2/keys/signing/{current}/revoke"),
            "PUT",
            "PUT",
        ),
    ];
    for (uri, allowed, allow_header) in &routes {
        for method in METHODS.iter().chain(&["CONNECT", "PROPFIND"]) {
            if method == allowed || (*allowed == "GET" && *method == "HEAD") {
                continue;
            }
            let reply = call(&world.router, method, uri, &token).await;
            assert_eq!(reply.status, 405, "{method} {uri}: {}", reply.text());
            assert_eq!(reply.header("allow"), *allow_header, "{method} {uri}");
            if *method != "HEAD" {
                assert_auth0_error(
                    &reply,
                    405,
                    "method_not_allowed",
                    Some("Method Not Allowed"),
                );
            }
            assert_nothing_leaked(&reply, &[]);
        }
    }
    assert_eq!(key_snapshot(&world), before, "no method slipped through");
}

/// Kids reach the store only after validation; anything but 1–64 URL-safe characters is a
/// 400 `invalid_uri`, on both routes that take one.
#[tokio::test]
async fn malformed_kids_are_400_invalid_uri_and_touch_nothing() {
    let world = world().await;
    let token = world.token(ALL).await;
    let before = key_snapshot(&world);
    let long = "a".repeat(1000);
    let kids = [
        "..",
        ".",
        "%2e%2e",
        "%2E%2E%2F%2E%2E%2Fdata%2Fmaster.key",
        "%00",
        "abc%00def",
        "%ZZ",
        "%",
        "%E2%80%AE",
        "%C0%AE%C0%AE",
        "%0D%0ASet-Cookie:%20x=1",
        "a%2Fb",
        "*",
        "kid;DROP%20TABLE%20signing_keys",
        &long,
        &"b".repeat(65),
    ];
    for kid in kids {
        for (method, uri) in [
            ("GET", format!("/api/v2/keys/signing/{kid}")),
            ("PUT", format!("/api/v2/keys/signing/{kid}/revoke")),
        ] {
            let reply = call(&world.router, method, &uri, &token).await;
            assert_auth0_error(
                &reply,
                400,
                "invalid_uri",
                Some(
                    "Path validation error: 'String does not match pattern ^[A-Za-z0-9_-]+$' on property kid (The key id of the signing key)",
                ),
            );
            assert_nothing_leaked(&reply, &[]);
        }
    }
    // At the limits: 64 valid characters is a well-formed kid that does not exist.
    let reply = call(
        &world.router,
        "GET",
        &format!("/api/v2/keys/signing/{}", "c".repeat(64)),
        &token,
    )
    .await;
    assert_auth0_error(
        &reply,
        404,
        "inexistent_signing_key",
        Some("Signing key not found"),
    );
    for uri in ["/api/v2/keys/signing/", "/api/v2/keys/signing/x/y/z"] {
        let reply = call(&world.router, "GET", uri, &token).await;
        assert_auth0_error(&reply, 404, "not_found", Some("Not Found"));
    }
    // An empty kid is a malformed kid, not a route of its own.
    let reply = call(&world.router, "PUT", "/api/v2/keys/signing//revoke", &token).await;
    assert_auth0_error(&reply, 400, "invalid_uri", None);
    assert_eq!(key_snapshot(&world), before);
}

/// No endpoint takes a body; a large one is refused in Auth0's shape before the token is even
/// verified, whether its size is declared or streamed.
#[tokio::test]
async fn oversized_bodies_are_413_and_rotate_nothing() {
    let world = world().await;
    let token = world.token(ALL).await;
    let previous_candidate = kid_in(&world, "Current");
    let before = key_snapshot(&world);
    let megabyte = || Body::from(vec![b'{'; 1024 * 1024]);
    for (method, uri) in [
        ("POST", "/api/v2/keys/signing/rotate".to_owned()),
        (
            "PUT",
            format!("/api/v2/keys/signing/{previous_candidate}/revoke"),
        ),
        ("GET", "/api/v2/keys/signing".to_owned()),
    ] {
        let reply = call_with_body(
            &world,
            method,
            &uri,
            &token,
            Some("application/json"),
            megabyte(),
        )
        .await;
        assert_auth0_error(&reply, 413, "payload_too_large", None);
        // Declared too large: refused unread.
        let declared = Request::builder()
            .method(method)
            .uri(&uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("content-length", "1000000000")
            .body(Body::from("{}"))
            .unwrap();
        assert_auth0_error(
            &send(&world.router, declared).await,
            413,
            "payload_too_large",
            None,
        );
        // Without a token too: the size is checked first.
        let anonymous = Request::builder()
            .method(method)
            .uri(&uri)
            .body(megabyte())
            .unwrap();
        assert_auth0_error(
            &send(&world.router, anonymous).await,
            413,
            "payload_too_large",
            None,
        );
    }
    assert_eq!(key_snapshot(&world), before);
    // What Auth0's SDKs send still works.
    let reply = call_with_body(
        &world,
        "POST",
        "/api/v2/keys/signing/rotate",
        &token,
        Some("application/json"),
        Body::from("{}"),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

/// Bodies are ignored whatever their type: a body cannot pick another kid or set a state.
#[tokio::test]
async fn bodies_of_any_content_type_cannot_steer_an_operation() {
    let world = world().await;
    let token = world.token(ALL).await;
    let (current, next) = (kid_in(&world, "Current"), kid_in(&world, "Next"));
    let before = key_snapshot(&world);
    let bodies = [
        (
            "application/json",
            format!(r#"{{"kid":"{next}","previous":true}}"#),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("kid={next}&state=previous"),
        ),
        ("application/xml", format!("<revoke kid=\"{next}\"/>")),
        (
            "multipart/form-data; boundary=x",
            "--x\r\n\r\n--x--".to_owned(),
        ),
        ("text/plain; charset=utf-16", "\u{feff}revoke".to_owned()),
        ("application/json", "{\"a\":".repeat(1000)),
    ];
    for (content_type, body) in bodies {
        // Revoking the current key is refused whatever the body says.
        let reply = call_with_body(
            &world,
            "PUT",
            &format!("/api/v2/keys/signing/{current}/revoke"),
            &token,
            Some(content_type),
            Body::from(body.clone()),
        )
        .await;
        assert_auth0_error(&reply, 400, "invalid_key_state", None);
        let listed = call_with_body(
            &world,
            "GET",
            "/api/v2/keys/signing",
            &token,
            Some(content_type),
            Body::from(body),
        )
        .await;
        assert_eq!(listed.status, 200, "{content_type}");
    }
    assert_eq!(key_snapshot(&world), before);
}

/// 1,000 requests at once from one client: the limit holds exactly, every refusal says when to
/// come back, and other clients and the public endpoints are served throughout.
#[tokio::test]
async fn a_flood_from_one_client_is_limited_and_others_are_still_served() {
    const LIMIT: usize = 50;
    let world = world_with(settings(100, LIMIT as u32)).await;
    let flooder = world.token(ALL).await;
    let bystander = world.token(ALL).await;
    // The limit counts per minute: the world's clock stands at the start of one, so the
    // flood cannot straddle two (and no test waits for the wall clock).
    let now = world.clock.now();
    world
        .clock
        .set(now - chrono::TimeDelta::seconds(i64::from(now.second())));
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let router = world.router.clone();
        let flooder = flooder.clone();
        flood.spawn(async move {
            let mut request = Request::get("/api/v2/keys/signing")
                .header("authorization", format!("Bearer {flooder}"))
                .body(Body::empty())
                .unwrap();
            // From many source addresses: the limit is per client, not per address.
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::from((
                    [198, 51, 100, (i % 250) as u8],
                    40_000,
                ))));
            let reply = send(&router, request).await;
            (reply.status.as_u16(), reply)
        });
    }
    let (mut served, mut refused) = (0, 0);
    while let Some(done) = flood.join_next().await {
        let (status, reply) = done.unwrap();
        assert_eq!(reply.header("x-ratelimit-limit"), LIMIT.to_string());
        assert!(reply.header("x-ratelimit-reset").parse::<i64>().unwrap() > 0);
        match status {
            200 => served += 1,
            429 => {
                refused += 1;
                assert_auth0_error(
                    &reply,
                    429,
                    "too_many_requests",
                    Some("Too many requests from this client; slow down"),
                );
                assert_eq!(reply.header("x-ratelimit-remaining"), "0");
            }
            other => panic!("unexpected {other}: {}", reply.text()),
        }
    }
    assert_eq!((served, refused), (LIMIT, 1000 - LIMIT));
    let other = call(&world.router, "GET", "/api/v2/keys/signing", &bystander).await;
    assert_eq!(other.status, 200, "another client is still served");
    assert_eq!(
        get(&world.router, "/.well-known/jwks.json").await.status,
        200
    );
    assert_eq!(get(&world.router, "/healthz").await.status, 200);
}
