//! The Auth0-compatible Management API, through the router: happy paths and every refusal.

use axum::{body::Body, http::Request};

use signet::store::{AuditLog, AuditQuery};

use crate::support::{TENANT, World, call, send, settings, world, world_with};

const ALL: &str = "read:signing_keys create:signing_keys update:signing_keys";

fn state_of(key: &serde_json::Value) -> &'static str {
    for state in ["current", "next", "previous", "revoked"] {
        if key[state] == true {
            return state;
        }
    }
    "none"
}

fn kid_in(keys: &serde_json::Value, state: &str) -> String {
    keys.as_array()
        .unwrap()
        .iter()
        .find(|k| k[state] == true)
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn list(world: &World, token: &str) -> serde_json::Value {
    let reply = call(&world.router, "GET", "/api/v2/keys/signing", token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

#[tokio::test]
async fn list_get_rotate_revoke_like_auth0() {
    let world = world().await;
    let token = world.token(ALL).await;

    let keys = list(&world, &token).await;
    assert_eq!(keys.as_array().unwrap().len(), 2);
    for key in keys.as_array().unwrap() {
        for field in ["current", "next", "previous", "revoked"] {
            assert!(key[field].is_boolean(), "{field} always present");
        }
        assert!(
            key["cert"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----\r\n")
        );
        assert!(
            key["pkcs7"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN PKCS7-----")
        );
        assert_eq!(key["thumbprint"].as_str().unwrap().len(), 40);
        assert!(key.get("revoked_at").is_none(), "unset dates are absent");
    }
    let (current, next) = (kid_in(&keys, "current"), kid_in(&keys, "next"));
    let since = keys[0]["current_since"].as_str().unwrap();
    assert!(
        since.ends_with('Z') && since.len() == 24,
        "ISO-8601 with ms: {since}"
    );

    let one = call(
        &world.router,
        "GET",
        &format!("/api/v2/keys/signing/{next}"),
        &token,
    )
    .await;
    assert_eq!(one.status, 200);
    assert_eq!(state_of(&one.json()), "next");

    let rotated = call(&world.router, "POST", "/api/v2/keys/signing/rotate", &token).await;
    assert_eq!(rotated.status, 201, "{}", rotated.text());
    assert_eq!(rotated.json()["kid"], next.as_str());
    assert!(rotated.json()["cert"].is_string());
    assert_eq!(state_of(&rotated.json()), "current");

    let revoked = call(
        &world.router,
        "PUT",
        &format!("/api/v2/keys/signing/{current}/revoke"),
        &token,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(revoked.json()["kid"], current.as_str());
    assert_eq!(state_of(&revoked.json()), "revoked");
    assert!(revoked.json()["revoked_at"].is_string());

    let keys = list(&world, &world.token(ALL).await).await;
    let states: Vec<_> = keys.as_array().unwrap().iter().map(state_of).collect();
    assert_eq!(
        states,
        ["current", "next", "revoked"],
        "valid keys, then revoked keys"
    );
    let gone = call(
        &world.router,
        "GET",
        &format!("/api/v2/keys/signing/{current}"),
        &world.token(ALL).await,
    )
    .await;
    assert_eq!(
        state_of(&gone.json()),
        "revoked",
        "revoked keys can still be read"
    );
}

#[tokio::test]
async fn a_token_of_a_revoked_key_is_refused_on_the_next_request() {
    let world = world().await;
    let old_token = world.token(ALL).await;
    let keys = list(&world, &old_token).await;
    let signer = kid_in(&keys, "current");
    let rotated = call(
        &world.router,
        "POST",
        "/api/v2/keys/signing/rotate",
        &old_token,
    )
    .await;
    assert_eq!(rotated.status, 201);
    // Still valid while its key is previous.
    assert_eq!(
        call(&world.router, "GET", "/api/v2/keys/signing", &old_token)
            .await
            .status,
        200
    );

    let new_token = world.token(ALL).await;
    let revoked = call(
        &world.router,
        "PUT",
        &format!("/api/v2/keys/signing/{signer}/revoke"),
        &new_token,
    )
    .await;
    assert_eq!(revoked.status, 200);
    let refused = call(&world.router, "GET", "/api/v2/keys/signing", &old_token).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["errorCode"], "invalid_token");
    assert!(refused.header("www-authenticate").starts_with("Bearer"));
}

#[tokio::test]
async fn revoking_anything_but_a_previous_key_is_refused_and_changes_nothing() {
    let world = world().await;
    let token = world.token(ALL).await;
    let keys = list(&world, &token).await;
    for state in ["current", "next"] {
        let kid = kid_in(&keys, state);
        let reply = call(
            &world.router,
            "PUT",
            &format!("/api/v2/keys/signing/{kid}/revoke"),
            &token,
        )
        .await;
        assert_eq!(reply.status, 400, "{state}");
        assert_eq!(reply.json()["errorCode"], "invalid_key_state");
        assert_eq!(reply.json()["error"], "Bad Request");
    }
    assert_eq!(list(&world, &token).await, keys);
    let unknown = call(
        &world.router,
        "PUT",
        "/api/v2/keys/signing/aaaaaaaaaaaaaaaaaaaaa/revoke",
        &token,
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.json(),
        serde_json::json!({"statusCode":404,"error":"Not Found","message":"Signing key not found","errorCode":"inexistent_signing_key"})
    );
}

#[tokio::test]
async fn missing_malformed_and_foreign_tokens_are_401() {
    let world = world().await;
    let token = world.token(ALL).await;
    let (header, payload, _) = {
        let mut parts = token.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            (),
        )
    };
    let none_header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"alg":"none","typ":"JWT"}"#,
    );
    let tampered_payload = format!(
        "{header}.{}x.{}",
        payload,
        token.rsplit('.').next().unwrap()
    );
    let cases = [
        None,
        Some("Basic abc".to_owned()),
        Some("Bearer".to_owned()),
        Some("Bearer not-a-jwt".to_owned()),
        Some(format!("Bearer {none_header}.{payload}.")),
        Some(format!("Bearer {tampered_payload}")),
        Some(format!("Bearer {}", "a".repeat(10_000))),
    ];
    for authorization in cases {
        let mut request = Request::get("/api/v2/keys/signing");
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let reply = send(&world.router, request.body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, 401, "{authorization:?}");
        assert_eq!(reply.json()["errorCode"], "invalid_token");
        assert_eq!(reply.json()["statusCode"], 401);
    }
    let duplicated = Request::get("/api/v2/keys/signing")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&world.router, duplicated).await.status, 401);

    // A token from another tenant (wrong iss/aud, unknown kid) is refused too.
    let other = world_with({
        let mut s = settings(100, 1000);
        s.tenant_domain = format!("other.{TENANT}");
        s
    })
    .await;
    let foreign = other.token(ALL).await;
    assert_eq!(
        call(&world.router, "GET", "/api/v2/keys/signing", &foreign)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn missing_scopes_are_403_naming_the_expected_scopes() {
    let world = world().await;
    let read_only = world.token("read:signing_keys").await;
    let reply = call(
        &world.router,
        "POST",
        "/api/v2/keys/signing/rotate",
        &read_only,
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["errorCode"], "insufficient_scope");
    assert_eq!(
        reply.json()["message"],
        "Insufficient scope, expected all of: create:signing_keys,update:signing_keys"
    );
    let update_only = world.token("update:signing_keys").await;
    let reply = call(&world.router, "GET", "/api/v2/keys/signing", &update_only).await;
    assert_eq!(
        reply.json()["message"],
        "Insufficient scope, expected any of: read:signing_keys"
    );
    let reply = call(
        &world.router,
        "POST",
        "/api/v2/keys/signing/rotate",
        &update_only,
    )
    .await;
    assert_eq!(reply.status, 403, "rotation needs create and update");
}

#[tokio::test]
async fn bad_paths_and_methods_are_400_404_405_never_500() {
    let world = world().await;
    let token = world.token(ALL).await;
    let cases = [
        ("GET", "/api/v2/keys/signing/bad%20kid", 400),
        ("GET", "/api/v2/keys/signing/..%2F..%2Fetc", 400),
        ("GET", "/api/v2/keys/signing/%FF%FE", 400),
        ("PUT", "/api/v2/keys/signing/x'%20OR%201=1--/revoke", 400),
        ("GET", "/api/v2/keys/signing/aaaaaaaaaaaaaaaaaaaaa", 404),
        ("GET", "/api/v2/keys/nope", 404),
        ("GET", "/api/v2", 404),
        ("DELETE", "/api/v2/keys/signing", 405),
        ("GET", "/api/v2/keys/signing/rotate", 405),
        ("POST", "/api/v2/keys/signing/abc/revoke", 405),
        ("PATCH", "/api/v2/keys/signing/abc", 405),
    ];
    for (method, uri, status) in cases {
        let reply = call(&world.router, method, uri, &token).await;
        assert_eq!(reply.status, status, "{method} {uri}: {}", reply.text());
        assert_eq!(reply.json()["statusCode"], status);
        assert!(reply.json()["errorCode"].is_string());
    }
}

#[tokio::test]
async fn rotations_are_limited_per_tenant_with_rate_limit_headers() {
    let world = world_with(settings(2, 1000)).await;
    let token = world.token(ALL).await;
    for _ in 0..2 {
        let reply = call(&world.router, "POST", "/api/v2/keys/signing/rotate", &token).await;
        assert_eq!(reply.status, 201);
    }
    let version = world.keys.published().version;
    let refused = call(&world.router, "POST", "/api/v2/keys/signing/rotate", &token).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["errorCode"], "too_many_requests");
    assert_eq!(refused.header("x-ratelimit-limit"), "2");
    assert_eq!(refused.header("x-ratelimit-remaining"), "0");
    let reset: i64 = refused.header("x-ratelimit-reset").parse().unwrap();
    assert!(reset > chrono::Utc::now().timestamp() + 23 * 3600);
    assert_eq!(world.keys.published().version, version, "nothing changed");
}

#[tokio::test]
async fn every_response_carries_the_client_request_limit() {
    let world = world_with(settings(5, 3)).await;
    let token = world.token(ALL).await;
    let first = call(&world.router, "GET", "/api/v2/keys/signing", &token).await;
    assert_eq!(first.header("x-ratelimit-limit"), "3");
    assert_eq!(first.header("x-ratelimit-remaining"), "2");
    call(&world.router, "GET", "/api/v2/keys/signing", &token).await;
    call(&world.router, "GET", "/api/v2/keys/signing", &token).await;
    let refused = call(&world.router, "GET", "/api/v2/keys/signing", &token).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["errorCode"], "too_many_requests");
    assert_eq!(refused.header("x-ratelimit-remaining"), "0");
}

#[tokio::test]
async fn api_changes_are_audited_with_the_client_id() {
    let world = world().await;
    let (id, _) = world.client(ALL).await;
    let token = world.token(ALL).await;
    call(&world.router, "POST", "/api/v2/keys/signing/rotate", &token).await;
    let claims: serde_json::Value = {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap(),
        )
        .unwrap()
    };
    assert_ne!(
        claims["azp"],
        id.as_str(),
        "a different client made the change"
    );
    let store_events = world
        .store
        .audit_events(&AuditQuery::newest(5))
        .await
        .unwrap();
    assert_eq!(store_events[0].action, "rotate");
    assert_eq!(store_events[0].actor, claims["azp"].as_str().unwrap());
}
