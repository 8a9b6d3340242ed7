//! The signing service (docs/design.md §11; issue 14) through the HTTP API: tokens signed by the
//! current key and verifiable through the JWKS, every rule refused without signing anything,
//! the usage ledger across rotation and time, and clients through the API.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::TimeDelta;
use serde_json::{Value, json};
use signet::services::clock::Clock;

use crate::support::{World, call, get, post_json, world};

const SIGNER: &str = "sign:tokens";
const ADMIN: &str = "read:signing_keys create:signing_keys update:signing_keys create:clients read:clients delete:clients";

/// The header and claims of a compact JWS, after checking its signature against the JWKS.
async fn verified(world: &World, jwt: &str) -> Result<(Value, Value), String> {
    let (message, signature) = jwt.rsplit_once('.').unwrap();
    let (header, claims) = message.split_once('.').unwrap();
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let (header, claims) = (decode(header), decode(claims));
    let jwks = get(&world.router, "/.well-known/jwks.json").await.json();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .ok_or("the kid is not in the JWKS")?;
    let part = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    RsaPublicKeyComponents {
        n: part("n"),
        e: part("e"),
    }
    .verify(
        &RSA_PKCS1_2048_8192_SHA256,
        message.as_bytes(),
        &URL_SAFE_NO_PAD.decode(signature).unwrap(),
    )
    .map_err(|_| "bad signature".to_owned())?;
    Ok((header, claims))
}

fn in_seconds(world: &World, seconds: i64) -> i64 {
    world.clock.now().timestamp() + seconds
}

async fn usage(world: &World, admin: &str, kid: &str) -> Value {
    let reply = call(
        &world.router,
        "GET",
        &format!("/api/v2/keys/signing/{kid}/usage"),
        admin,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

fn current_kid(world: &World) -> String {
    world.keys.published().current().unwrap().record.kid.clone()
}

#[tokio::test]
async fn a_signed_token_verifies_through_the_jwks_with_signets_issuer_and_kid() {
    let world = world().await;
    let token = world.token(SIGNER).await;
    let exp = in_seconds(&world, 600);
    let body = json!({
        "claims": {"sub": "user-1", "aud": "https://app.example", "exp": exp, "email": "a@b.c"},
        "header": {"typ": "JWT", "cty": "x"}
    });
    let reply = post_json(&world.router, "/api/v2/jwt/sign", &token, &body.to_string()).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let signed = reply.json();
    assert_eq!(signed["kid"], current_kid(&world));
    assert_eq!(signed["alg"], "RS256");
    let (header, claims) = verified(&world, signed["jwt"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(header["kid"], signed["kid"]);
    assert_eq!(
        (&header["alg"], &header["cty"]),
        (&json!("RS256"), &json!("x"))
    );
    assert_eq!(claims["iss"], "https://tenant.signet.test/");
    assert_eq!(claims["iat"], world.clock.now().timestamp());
    assert_eq!(
        (&claims["exp"], &claims["email"]),
        (&json!(exp), &json!("a@b.c"))
    );
    let expires_at = chrono::DateTime::from_timestamp(exp, 0).unwrap();
    assert_eq!(
        signed["expires_at"],
        expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
}

#[tokio::test]
async fn every_rule_is_refused_by_name_and_nothing_is_signed() {
    let world = world().await;
    let (token, admin) = (world.token(SIGNER).await, world.token(ADMIN).await);
    let kid = current_kid(&world);
    let before = usage(&world, &admin, &kid).await["tokens_signed"].clone();
    let exp = in_seconds(&world, 60);
    let big = "x".repeat(40 * 1024);
    let cases = [
        (json!({"claims": {"sub": "u"}}).to_string(), "missing_exp"),
        (
            json!({"claims": {"exp": in_seconds(&world, 3601)}}).to_string(),
            "lifetime_too_long",
        ),
        (
            json!({"claims": {"exp": exp, "aud": "https://evil.example"}}).to_string(),
            "audience_not_allowed",
        ),
        (
            json!({"claims": {"exp": exp, "blob": big}}).to_string(),
            "claims_too_large",
        ),
        (json!({"claims": ["exp"]}).to_string(), "claims_not_object"),
        (
            format!(r#"{{"claims": {{"exp": {exp}, "sub": "a", "sub": "b"}}}}"#),
            "duplicate_claim",
        ),
        (
            json!({"claims": {"exp": exp}, "header": {"alg": "none"}}).to_string(),
            "header_not_allowed",
        ),
        (
            json!({"claims": {"exp": exp}, "header": {"jku": "https://evil"}}).to_string(),
            "header_not_allowed",
        ),
        (
            json!({"claims": {"exp": exp, "iss": "https://evil/"}}).to_string(),
            "invalid_issuer",
        ),
        (
            json!({"claims": {"exp": exp, "nbf": in_seconds(&world, -61)}}).to_string(),
            "invalid_nbf",
        ),
        (
            json!({"claims": {"exp": exp, "iat": 1}}).to_string(),
            "iat_not_allowed",
        ),
        ("not json".to_owned(), "invalid_body"),
    ];
    for (body, code) in cases {
        let reply = post_json(&world.router, "/api/v2/jwt/sign", &token, &body).await;
        assert_eq!(reply.status, 400, "{code}: {}", reply.text());
        let refusal = reply.json();
        assert_eq!(refusal["errorCode"], code, "{}", reply.text());
        assert_eq!(refusal["error"], "Bad Request");
        assert!(!refusal["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(usage(&world, &admin, &kid).await["tokens_signed"], before);
    // Without sign:tokens, or without a token at all.
    let reply = post_json(&world.router, "/api/v2/jwt/sign", &admin, "{}").await;
    assert_eq!(
        (reply.status.as_u16(), &reply.json()["errorCode"]),
        (403, &json!("insufficient_scope"))
    );
    let reply = post_json(&world.router, "/api/v2/jwt/sign", "", "{}").await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn a_batch_is_signed_by_one_key_or_refused_whole() {
    let world = world().await;
    let (token, admin) = (world.token(SIGNER).await, world.token(ADMIN).await);
    let exp = in_seconds(&world, 300);
    let item =
        |sub: &str| json!({"claims": {"sub": sub, "aud": ["https://api.example"], "exp": exp}});
    let batch = json!({"tokens": [item("a"), item("b"), item("c")]}).to_string();
    let reply = post_json(&world.router, "/api/v2/jwt/sign-batch", &token, &batch).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let signed = reply.json();
    let tokens = signed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 3);
    for (token, sub) in tokens.iter().zip(["a", "b", "c"]) {
        let (header, claims) = verified(&world, token["jwt"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(
            (&header["kid"], &claims["sub"]),
            (&signed["kid"], &json!(sub))
        );
    }
    let kid = signed["kid"].as_str().unwrap();
    let counted = usage(&world, &admin, kid).await["tokens_signed"]
        .as_u64()
        .unwrap();
    let bad = json!({"tokens": [item("a"), {"claims": {"sub": "no exp"}}]}).to_string();
    let reply = post_json(&world.router, "/api/v2/jwt/sign-batch", &token, &bad).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("tokens[1]: ")
    );
    let too_many = json!({"tokens": vec![item("a"); 101]}).to_string();
    let reply = post_json(&world.router, "/api/v2/jwt/sign-batch", &token, &too_many).await;
    assert_eq!(reply.json()["errorCode"], "invalid_batch_size");
    assert_eq!(usage(&world, &admin, kid).await["tokens_signed"], counted);
}

#[tokio::test]
async fn the_ledger_counts_every_path_and_says_when_a_previous_key_is_safe_to_revoke() {
    let world = world().await;
    // Two access tokens from /oauth/token, signed by the first key.
    let (token, admin) = (world.token(SIGNER).await, world.token(ADMIN).await);
    let first = current_kid(&world);
    let exp = in_seconds(&world, 120);
    let body = json!({"claims": {"sub": "u", "exp": exp}}).to_string();
    assert_eq!(
        post_json(&world.router, "/api/v2/jwt/sign", &token, &body)
            .await
            .status,
        201
    );
    let used = usage(&world, &admin, &first).await;
    assert_eq!(used["tokens_signed"], 3);
    assert_eq!(used["safe_to_revoke"], false);
    assert!(used["first_signed_at"].is_string() && used["last_signed_at"].is_string());

    let rotated = call(&world.router, "POST", "/api/v2/keys/signing/rotate", &admin).await;
    assert_eq!(rotated.status, 201);
    // The access tokens live a day: the ledger's bound is at least their expiry.
    let access_exp = in_seconds(&world, 86_400);
    let used = usage(&world, &admin, &first).await;
    let until = chrono::DateTime::parse_from_rfc3339(used["live_tokens_until"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert!(until >= access_exp, "{used}");
    assert_eq!(used["safe_to_revoke"], false);
    world
        .clock
        .advance(TimeDelta::seconds(until - world.clock.now().timestamp()));
    // The day has passed for the operator's token too.
    let admin = world.token(ADMIN).await;
    let used = usage(&world, &admin, &first).await;
    assert_eq!(used["safe_to_revoke"], true, "{used}");
    // The new current key signed the operator's new token; it is not previous, so not safe.
    let now_current = usage(&world, &admin, &current_kid(&world)).await;
    assert_eq!(
        (
            &now_current["tokens_signed"],
            &now_current["safe_to_revoke"]
        ),
        (&json!(1), &json!(false))
    );
    assert_eq!(
        call(
            &world.router,
            "GET",
            "/api/v2/keys/signing/AAAAAAAAAAAAAAAAAAAAA/usage",
            &admin
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn clients_are_provisioned_through_the_api_and_the_secret_is_shown_once() {
    let world = world().await;
    let admin = world.token(ADMIN).await;
    let body = json!({
        "name": "login service",
        "scopes": ["sign:tokens"],
        "signing_policy": {"audiences": ["https://shop.example"], "max_lifetime_seconds": 900}
    });
    let reply = post_json(&world.router, "/api/v2/clients", &admin, &body.to_string()).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let created = reply.json();
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    assert_eq!(created["signing_policy"]["max_lifetime_seconds"], 900);
    let listed = call(&world.router, "GET", "/api/v2/clients", &admin).await;
    assert_eq!(listed.status, 200);
    assert!(!listed.text().contains(secret));
    assert!(
        listed
            .json()
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == id)
    );
    // Its policy holds: 15 minutes at most, for its one audience.
    let signer = crate::support::post_form(
        &world.router,
        "/oauth/token",
        &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
    )
    .await
    .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let sign = |exp: i64, aud: &str| json!({"claims": {"aud": aud, "exp": exp}}).to_string();
    let too_long = sign(in_seconds(&world, 901), "https://shop.example");
    let reply = post_json(&world.router, "/api/v2/jwt/sign", &signer, &too_long).await;
    assert_eq!(reply.json()["errorCode"], "lifetime_too_long");
    let fine = sign(in_seconds(&world, 900), "https://shop.example");
    assert_eq!(
        post_json(&world.router, "/api/v2/jwt/sign", &signer, &fine)
            .await
            .status,
        201
    );
    // Refusals: a bad policy, an unknown scope, a missing scope.
    let bad = json!({"name": "x", "scopes": ["sign:tokens"], "signing_policy": {"max_lifetime_seconds": 2_592_001}});
    let reply = post_json(&world.router, "/api/v2/clients", &admin, &bad.to_string()).await;
    assert_eq!(reply.json()["errorCode"], "invalid_signing_policy");
    let bad = json!({"name": "x", "scopes": ["root"]});
    assert_eq!(
        post_json(&world.router, "/api/v2/clients", &admin, &bad.to_string())
            .await
            .status,
        400
    );
    assert_eq!(
        post_json(&world.router, "/api/v2/clients", &signer, &body.to_string())
            .await
            .status,
        403
    );
    // Deleted, it signs no more.
    let path = format!("/api/v2/clients/{id}");
    assert_eq!(
        call(&world.router, "DELETE", &path, &admin).await.status,
        204
    );
    assert_eq!(
        call(&world.router, "DELETE", &path, &admin).await.json()["errorCode"],
        "inexistent_client"
    );
    let reply = post_json(&world.router, "/api/v2/jwt/sign", &signer, &fine).await;
    assert_eq!(reply.status, 401, "{}", reply.text());
}
