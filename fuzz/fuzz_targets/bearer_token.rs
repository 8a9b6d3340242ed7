//! The Management API's bearer-token check: `Authorization` header parsing and RS256 verification.
//!
//! Two kinds of input. Most are the raw `Authorization` header value. An input starting with a
//! control byte (which no header value may start with) is instead a header JSON and a claims
//! JSON separated by a NUL byte, signed for real by the key the control byte picks: only such
//! tokens get past the signature to the claim checks behind it.
#![no_main]

use axum::{
    body::Body,
    http::{HeaderValue, Request, StatusCode, header::AUTHORIZATION},
};
use libfuzzer_sys::fuzz_target;
use signet::services::tokens::{self, AccessClaims};
use signet_fuzz::{OUTSIDER_KID, Reply, TENANT, World, world};

/// The Management API refuses longer tokens before looking at them.
const MAX_TOKEN_LEN: usize = 8 * 1024;

fn list_keys(world: &World, authorization: HeaderValue) -> Reply {
    let request = Request::get("/api/v2/keys/signing")
        .header(AUTHORIZATION, authorization)
        .body(Body::empty())
        .expect("request");
    let reply = world.send(request);
    reply.assert_not_a_server_error("GET /api/v2/keys/signing");
    assert!(
        [
            StatusCode::OK,
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN
        ]
        .contains(&reply.status),
        "unexpected {}",
        reply.status
    );
    reply
}

/// What every accepted token must be, whatever the fuzzer put in it.
fn check_accepted(claims: &AccessClaims, token: &str) {
    let header = jsonwebtoken::decode_header(token).expect("an accepted token has a header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_ne!(header.kid.as_deref(), Some(OUTSIDER_KID));
    assert_eq!(claims.iss, format!("https://{TENANT}/"));
    assert_eq!(claims.aud, format!("https://{TENANT}/api/v2/"));
    assert!(claims.exp >= chrono::Utc::now().timestamp() - 30, "expired");
}

fn raw_header(world: &World, data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(claims) = tokens::verify(&world.verifiers, TENANT, text, chrono::Utc::now())
    {
        check_accepted(&claims, text);
    }
    if let Ok(value) = HeaderValue::from_bytes(data) {
        list_keys(world, value);
    }
}

fn signed_token(world: &World, selector: u8, rest: &[u8]) {
    let (header, payload) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b"{}"[..]),
    };
    let (token, signer) = world.sign(usize::from(selector), header, payload);
    let verified = tokens::verify(&world.verifiers, TENANT, &token, chrono::Utc::now());
    if let Ok(claims) = &verified {
        assert_ne!(
            signer, OUTSIDER_KID,
            "a token of a key the tenant never had"
        );
        check_accepted(claims, &token);
    }
    if token.len() > MAX_TOKEN_LEN {
        return;
    }
    let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("base64url is ASCII");
    let reply = list_keys(world, value);
    // The API accepts exactly the tokens the verifier accepts.
    assert_eq!(
        reply.status == StatusCode::UNAUTHORIZED,
        verified.is_err(),
        "API {} but verify {:?}",
        reply.status,
        verified.map(|claims| claims.scope)
    );
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    match data.split_first() {
        Some((&selector, rest)) if selector < 0x20 && selector != b'\t' => {
            signed_token(world, selector, rest)
        }
        _ => raw_header(world, data),
    }
    // A valid token is still valid: nothing the input did changed the keys.
    assert!(tokens::verify(&world.verifiers, TENANT, &world.token, chrono::Utc::now()).is_ok());
});
