//! The `{kid}` path segment of the Management API (and the `?kid=` of the certificate downloads):
//! any bytes, sent raw when they form a valid URI and percent-encoded always.
#![no_main]

use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header::AUTHORIZATION},
};
use libfuzzer_sys::fuzz_target;
use signet_fuzz::{CURRENT_KID, NEXT_KID, Reply, World, percent_encode, world};

/// The documented kid pattern, `^[A-Za-z0-9_-]{1,64}$`, written independently of `is_kid`.
fn matches_kid_pattern(s: &str) -> bool {
    let count = s.chars().count();
    (1..=64).contains(&count)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn call(world: &World, method: Method, uri: &str) -> Option<Reply> {
    // A URI the HTTP layer would refuse never reaches Signet.
    let request = Request::builder()
        .method(method.clone())
        .uri(uri)
        .header(AUTHORIZATION, format!("Bearer {}", world.token))
        .body(Body::empty())
        .ok()?;
    let reply = world.send(request);
    reply.assert_not_a_server_error(&format!("{method} {uri}"));
    Some(reply)
}

/// The exact answers for one well-formed path segment whose decoded text is `kid`.
fn check_exact(world: &World, segment: &str, kid: Option<&str>) {
    let well_formed = kid.is_some_and(app::keys::is_kid);
    let held = kid.is_some_and(|kid| kid == CURRENT_KID || kid == NEXT_KID);

    let get = call(
        world,
        Method::GET,
        &format!("/api/v2/keys/signing/{segment}"),
    )
    .expect("a percent-encoded segment is a valid URI");
    let expected = match (well_formed, held) {
        (false, _) => (StatusCode::BAD_REQUEST, "invalid_uri"),
        (true, true) => (StatusCode::OK, ""),
        (true, false) => (StatusCode::NOT_FOUND, "inexistent_signing_key"),
    };
    assert_eq!(
        (get.status, get.error_code().as_str()),
        expected,
        "GET {kid:?}"
    );

    // Neither the current nor the next key may be revoked, and nothing else exists.
    let revoke = call(
        world,
        Method::PUT,
        &format!("/api/v2/keys/signing/{segment}/revoke"),
    )
    .expect("a percent-encoded segment is a valid URI");
    let expected = match (well_formed, held) {
        (false, _) => (StatusCode::BAD_REQUEST, "invalid_uri"),
        (true, true) => (StatusCode::BAD_REQUEST, "invalid_key_state"),
        (true, false) => (StatusCode::NOT_FOUND, "inexistent_signing_key"),
    };
    assert_eq!(
        (revoke.status, revoke.error_code().as_str()),
        expected,
        "PUT revoke {kid:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let version = world.version();
    let text = std::str::from_utf8(data).ok();
    if let Some(text) = text {
        assert_eq!(
            app::keys::is_kid(text),
            matches_kid_pattern(text),
            "{text:?}"
        );
    }

    // Percent-encoded, the segment always reaches the router and decodes back to `data`.
    if !data.is_empty() {
        check_exact(world, &percent_encode(data), text);
    }
    // Raw, it may be several segments, a query, `..`: any answer but a server error.
    if let Some(text) = text {
        call(world, Method::GET, &format!("/api/v2/keys/signing/{text}"));
        call(
            world,
            Method::PUT,
            &format!("/api/v2/keys/signing/{text}/revoke"),
        );
    }
    // The public certificate downloads take a kid from the query.
    if let Some(reply) = call(
        world,
        Method::GET,
        &format!("/pem?kid={}", percent_encode(data)),
    ) {
        assert!(
            reply.status == StatusCode::OK
                || reply.status == StatusCode::NOT_FOUND
                || reply.status == StatusCode::BAD_REQUEST,
            "/pem?kid=: {}",
            reply.status
        );
    }
    assert_eq!(
        world.version(),
        version,
        "a refused request changed the keys"
    );
});
