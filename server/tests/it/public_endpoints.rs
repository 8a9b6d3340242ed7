//! The public endpoints, driven through the router without a socket.

use axum::{body::Body, http::Request};

use crate::support::{TENANT, actor, get, jwks_kids, send, world};

#[tokio::test]
async fn jwks_publishes_current_then_next_with_cache_headers() {
    let world = world().await;
    let reply = get(&world.router, "/.well-known/jwks.json").await;

    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(
        reply.header("cache-control"),
        "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400"
    );
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    assert!(reply.header("etag").starts_with('"'));

    let published = world.keys.published();
    let current = published.current().unwrap().record.kid.clone();
    let jwks = reply.json();
    assert_eq!(jwks_kids(&jwks).len(), 2);
    assert_eq!(jwks_kids(&jwks)[0], current);
    // Field order is part of the contract, and nothing private is published.
    assert!(
        reply
            .text()
            .starts_with(r#"{"keys":[{"alg":"RS256","kty":"RSA","use":"sig","n":""#)
    );
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!(key["e"], "AQAB");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none());
        }
    }
}

#[tokio::test]
async fn jwks_honours_if_none_match() {
    let world = world().await;
    let etag = get(&world.router, "/.well-known/jwks.json")
        .await
        .header("etag")
        .to_owned();
    for header in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".into(),
    ] {
        let request = Request::get("/.well-known/jwks.json")
            .header("if-none-match", header)
            .body(Body::empty())
            .unwrap();
        let reply = send(&world.router, request).await;
        assert_eq!(reply.status, 304);
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("etag"), etag);
    }
    let request = Request::get("/.well-known/jwks.json")
        .header("if-none-match", "\"stale\"")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&world.router, request).await.status, 200);
}

#[tokio::test]
async fn rotation_and_revocation_change_the_jwks_at_once() {
    let world = world().await;
    let before = get(&world.router, "/.well-known/jwks.json").await;
    let old = jwks_kids(&before.json());

    let rotated = world
        .keys
        .rotate(&actor(), crate::support::now())
        .await
        .unwrap();
    let after = get(&world.router, "/.well-known/jwks.json").await;
    let new = jwks_kids(&after.json());
    assert_ne!(after.header("etag"), before.header("etag"));
    assert_eq!(new.len(), 3);
    assert_eq!(new[0], old[1], "the next key became current");
    assert_eq!(new[0], rotated.current.record.kid);
    assert_eq!(
        new[2], old[0],
        "the old current key is published as previous"
    );

    world
        .keys
        .revoke(&old[0], &actor(), crate::support::now())
        .await
        .unwrap();
    let revoked = jwks_kids(&get(&world.router, "/.well-known/jwks.json").await.json());
    assert_eq!(revoked, new[..2].to_vec());
}

#[tokio::test]
async fn openid_configuration_names_the_tenant() {
    let world = world().await;
    let config = get(&world.router, "/.well-known/openid-configuration")
        .await
        .json();
    let issuer = format!("https://{TENANT}/");
    assert_eq!(config["issuer"], issuer);
    assert_eq!(config["jwks_uri"], format!("{issuer}.well-known/jwks.json"));
    assert_eq!(config["token_endpoint"], format!("{issuer}oauth/token"));
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(
        config["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
}

#[tokio::test]
async fn certificate_downloads_serve_the_current_key() {
    let world = world().await;
    let published = world.keys.published();
    let current = &published.current().unwrap().public;

    let pem = get(&world.router, "/pem").await;
    assert_eq!(pem.status, 200);
    assert_eq!(pem.header("content-type"), "application/x-pem-file");
    assert!(
        pem.header("content-disposition")
            .starts_with("attachment; filename=\"")
    );
    assert!(pem.header("content-disposition").ends_with(".pem\""));
    assert_eq!(pem.text(), current.cert_pem());
    assert!(pem.text().ends_with("-----END CERTIFICATE-----\r\n"));

    let cer = get(&world.router, "/cer").await;
    assert_eq!(cer.header("content-type"), "application/pkix-cert");
    assert_eq!(cer.body.to_vec(), current.cert_der);

    let pb7 = get(&world.router, "/pb7").await;
    assert!(pb7.text().starts_with("-----BEGIN PKCS7-----\r\n"));

    let raw = get(&world.router, "/rawpem").await.text();
    assert!(!raw.contains("BEGIN"));
    assert_eq!(raw, current.raw_pem());

    assert_eq!(
        get(&world.router, "/fingerprint").await.text(),
        current.fingerprint
    );
}

#[tokio::test]
async fn certificate_downloads_of_other_keys_by_kid() {
    let world = world().await;
    let next = world.keys.published().keys[1].clone();
    let reply = get(&world.router, &format!("/pem?kid={}", next.record.kid)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), next.public.cert_pem());

    for uri in [
        "/pem?kid=unknown",
        "/cer?kid=aaaaaaaaaaaaaaaaaaaaa",
        "/pb7?kid=",
    ] {
        let reply = get(&world.router, uri).await;
        assert_eq!(reply.status, 404, "{uri}");
        assert_eq!(reply.json()["errorCode"], "inexistent_signing_key");
    }
    let reply = get(&world.router, "/pem?kid=a&kid=b").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["statusCode"], 400);
}

#[tokio::test]
async fn a_revoked_key_certificate_is_not_offered() {
    let world = world().await;
    let old = world.keys.published().current().unwrap().record.kid.clone();
    world
        .keys
        .rotate(&actor(), crate::support::now())
        .await
        .unwrap();
    world
        .keys
        .revoke(&old, &actor(), crate::support::now())
        .await
        .unwrap();
    assert_eq!(
        get(&world.router, &format!("/pem?kid={old}")).await.status,
        404
    );
}

#[tokio::test]
async fn probes_report_health_and_readiness() {
    let world = world().await;
    assert_eq!(get(&world.router, "/healthz").await.json()["status"], "ok");
    let ready = get(&world.router, "/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "ready");
}

#[tokio::test]
async fn unknown_and_garbage_api_paths_get_auth0_shaped_404s_without_a_token() {
    let world = world().await;
    let long = format!("/api/v2/{}", "x".repeat(8000));
    for uri in [
        "/api/v2",
        "/api/v2/nope",
        "/api/v2/..%2F..%2Fetc%2Fpasswd",
        "/api/v2/%00%ff",
        "/api/v2/'%20OR%201=1--",
        long.as_str(),
    ] {
        let reply = get(&world.router, uri).await;
        assert_eq!(reply.status, 404, "{uri}");
        let body = reply.json();
        assert_eq!(body["statusCode"], 404);
        assert_eq!(body["error"], "Not Found");
        assert!(body["errorCode"].is_string());
    }
}

#[tokio::test]
async fn the_home_page_redirects_to_signing_keys() {
    let world = world().await;
    let reply = get(&world.router, "/").await;
    assert!(reply.status.is_redirection());
    assert_eq!(reply.header("location"), "/tenant/signing_keys");
}
