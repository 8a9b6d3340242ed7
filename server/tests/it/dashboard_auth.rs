//! The dashboard's sign-in: sessions, cookies, throttling, cross-site refusal.

use axum::{body::Body, http::Request};

use crate::support::{
    OPERATOR_PASSWORD, Reply, World, get, get_with_cookie, send, session_cookie, sign_in_request,
    world,
};

async fn sign_in(world: &World, password: &str, origin: Option<&str>) -> Reply {
    let origin: Vec<(&str, &str)> = origin
        .map(|origin| ("origin", origin))
        .into_iter()
        .collect();
    send(&world.router, sign_in_request(password, &origin)).await
}

#[tokio::test]
async fn pages_and_server_functions_need_a_session() {
    let world = world().await;
    let page = get(&world.router, "/tenant/signing_keys").await;
    assert!(page.status.is_redirection());
    assert_eq!(page.header("location"), "/login");
    let list = send(
        &world.router,
        Request::post("/_signet/list_signing_keys")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(list.status, 401);
    let forged = get_with_cookie(
        &world.router,
        "/tenant/signing_keys",
        "signet_session=forged",
    )
    .await;
    assert!(forged.status.is_redirection());
    assert_eq!(get(&world.router, "/login").await.status, 200);
}

#[tokio::test]
async fn signing_in_opens_a_strict_http_only_session() {
    let world = world().await;
    let reply = sign_in(&world, OPERATOR_PASSWORD, Some("http://signet.test")).await;
    assert!(
        reply.status.is_redirection(),
        "{}: {}",
        reply.status,
        reply.text()
    );
    assert_eq!(reply.header("location"), "/tenant/signing_keys");
    let set_cookie = reply.header("set-cookie");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));

    let cookie = session_cookie(&reply);
    let page = get_with_cookie(&world.router, "/tenant/signing_keys", &cookie).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), "no-store");
    let html = page.text();
    for key in &world.keys.published().keys {
        assert!(html.contains(&key.record.kid));
    }

    // Every sign-in issues a new session id (no fixation).
    let again = session_cookie(&sign_in(&world, OPERATOR_PASSWORD, None).await);
    assert_ne!(again, cookie);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let world = world().await;
    let cookie = session_cookie(&sign_in(&world, OPERATOR_PASSWORD, None).await);
    let request = Request::post("/_signet/sign_out")
        .header("cookie", &cookie)
        .header("accept", "text/html")
        .body(Body::empty())
        .unwrap();
    let reply = send(&world.router, request).await;
    assert!(reply.header("set-cookie").contains("Max-Age=0"));
    let page = get_with_cookie(&world.router, "/tenant/signing_keys", &cookie).await;
    assert!(
        page.status.is_redirection(),
        "the old cookie no longer works"
    );
}

#[tokio::test]
async fn wrong_passwords_fail_and_are_throttled() {
    let world = world().await;
    for _ in 0..5 {
        let reply = sign_in(&world, "not the password", None).await;
        assert!(
            reply.headers.get("set-cookie").is_none_or(|c| !c
                .to_str()
                .unwrap()
                .contains("signet_session=")
                || c.to_str().unwrap().contains("Max-Age=0"))
        );
    }
    // Locked out now, even with the right password.
    let reply = sign_in(&world, OPERATOR_PASSWORD, None).await;
    assert!(
        reply.headers.get("set-cookie").is_none(),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let world = world().await;
    let reply = sign_in(&world, OPERATOR_PASSWORD, Some("https://evil.example")).await;
    assert_eq!(reply.status, 403);
    let cookie = session_cookie(&sign_in(&world, OPERATOR_PASSWORD, None).await);
    let request = Request::post("/_signet/list_signing_keys")
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&world.router, request).await.status, 403);
}

/// Building another router (another tenant's, another test's) while a signed-in page renders
/// leaves that render alone. Listing the pages' routes runs the app with resources held back by
/// a process-wide flag (leptos#4773); a render whose resource started meanwhile waited forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_built_while_a_page_renders_does_not_stall_it() {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    let world = world().await;
    let cookie = session_cookie(&sign_in(&world, OPERATOR_PASSWORD, None).await);
    let done = Arc::new(AtomicBool::new(false));
    let building = std::thread::spawn({
        let done = Arc::clone(&done);
        move || {
            let mut built = 0_u32;
            while !done.load(Ordering::Relaxed) {
                drop(signet::http::app(
                    leptos::prelude::LeptosOptions::builder()
                        .output_name("signet")
                        .build(),
                    false,
                ));
                built += 1;
            }
            built
        }
    });
    for _ in 0..200 {
        let page = get_with_cookie(&world.router, "/tenant/signing_keys", &cookie).await;
        assert_eq!(page.status, 200);
        assert!(page.text().contains("List of Valid Keys"));
    }
    done.store(true, Ordering::Relaxed);
    assert!(
        building.join().unwrap() > 0,
        "no router was built meanwhile"
    );
}
