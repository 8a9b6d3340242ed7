//! The attack battery: hostile input against every surface, through the router (and, for slow
//! requests, a real socket). Each attack checks the exact answer, that no key changed, and that
//! nothing secret came back.

mod dashboard;
mod headers;
mod management;
mod slow_requests;
mod token_endpoint;
mod tokens;

use aws_lc_rs::{
    hmac,
    rand::SystemRandom,
    signature::{RSA_PKCS1_SHA256, RsaKeyPair},
};
use axum::http::StatusCode;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use signet::domain::material::PrivateKey;

use crate::support::{OPERATOR_PASSWORD, Reply, TENANT, World};

pub const ALL: &str = "read:signing_keys create:signing_keys update:signing_keys";

/// The fixture keys: `a` and `b` are the test world's current and next keys, `c` is in no
/// world's JWKS.
pub const FIXTURE_A: &str = include_str!("../../fixtures/rsa-2048-a.pk8.pem");
pub const FIXTURE_B: &str = include_str!("../../fixtures/rsa-2048-b.pk8.pem");
pub const FIXTURE_C: &str = include_str!("../../fixtures/rsa-2048-c.pk8.pem");

/// What the keys look like: any change (rotation, revocation, a new key) changes this.
pub fn key_snapshot(world: &World) -> (i64, Vec<String>) {
    let published = world.keys.published();
    let keys = published
        .keys
        .iter()
        .map(|key| format!("{} {:?}", key.record.kid, key.record.state))
        .collect();
    (published.version, keys)
}

/// Nothing secret in the body or the headers: no client secret or password from `secrets`, no
/// private key (its PEM armour or any line of a fixture key), no panic text.
pub fn assert_nothing_leaked(reply: &Reply, secrets: &[&str]) {
    let mut seen = String::from_utf8_lossy(&reply.body).into_owned();
    for (name, value) in &reply.headers {
        seen.push_str(&format!(
            "\n{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    for secret in secrets.iter().chain([&OPERATOR_PASSWORD]) {
        assert!(!seen.contains(secret), "a secret leaked: {seen}");
    }
    assert!(!seen.contains("PRIVATE KEY"), "private key armour: {seen}");
    for fixture in [FIXTURE_A, FIXTURE_B, FIXTURE_C] {
        for line in fixture.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!seen.contains(line), "private key material leaked");
        }
    }
    assert!(!seen.contains("panicked"), "{seen}");
}

/// Auth0's error body, exactly: the four fields, the status's reason, a stable code.
pub fn assert_auth0_error(reply: &Reply, status: u16, error_code: &str, message: Option<&str>) {
    assert_eq!(reply.status, status, "{}", reply.text());
    let body = reply.json();
    let reason = StatusCode::from_u16(status)
        .unwrap()
        .canonical_reason()
        .unwrap();
    assert_eq!(body["statusCode"], status, "{body}");
    assert_eq!(body["error"], reason, "{body}");
    assert_eq!(body["errorCode"], error_code, "{body}");
    assert!(body["message"].is_string(), "{body}");
    if let Some(message) = message {
        assert_eq!(body["message"], message, "{body}");
    }
    assert_eq!(
        body.as_object().unwrap().len(),
        4,
        "only Auth0's fields: {body}"
    );
    assert!(reply.header("content-type").starts_with("application/json"),);
}

/// The answer to any unacceptable bearer token.
pub fn assert_invalid_token(reply: &Reply, message: &str) {
    assert_auth0_error(reply, 401, "invalid_token", Some(message));
    assert!(reply.header("www-authenticate").starts_with("Bearer"));
}

/// An RFC 6749 error body, exactly.
pub fn assert_oauth_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    assert_eq!(reply.header("cache-control"), "no-store");
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A key a forger signs with: RSA (RS256) or an HMAC secret (HS256/384/512).
pub enum ForgingKey {
    Rs256(RsaKeyPair),
    Hmac(Box<hmac::Key>),
}

/// An RSA fixture as an RS256 signing key.
pub fn rsa_key(pem: &str) -> ForgingKey {
    let der = PrivateKey::from_pkcs8_pem(pem)
        .unwrap()
        .to_pkcs8_der()
        .unwrap();
    ForgingKey::Rs256(RsaKeyPair::from_pkcs8(&der).unwrap())
}

/// A JWT from raw header and payload JSON text, signed with `key`: lets a test put anything at
/// all in the header (the header's `alg` is not looked at).
pub fn forge(header: &str, payload: &str, key: &ForgingKey) -> String {
    let message = format!("{}.{}", b64(header), b64(payload));
    let signature = match key {
        ForgingKey::Rs256(pair) => {
            let mut signature = vec![0; pair.public_modulus_len()];
            pair.sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .unwrap();
            signature
        }
        ForgingKey::Hmac(secret) => hmac::sign(secret, message.as_bytes()).as_ref().to_vec(),
    };
    format!("{message}.{}", b64(signature))
}

/// Claims Signet itself would issue now, as JSON, with `changes` applied on top.
pub fn claims(changes: serde_json::Value) -> String {
    let now = Utc::now().timestamp();
    let mut claims = serde_json::json!({
        "iss": format!("https://{TENANT}/"),
        "sub": "forger@clients",
        "aud": format!("https://{TENANT}/api/v2/"),
        "iat": now,
        "exp": now + 3600,
        "scope": ALL,
        "jti": "forged-token-id",
        "gty": "client-credentials",
        "azp": "forger",
    });
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims.to_string()
}

/// The kid of the key in `state` ("Current", "Next", "Previous").
pub fn kid_in(world: &World, state: &str) -> String {
    world
        .keys
        .published()
        .keys
        .iter()
        .find(|key| format!("{:?}", key.record.state) == state)
        .unwrap()
        .record
        .kid
        .clone()
}
