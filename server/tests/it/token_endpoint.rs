//! `POST /oauth/token`: the client-credentials grant and its RFC 6749 errors.

use axum::{body::Body, http::Request};
use base64::{Engine, engine::general_purpose::STANDARD};

use crate::support::{TENANT, post_form, send, world};

const ALL: &str = "read:signing_keys create:signing_keys update:signing_keys";

fn decode_claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn decode_header(token: &str) -> serde_json::Value {
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_client_gets_an_rs256_token_signed_by_the_current_key() {
    let world = world().await;
    let (id, secret) = world.client(ALL).await;
    let reply = post_form(
        &world.router,
        "/oauth/token",
        &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&audience=https://{TENANT}/api/v2/"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), "no-store");
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert_eq!(body["scope"], ALL);

    let token = body["access_token"].as_str().unwrap();
    let header = decode_header(token);
    assert_eq!(header["alg"], "RS256");
    let current = world.keys.published().current().unwrap().record.kid.clone();
    assert_eq!(header["kid"], current);
    let claims = decode_claims(token);
    assert_eq!(claims["iss"], format!("https://{TENANT}/"));
    assert_eq!(claims["sub"], format!("{id}@clients"));
    assert_eq!(claims["aud"], format!("https://{TENANT}/api/v2/"));
    assert_eq!(claims["gty"], "client-credentials");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        86_400
    );
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
}

#[tokio::test]
async fn json_bodies_and_http_basic_work_too() {
    let world = world().await;
    let (id, secret) = world.client("read:signing_keys").await;
    let json = Request::post("/oauth/token")
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret})
                .to_string(),
        ))
        .unwrap();
    assert_eq!(send(&world.router, json).await.status, 200);

    let basic = Request::post("/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        )
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    let reply = send(&world.router, basic).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn requested_scopes_narrow_the_grant_and_cannot_widen_it() {
    let world = world().await;
    let (id, secret) = world.client("read:signing_keys").await;
    let narrowed = post_form(
        &world.router,
        "/oauth/token",
        &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=read:signing_keys"),
    )
    .await;
    assert_eq!(narrowed.json()["scope"], "read:signing_keys");
    let widened = post_form(
        &world.router,
        "/oauth/token",
        &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=update:signing_keys"),
    )
    .await;
    assert_eq!(widened.status, 400);
    assert_eq!(widened.json()["error"], "invalid_scope");
}

#[tokio::test]
async fn bad_requests_get_rfc6749_errors() {
    let world = world().await;
    let (id, secret) = world.client("read:signing_keys").await;
    let cases = [
        (
            format!("grant_type=client_credentials&client_id={id}&client_secret=wrong"),
            401,
            "invalid_client",
        ),
        (
            format!("grant_type=client_credentials&client_id=nobody&client_secret={secret}"),
            401,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials".to_owned(),
            401,
            "invalid_client",
        ),
        (
            format!("grant_type=password&client_id={id}&client_secret={secret}"),
            400,
            "unsupported_grant_type",
        ),
        (
            format!("client_id={id}&client_secret={secret}"),
            400,
            "invalid_request",
        ),
        (
            format!(
                "grant_type=client_credentials&grant_type=client_credentials&client_id={id}&client_secret={secret}"
            ),
            400,
            "invalid_request",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id={id}&client_secret={secret}&audience=https://other/api/v2/"
            ),
            403,
            "access_denied",
        ),
        ("%%%".to_owned(), 400, "invalid_request"),
    ];
    for (body, status, error) in cases {
        let reply = post_form(&world.router, "/oauth/token", &body).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        assert_eq!(reply.json()["error"], error, "{body}");
        assert!(reply.json()["error_description"].is_string());
        assert!(!reply.text().contains(&secret));
    }
    let wrong_type = Request::post("/oauth/token")
        .header("content-type", "text/plain")
        .body(Body::from("grant_type=client_credentials"))
        .unwrap();
    assert_eq!(
        send(&world.router, wrong_type).await.json()["error"],
        "invalid_request"
    );
    let get = Request::get("/oauth/token").body(Body::empty()).unwrap();
    assert_eq!(send(&world.router, get).await.status, 405);
    let huge = Request::post("/oauth/token")
        .header("content-type", "application/json")
        .body(Body::from(vec![b' '; 100_000]))
        .unwrap();
    assert_eq!(send(&world.router, huge).await.status, 413);
}
