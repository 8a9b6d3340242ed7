//! Defence-in-depth headers on every kind of answer, and a page policy that lets the page's own
//! scripts (and only those) run.

use axum::{body::Body, http::Request};

use super::ALL;
use crate::support::{
    OPERATOR_PASSWORD, Reply, World, get, get_with_cookie, post_form, send, session_cookie,
    sign_in_request, world,
};

/// The headers every response carries, whatever produced it.
fn assert_hardened(reply: &Reply, what: &str) {
    assert_eq!(reply.header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(reply.header("referrer-policy"), "same-origin", "{what}");
    assert_eq!(reply.header("x-frame-options"), "DENY", "{what}");
    let csp = reply.header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(
        reply.headers.get("strict-transport-security").is_none(),
        "no HSTS without TLS"
    );
}

async fn session(world: &World) -> String {
    let reply = send(&world.router, sign_in_request(OPERATOR_PASSWORD, &[])).await;
    assert_hardened(&reply, "sign-in redirect");
    session_cookie(&reply)
}

#[tokio::test]
#[expect(clippy::too_many_lines, reason = "one table of every kind of answer")]
async fn every_kind_of_answer_carries_the_security_headers() {
    let world = world().await;
    let token = world.token(ALL).await;
    let cookie = session(&world).await;
    let mut answers = vec![
        ("jwks", get(&world.router, "/.well-known/jwks.json").await),
        (
            "discovery",
            get(&world.router, "/.well-known/openid-configuration").await,
        ),
        ("certificate", get(&world.router, "/pem").await),
        ("health", get(&world.router, "/healthz").await),
        ("home redirect", get(&world.router, "/").await),
        ("sign-in page", get(&world.router, "/login").await),
        ("unknown page", get(&world.router, "/no/such/page").await),
        (
            "guarded page, signed out",
            get(&world.router, "/tenant/signing_keys").await,
        ),
        (
            "dashboard",
            get_with_cookie(&world.router, "/tenant/signing_keys", &cookie).await,
        ),
        (
            "certificate download",
            get_with_cookie(
                &world.router,
                &format!(
                    "/tenant/signing_keys/{}/certificate.pem",
                    super::kid_in(&world, "Current")
                ),
                &cookie,
            )
            .await,
        ),
    ];
    let api = [
        (
            "api list",
            crate::support::call(&world.router, "GET", "/api/v2/keys/signing", &token).await,
        ),
        (
            "api 401",
            crate::support::call(&world.router, "GET", "/api/v2/keys/signing", "x").await,
        ),
        (
            "api 404",
            crate::support::call(&world.router, "GET", "/api/v2/nothing", &token).await,
        ),
        (
            "api 405",
            crate::support::call(&world.router, "DELETE", "/api/v2/keys/signing", &token).await,
        ),
        ("token 200", {
            let (id, secret) = world.client(ALL).await;
            post_form(
                &world.router,
                "/oauth/token",
                &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
            )
            .await
        }),
        (
            "token 401",
            post_form(
                &world.router,
                "/oauth/token",
                "grant_type=client_credentials",
            )
            .await,
        ),
        (
            "token 413",
            post_form(&world.router, "/oauth/token", &"x".repeat(100_000)).await,
        ),
        ("token 405", get(&world.router, "/oauth/token").await),
        (
            "server function",
            send(
                &world.router,
                Request::post("/_signet/list_signing_keys")
                    .header("cookie", &cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await,
        ),
        (
            "server function, signed out",
            send(
                &world.router,
                Request::post("/_signet/list_signing_keys")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await,
        ),
    ];
    // Tokens, key lists and session answers are never stored by a browser or proxy.
    for (what, reply) in &api {
        assert_eq!(reply.header("cache-control"), "no-store", "{what}");
    }
    answers.extend(api);
    for (what, reply) in &answers {
        assert_hardened(reply, what);
        assert!(reply.status.as_u16() < 500, "{what}: {}", reply.status);
    }
    // Public, cacheable answers keep their own caching rules.
    assert!(answers[0].1.header("cache-control").starts_with("public"));
    // Authenticated pages are not stored.
    assert_eq!(answers[8].1.header("cache-control"), "no-store");
}

/// What the page loads, read from the HTML the router renders: every script tag carries this
/// response's nonce, which the policy names; nothing is loaded from another origin; nothing is
/// styled inline; and each response has its own nonce.
#[tokio::test]
async fn pages_allow_only_their_own_scripts_with_a_fresh_nonce() {
    let world = world().await;
    let cookie = session(&world).await;
    let mut nonces = Vec::new();
    for reply in [
        get_with_cookie(&world.router, "/tenant/signing_keys", &cookie).await,
        get_with_cookie(&world.router, "/tenant/signing_keys", &cookie).await,
        get(&world.router, "/login").await,
        get(&world.router, "/no/such/page").await,
    ] {
        assert!(reply.header("content-type").starts_with("text/html"));
        let csp = reply.header("content-security-policy").to_owned();
        let html = reply.text();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("no nonce in {csp}"))
            .to_owned();
        for directive in [
            "default-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap();
        assert_eq!(
            script_src,
            format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'")
        );
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert!(!scripts.is_empty(), "the hydration script is there: {html}");
        for script in scripts {
            let tag = &script[..script.find('>').unwrap()];
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "a script without this response's nonce: <script{tag}>"
            );
        }
        for attribute in ["src=\"", "href=\""] {
            for value in html.split(attribute).skip(1) {
                let url = &value[..value.find('"').unwrap()];
                assert!(
                    url.starts_with('/') && !url.starts_with("//") || url.starts_with('?'),
                    "{attribute}{url} is not on Signet's own origin"
                );
            }
        }
        assert!(
            !html.contains(" style=\""),
            "inline styles would be blocked"
        );
        assert!(!html.contains("<style"), "inline styles would be blocked");
        assert!(
            !html.contains(" onclick="),
            "inline handlers would be blocked"
        );
        nonces.push(nonce);
    }
    let mut unique = nonces.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), nonces.len(), "a fresh nonce per response");
}
