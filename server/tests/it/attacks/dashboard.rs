//! The dashboard under attack: server functions without a session or from another site, planted
//! session ids, password guessing, and what the session cookie allows.

use std::net::SocketAddr;

use app::error::DashboardError;
use axum::{body::Body, extract::ConnectInfo, http::Request};

use super::{assert_nothing_leaked, key_snapshot, kid_in};
use crate::support::{
    OPERATOR_PASSWORD, Reply, World, send, session_cookie, sign_in_request, world,
};

/// Every server function that needs a session, with arguments that would act if it ran.
fn guarded_calls(world: &World) -> Vec<(&'static str, String)> {
    let (current, next) = (kid_in(world, "Current"), kid_in(world, "Next"));
    vec![
        ("/_signet/list_signing_keys", String::new()),
        ("/_signet/rotate_signing_key", format!("next_kid={next}")),
        (
            "/_signet/rotate_and_revoke_signing_key",
            format!("current_kid={current}"),
        ),
        ("/_signet/revoke_signing_key", format!("kid={current}")),
        ("/_signet/sign_out", String::new()),
    ]
}

async fn sign_in_from(world: &World, password: &str, from: [u8; 4], cookie: Option<&str>) -> Reply {
    let mut headers = vec![("origin", "http://signet.test")];
    headers.extend(cookie.map(|cookie| ("cookie", cookie)));
    let mut request = sign_in_request(password, &headers);
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((from, 40_000))));
    send(&world.router, request).await
}

async fn signed_in(world: &World) -> String {
    let reply = sign_in_from(world, OPERATOR_PASSWORD, [192, 0, 2, 1], None).await;
    assert!(reply.status.is_redirection(), "{}", reply.text());
    session_cookie(&reply)
}

#[tokio::test]
async fn server_functions_without_a_live_session_do_nothing() {
    let world = world().await;
    let before = key_snapshot(&world);
    let signed_out = serde_json::to_value(DashboardError::SignedOut).unwrap();
    for cookie in [
        None,
        Some("signet_session=forged".to_owned()),
        Some(format!("signet_session={}", "A".repeat(43))),
        Some(format!("signet_session={}", "A".repeat(10_000))),
        Some("signet_session=".to_owned()),
        Some("signet_session=../../etc/passwd; signet_session=x".to_owned()),
    ] {
        for (uri, body) in guarded_calls(&world) {
            let mut request = Request::post(uri)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("host", "signet.test");
            if let Some(cookie) = &cookie {
                request = request.header("cookie", cookie);
            }
            let reply = send(&world.router, request.body(Body::from(body)).unwrap()).await;
            assert_eq!(reply.status, 401, "{uri} {cookie:?}: {}", reply.text());
            assert_eq!(reply.json(), signed_out, "{uri}");
            assert_eq!(reply.header("cache-control"), "no-store");
            assert_nothing_leaked(&reply, &[]);
        }
    }
    // The live stream and the certificate downloads need a session as well.
    let current = kid_in(&world, "Current");
    let events = send(
        &world.router,
        Request::get("/_signet/events").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(events.status, 401);
    let download = send(
        &world.router,
        Request::get(format!("/tenant/signing_keys/{current}/certificate.pem"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(download.status.is_redirection());
    assert_eq!(download.header("location"), "/login");
    assert_eq!(key_snapshot(&world), before);
}

/// A signed-in operator's browser visiting another site must not become that site's tool.
#[tokio::test]
async fn cross_site_server_function_posts_are_refused_even_with_a_session() {
    let world = world().await;
    let cookie = signed_in(&world).await;
    let before = key_snapshot(&world);
    let hostile = [
        ("origin", "https://evil.example"),
        ("origin", "http://signet.test.evil.example"),
        ("origin", "http://evil.example/signet.test"),
        ("origin", "null"),
        ("origin", "https://signet.test:8443"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ];
    for (uri, body) in guarded_calls(&world) {
        for (name, value) in hostile {
            let request = Request::post(uri)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("host", "signet.test")
                .header("cookie", &cookie)
                .header(name, value)
                .body(Body::from(body.clone()))
                .unwrap();
            let reply = send(&world.router, request).await;
            assert_eq!(reply.status, 403, "{uri} {name}: {value}");
            assert_eq!(reply.text(), "Cross-site requests are refused.");
        }
    }
    assert_eq!(
        key_snapshot(&world),
        before,
        "no cross-site action happened"
    );
    // The same session from Signet's own page works.
    let request = Request::post("/_signet/list_signing_keys")
        .header("host", "signet.test")
        .header("origin", "http://signet.test")
        .header("sec-fetch-site", "same-origin")
        .header("cookie", &cookie)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&world.router, request).await.status, 200);
}

/// An id planted in the browser before sign-in (session fixation) is never promoted: sign-in
/// issues a fresh id, and the planted one opens nothing afterwards.
#[tokio::test]
async fn a_planted_session_id_is_replaced_at_sign_in() {
    let world = world().await;
    let planted = "signet_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let reply = sign_in_from(&world, OPERATOR_PASSWORD, [192, 0, 2, 1], Some(planted)).await;
    assert!(reply.status.is_redirection(), "{}", reply.text());
    let issued = session_cookie(&reply);
    assert_ne!(issued, planted);
    assert_eq!(
        issued.len(),
        "signet_session=".len() + 43,
        "256 random bits"
    );
    let page = |cookie: &str| {
        Request::get("/tenant/signing_keys")
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap()
    };
    assert!(
        send(&world.router, page(planted))
            .await
            .status
            .is_redirection()
    );
    assert_eq!(send(&world.router, page(&issued)).await.status, 200);
    // Two sign-ins, two different sessions.
    let again = session_cookie(
        &sign_in_from(&world, OPERATOR_PASSWORD, [192, 0, 2, 1], Some(&issued)).await,
    );
    assert_ne!(again, issued);
}

/// Five wrong passwords lock that address out (even the right password is refused), other
/// addresses are unaffected, and the answer never says more than "wait".
#[tokio::test]
async fn password_guessing_is_throttled_per_address() {
    let world = world().await;
    let guesser = [203, 0, 113, 7];
    for _ in 0..5 {
        let reply = sign_in_from(&world, "guess guess guess", guesser, None).await;
        assert!(reply.status.is_redirection());
        assert_eq!(reply.header("location"), "/login?failed=wrong_password");
        assert!(reply.headers.get("set-cookie").is_none());
    }
    let locked = sign_in_from(&world, OPERATOR_PASSWORD, guesser, None).await;
    assert!(locked.status.is_redirection());
    assert!(
        locked.header("location").starts_with("/login?failed="),
        "{}",
        locked.header("location")
    );
    assert_ne!(locked.header("location"), "/login?failed=wrong_password");
    assert!(
        locked.headers.get("set-cookie").is_none(),
        "no session while locked"
    );
    assert_nothing_leaked(&locked, &[]);
    // Another address signs in normally.
    let other = sign_in_from(&world, OPERATOR_PASSWORD, [192, 0, 2, 50], None).await;
    assert_eq!(other.header("location"), "/tenant/signing_keys");
}

/// The session cookie cannot be read by scripts, sent cross-site, or scoped to another host;
/// it is `Secure` behind HTTPS; signing out clears it.
#[tokio::test]
async fn the_session_cookie_is_http_only_strict_host_only_and_secure_behind_https() {
    let world = world().await;
    let reply = sign_in_from(&world, OPERATOR_PASSWORD, [192, 0, 2, 1], None).await;
    let cookie = reply.header("set-cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for expected in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&expected), "{cookie}");
    }
    assert!(
        !cookie.to_ascii_lowercase().contains("domain="),
        "host-only: {cookie}"
    );
    assert!(
        attributes.iter().any(|a| a.starts_with("Max-Age=")),
        "{cookie}"
    );
    assert!(
        !attributes.contains(&"Secure"),
        "plain HTTP cannot store a Secure cookie"
    );

    let mut https = sign_in_request(OPERATOR_PASSWORD, &[("x-forwarded-proto", "https")]);
    https
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40_000))));
    let reply = send(&world.router, https).await;
    assert!(
        reply
            .header("set-cookie")
            .split(';')
            .any(|a| a.trim() == "Secure"),
        "{}",
        reply.header("set-cookie")
    );
    let session = session_cookie(&reply);
    let sign_out = Request::post("/_signet/sign_out")
        .header("host", "signet.test")
        .header("accept", "text/html")
        .header("cookie", &session)
        .body(Body::empty())
        .unwrap();
    let cleared = send(&world.router, sign_out).await;
    assert!(cleared.header("set-cookie").contains("Max-Age=0"));
    assert!(cleared.header("set-cookie").starts_with("signet_session=;"));
}
