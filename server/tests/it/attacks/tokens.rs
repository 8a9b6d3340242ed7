//! Forged, tampered and malformed bearer tokens against the Management API. Every one is a 401
//! `invalid_token` in Auth0's shape, and nothing changes.

use aws_lc_rs::hmac;
use axum::{body::Body, http::Request};
use der::pem::LineEnding;
use signet::domain::material::PrivateKey;

use super::{
    ALL, FIXTURE_A, FIXTURE_C, ForgingKey, assert_invalid_token, assert_nothing_leaked, b64,
    claims, forge, key_snapshot, kid_in, rsa_key,
};
use crate::support::{Reply, World, call, send, world};

const LIST: &str = "/api/v2/keys/signing";
const ROTATE: &str = "/api/v2/keys/signing/rotate";

fn rs256_header(kid: &str) -> String {
    serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": kid}).to_string()
}

/// Tries `token` on a read and on a rotation: both refused with `message`, and no key changed.
async fn assert_refused(world: &World, token: &str, message: &str, what: &str) {
    let before = key_snapshot(world);
    for (method, uri) in [("GET", LIST), ("POST", ROTATE)] {
        let reply = call(&world.router, method, uri, token).await;
        assert_eq!(
            reply.status,
            401,
            "{what}: {method} {uri}: {}",
            reply.text()
        );
        assert_invalid_token(&reply, message);
        assert_nothing_leaked(&reply, &[]);
    }
    assert_eq!(key_snapshot(world), before, "{what} changed the keys");
}

/// The forging helpers make tokens Signet accepts when nothing is wrong with them; so each
/// refusal below is the server's doing, not a broken forgery.
#[tokio::test]
async fn a_token_forged_with_the_current_private_key_and_honest_claims_is_accepted() {
    let world = world().await;
    let current = kid_in(&world, "Current");
    let token = forge(
        &rs256_header(&current),
        &claims(serde_json::json!({})),
        &rsa_key(FIXTURE_A),
    );
    let reply = call(&world.router, "GET", LIST, &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn unsigned_alg_none_tokens_are_refused_in_any_spelling() {
    let world = world().await;
    let current = kid_in(&world, "Current");
    let payload = b64(claims(serde_json::json!({})));
    let real = world.token(ALL).await;
    let real_signature = real.rsplit('.').next().unwrap();
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = b64(serde_json::json!({"alg": alg, "typ": "JWT", "kid": current}).to_string());
        for signature in ["", real_signature] {
            let token = format!("{header}.{payload}.{signature}");
            assert_refused(&world, &token, "Invalid token", &format!("alg {alg:?}")).await;
        }
        // No signature part at all.
        assert_refused(&world, &format!("{header}.{payload}"), "Invalid token", alg).await;
    }
}

/// The classic RS256 → HS256 confusion: HMAC keyed with what the server publishes.
#[tokio::test]
async fn hs256_tokens_keyed_with_the_public_key_are_refused() {
    let world = world().await;
    let current = kid_in(&world, "Current");
    let private = PrivateKey::from_pkcs8_pem(FIXTURE_A).unwrap();
    let spki = private.public_key_info_der().unwrap();
    let public_pem = |ending| der::pem::encode_string("PUBLIC KEY", ending, spki.as_ref()).unwrap();
    let published = world.keys.published();
    let current_key = published.current().unwrap();
    let jwk = serde_json::to_string(&current_key.public.jwk().unwrap()).unwrap();
    let secrets = [
        public_pem(LineEnding::LF),
        public_pem(LineEnding::CRLF),
        current_key.public.cert_pem(),
        jwk,
    ];
    for secret in &secrets {
        for (alg, hash) in [
            ("HS256", hmac::HMAC_SHA256),
            ("HS384", hmac::HMAC_SHA384),
            ("HS512", hmac::HMAC_SHA512),
        ] {
            let header = serde_json::json!({"alg": alg, "typ": "JWT", "kid": current});
            let token = forge(
                &header.to_string(),
                &claims(serde_json::json!({})),
                &ForgingKey::Hmac(Box::new(hmac::Key::new(hash, secret.as_bytes()))),
            );
            assert_refused(&world, &token, "Invalid token", alg).await;
        }
    }
}

#[tokio::test]
async fn rs256_tokens_signed_by_a_key_outside_the_jwks_are_refused() {
    let world = world().await;
    let outsider = rsa_key(FIXTURE_C);
    let payload = claims(serde_json::json!({}));
    // Claiming the current kid, an unknown kid, or no kid at all.
    let headers = [
        rs256_header(&kid_in(&world, "Current")),
        rs256_header(&kid_in(&world, "Next")),
        rs256_header("AAAAAAAAAAAAAAAAAAAAA"),
        serde_json::json!({"alg": "RS256", "typ": "JWT"}).to_string(),
    ];
    for header in headers {
        let token = forge(&header, &payload, &outsider);
        assert_refused(&world, &token, "Invalid token", &header).await;
    }
}

/// The kid is looked up in memory and never reaches a file path or a query; hostile kids are
/// simply unknown keys, even on tokens the current key really signed.
#[tokio::test]
async fn hostile_kids_are_unknown_keys() {
    let world = world().await;
    let key = rsa_key(FIXTURE_A);
    let payload = claims(serde_json::json!({}));
    let kids = [
        serde_json::json!("../../../../etc/passwd"),
        serde_json::json!("..\\..\\data\\master.key"),
        serde_json::json!("x' OR '1'='1"),
        serde_json::json!("'; DROP TABLE signing_keys; --"),
        serde_json::json!("\u{0}"),
        serde_json::json!("a".repeat(10 * 1024)),
        serde_json::json!(1),
        serde_json::json!({"$ne": null}),
        serde_json::json!([kid_in(&world, "Current")]),
        serde_json::Value::Null,
    ];
    for kid in kids {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": kid}).to_string();
        let token = forge(&header, &payload, &key);
        assert_refused(
            &world,
            &token,
            "Invalid token",
            &header[..header.len().min(80)],
        )
        .await;
    }
}

/// Signed by the current key, so only the claims are wrong.
#[tokio::test]
async fn expired_premature_and_misaddressed_tokens_are_refused() {
    let world = world().await;
    let header = rs256_header(&kid_in(&world, "Current"));
    let key = rsa_key(FIXTURE_A);
    let now = chrono::Utc::now().timestamp();
    let cases = [
        (
            serde_json::json!({"exp": now - 120, "iat": now - 3720}),
            "Expired token received for JSON Web Token validation",
        ),
        (serde_json::json!({"nbf": now + 3600}), "Invalid token"),
        (
            serde_json::json!({"iss": "https://evil.example/"}),
            "Invalid token",
        ),
        (
            serde_json::json!({"iss": "https://tenant.signet.test"}),
            "Invalid token",
        ),
        (
            serde_json::json!({"aud": "https://evil.example/api/v2/"}),
            "Invalid token",
        ),
        (
            serde_json::json!({"aud": ["https://evil.example/"]}),
            "Invalid token",
        ),
        (serde_json::json!({"exp": null}), "Invalid token"),
        (serde_json::json!({"exp": "tomorrow"}), "Invalid token"),
        (serde_json::json!({"iss": null}), "Invalid token"),
        (serde_json::json!({"aud": null}), "Invalid token"),
        (serde_json::json!({"scope": 42}), "Invalid token"),
    ];
    for (changes, message) in cases {
        let token = forge(&header, &claims(changes.clone()), &key);
        assert_refused(&world, &token, message, &changes.to_string()).await;
    }
}

/// Even a token minted after revocation with the revoked key's own private key (an attacker
/// who stole it) is refused: the kid is gone from the keys Signet verifies with.
#[tokio::test]
async fn tokens_of_a_revoked_key_are_refused_even_when_freshly_minted() {
    let world = world().await;
    let compromised = kid_in(&world, "Current");
    let admin = world.token(ALL).await;
    assert_eq!(
        call(&world.router, "POST", ROTATE, &admin).await.status,
        201
    );
    let admin = world.token(ALL).await;
    let revoke = format!("/api/v2/keys/signing/{compromised}/revoke");
    assert_eq!(
        call(&world.router, "PUT", &revoke, &admin).await.status,
        200
    );

    let token = forge(
        &rs256_header(&compromised),
        &claims(serde_json::json!({})),
        &rsa_key(FIXTURE_A),
    );
    assert_refused(&world, &token, "Invalid token", "revoked key").await;
}

#[tokio::test]
async fn json_bombs_in_the_header_or_the_payload_are_refused() {
    let world = world().await;
    let current = kid_in(&world, "Current");
    let key = rsa_key(FIXTURE_A);
    let deep = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let header_bomb = format!(
        r#"{{"alg":"RS256","typ":"JWT","kid":"{current}","x":{}}}"#,
        deep(2_500)
    );
    let payload_bomb = {
        let honest = claims(serde_json::json!({}));
        format!(r#"{},"x":{}}}"#, honest.trim_end_matches('}'), deep(2_500))
    };
    let duplicate_alg = format!(r#"{{"alg":"RS256","alg":"none","kid":"{current}"}}"#);
    let wide = format!(
        r#"{{"alg":"RS256","kid":"{current}",{}"z":0}}"#,
        (0..400)
            .map(|i| format!(r#""k{i}":0,"#))
            .collect::<String>()
    );
    let cases = [
        (header_bomb.clone(), claims(serde_json::json!({}))),
        (rs256_header(&current), payload_bomb.clone()),
        (duplicate_alg, claims(serde_json::json!({}))),
        (
            rs256_header(&current),
            format!("{}}}", "{\"a\":".repeat(2_000)),
        ),
        (wide, claims(serde_json::json!({}))),
        ("[]".to_owned(), claims(serde_json::json!({}))),
        (rs256_header(&current), "null".to_owned()),
        (rs256_header(&current), "\"\u{feff}\"".to_owned()),
    ];
    let outsider = rsa_key(FIXTURE_C);
    for (header, payload) in cases {
        // An attacker has no valid key: refused, whatever the parser meets first.
        let token = forge(&header, &payload, &outsider);
        assert_refused(
            &world,
            &token,
            "Invalid token",
            &header[..header.len().min(60)],
        )
        .await;
        // Even signed by the real key the bomb is answered calmly: refused, or (for junk in
        // a header member Signet ignores) accepted as the genuine token it is.
        let genuine = forge(&header, &payload, &key);
        let reply = call(&world.router, "GET", LIST, &genuine).await;
        assert!(
            [200, 401].contains(&reply.status.as_u16()),
            "{}: {}",
            reply.status,
            reply.text()
        );
    }
    // A huge one: 1 MB of nesting is refused by length before anything is parsed.
    let huge = format!("{}.{}.{}", b64(&header_bomb), b64(deep(500_000)), "x");
    assert_refused(&world, &huge, "Invalid token", "1 MB token").await;
}

#[tokio::test]
async fn truncated_padded_and_oversized_tokens_are_refused() {
    let world = world().await;
    let token = world.token(ALL).await;
    let mut cases: Vec<String> = (1..token.len())
        .step_by(37)
        .map(|end| token[..end].to_owned())
        .collect();
    cases.extend([
        token[..token.len() - 1].to_owned(),
        format!("{token}A"),
        format!("{token}."),
        format!("{token}.{token}"),
        token.replacen('.', "..", 1),
        token.replace('-', "+").replace('_', "/") + "==",
        ".".to_owned(),
        "..".to_owned(),
        "...".to_owned(),
        "a.b.c.d".to_owned(),
        format!("{}{}", token, "A".repeat(100 * 1024)),
        "A".repeat(100 * 1024),
    ]);
    for bad in cases {
        if bad == token {
            continue;
        }
        assert_refused(&world, &bad, "Invalid token", &bad[..bad.len().min(40)]).await;
    }
    // The genuine token still works: the refusals did not lock the client out.
    assert_eq!(call(&world.router, "GET", LIST, &token).await.status, 200);
}

async fn with_authorization(world: &World, values: &[&[u8]]) -> Reply {
    let mut request = Request::get(LIST);
    for value in values {
        request = request.header("authorization", *value);
    }
    send(&world.router, request.body(Body::empty()).unwrap()).await
}

/// A proxy that appends a second header, or joins two with a comma, must not let an attacker
/// choose which one Signet reads.
#[tokio::test]
async fn duplicated_and_smuggled_authorization_headers_are_refused() {
    let world = world().await;
    let token = world.token(ALL).await;
    let good = format!("Bearer {token}");
    let before = key_snapshot(&world);
    let duplicated = "Missing or duplicated authentication";
    let joined = format!("{good}, Bearer {token}");
    let trailing = format!("Bearer  {token} x");
    let other_scheme = format!("Token {token}");
    let cases: [(Vec<&[u8]>, &str); 8] = [
        (vec![good.as_bytes(), good.as_bytes()], duplicated),
        (vec![good.as_bytes(), b"Bearer garbage"], duplicated),
        (vec![b"Bearer garbage", good.as_bytes()], duplicated),
        (vec![good.as_bytes(), b""], duplicated),
        (vec![joined.as_bytes()], "Invalid token"),
        (vec![trailing.as_bytes()], "Invalid token"),
        (
            vec![b"Bearer \xff\xfe"],
            "Bad HTTP authentication header format",
        ),
        (
            vec![other_scheme.as_bytes()],
            "Bad HTTP authentication header format",
        ),
    ];
    for (values, message) in cases {
        let reply = with_authorization(&world, &values).await;
        assert_invalid_token(&reply, message);
        assert_nothing_leaked(&reply, &[]);
    }
    assert_eq!(key_snapshot(&world), before);
}
