//! The audit trail (SPEC §14): what it records, `GET /api/v2/logs` in Auth0's two shapes, the
//! Logs page with its filter, pages and exports, and the proof that no path edits or deletes an
//! event.

use axum::{body::Body, http::Request};
use serde_json::Value;

use crate::support::{
    OPERATOR_PASSWORD, Reply, World, call, get_with_cookie, operator_session, send,
    sign_in_request, world,
};

const READER: &str = "read:logs";

/// The events of `GET /api/v2/logs?{query}`, and the reply.
async fn logs(world: &World, token: &str, query: &str) -> (Vec<Value>, Reply) {
    let reply = call(
        &world.router,
        "GET",
        &format!("/api/v2/logs?{query}"),
        token,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let events = reply.json().as_array().unwrap().clone();
    (events, reply)
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect()
}

/// A world where the operator signed in once with a wrong password and once rightly, a
/// Management API client rotated, revoked, created and deleted a client.
async fn eventful_world() -> (World, String, String) {
    let world = world().await;
    let wrong = send(&world.router, sign_in_request("not the password", &[])).await;
    assert!(wrong.status.is_redirection() || wrong.status == 401);
    let cookie = operator_session(&world).await;
    let admin = world
        .token("read:signing_keys create:signing_keys update:signing_keys create:clients delete:clients")
        .await;
    let rotated = call(&world.router, "POST", "/api/v2/keys/signing/rotate", &admin).await;
    assert_eq!(rotated.status, 201, "{}", rotated.text());
    let previous = world
        .keys
        .published()
        .keys
        .iter()
        .find(|key| key.record.state.as_str() == "previous")
        .unwrap()
        .record
        .kid
        .clone();
    let revoked = call(
        &world.router,
        "PUT",
        &format!("/api/v2/keys/signing/{previous}/revoke"),
        &admin,
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    // The revoked key signed `admin`'s token: a fresh one, from the new current key.
    let admin = world.token("create:clients delete:clients").await;
    let created = crate::support::post_json(
        &world.router,
        "/api/v2/clients",
        &admin,
        r#"{"name": "shipper", "scopes": ["read:logs"]}"#,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let shipper = created.json()["client_id"].as_str().unwrap().to_owned();
    let deleted = call(
        &world.router,
        "DELETE",
        &format!("/api/v2/clients/{shipper}"),
        &admin,
    )
    .await;
    assert_eq!(deleted.status, 204);
    (world, cookie, previous)
}

#[tokio::test]
async fn every_change_and_sign_in_is_in_the_trail_newest_first() {
    let (world, _, revoked) = eventful_world().await;
    let token = world.token(READER).await;
    let (events, _) = logs(&world, &token, "").await;
    // The test world's own clients were made by `cli:test`; every client the token endpoint
    // issued for is in the trail too.
    let seen = types(&events);
    let position = |kind: &str| seen.iter().position(|t| *t == kind).unwrap();
    assert!(position("delete_client") < position("revoke"), "{seen:?}");
    assert!(position("revoke") < position("rotate"), "{seen:?}");
    assert!(position("rotate") < position("sign_in"), "{seen:?}");
    assert!(position("sign_in") < position("sign_in_failed"), "{seen:?}");
    assert_eq!(seen.last(), Some(&"provision"));
    let revoke = &events[position("revoke")];
    assert_eq!(revoke["kid"], revoked.as_str());
    assert_eq!(revoke["description"], "Revoked a signing key");
    assert!(revoke["hostname"].is_string(), "{revoke}");
    assert!(revoke["actor"].as_str().unwrap().len() > 8, "{revoke}");
    let failed = &events[position("sign_in_failed")];
    assert_eq!(failed["actor"], "operator");
    assert_eq!(failed["details"]["detail"], "wrong password");
    // log_ids count up in commit order.
    let ids: Vec<i64> = events
        .iter()
        .map(|e| e["log_id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");
    // One event by id; an unknown one is a 404 in the API's shape.
    let one = call(
        &world.router,
        "GET",
        &format!("/api/v2/logs/{}", ids[0]),
        &token,
    )
    .await;
    assert_eq!(one.json()["type"], events[0]["type"]);
    for unknown in ["999999", "x", "-1"] {
        let reply = call(
            &world.router,
            "GET",
            &format!("/api/v2/logs/{unknown}"),
            &token,
        )
        .await;
        assert_eq!(reply.status, 404);
        assert_eq!(reply.json()["errorCode"], "inexistent_log");
    }
}

#[tokio::test]
async fn a_checkpoint_reads_forward_and_its_link_follows_on() {
    let (world, _, _) = eventful_world().await;
    let token = world.token(READER).await;
    let (first, reply) = logs(&world, &token, "from=0&take=3").await;
    assert_eq!(first.len(), 3);
    assert_eq!(first[0]["type"], "provision");
    let ids: Vec<String> = first
        .iter()
        .map(|e| e["log_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert_eq!(
        reply.header("link"),
        "</api/v2/logs?from=3&take=3>; rel=\"next\""
    );
    // Follow the links to the end: every event once, in order, and then the same link again.
    let mut next = "from=3&take=3".to_owned();
    let mut all = first;
    loop {
        let (batch, reply) = logs(&world, &token, &next).await;
        let link = reply.header("link").to_owned();
        let following = link
            .trim_start_matches("</api/v2/logs?")
            .split('>')
            .next()
            .unwrap()
            .to_owned();
        if batch.is_empty() {
            assert_eq!(following, next);
            break;
        }
        all.extend(batch);
        next = following;
    }
    let (newest_first, _) = logs(&world, &token, "per_page=100").await;
    assert_eq!(all.len(), newest_first.len());
    assert_eq!(all.last(), newest_first.first());
}

#[tokio::test]
async fn a_search_filters_on_type_and_pages_newest_first() {
    let (world, _, _) = eventful_world().await;
    let token = world.token(READER).await;
    let (rotations, _) = logs(&world, &token, "q=type:rotate").await;
    assert_eq!(types(&rotations), ["rotate"]);
    let (either, _) = logs(&world, &token, "q=type%3A(revoke%20OR%20sign_in)").await;
    assert_eq!(types(&either), ["revoke", "sign_in"]);
    let (page0, reply) = logs(&world, &token, "per_page=2").await;
    assert_eq!(page0.len(), 2);
    assert_eq!(
        reply.header("link"),
        "</api/v2/logs?page=1&per_page=2>; rel=\"next\""
    );
    let (page1, _) = logs(&world, &token, "page=1&per_page=2").await;
    assert_ne!(page0[1]["log_id"], page1[0]["log_id"]);
    for bad in [
        "q=actor:operator",
        "q=type:drop_table",
        "take=0",
        "per_page=101",
        "from=abc",
        "include_totals=true",
    ] {
        let reply = call(&world.router, "GET", &format!("/api/v2/logs?{bad}"), &token).await;
        assert_eq!(reply.status, 400, "{bad}");
        assert_eq!(reply.json()["errorCode"], "invalid_query_string", "{bad}");
    }
}

#[tokio::test]
async fn reading_the_trail_takes_the_read_logs_scope() {
    let world = world().await;
    let keys_only = world.token("read:signing_keys").await;
    let reply = call(&world.router, "GET", "/api/v2/logs", &keys_only).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["errorCode"], "insufficient_scope");
    let anonymous = send(
        &world.router,
        Request::get("/api/v2/logs").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn no_method_or_page_edits_or_deletes_an_event() {
    let (world, cookie, _) = eventful_world().await;
    let token = world
        .token("read:logs read:signing_keys create:signing_keys update:signing_keys create:clients delete:clients")
        .await;
    let (before, _) = logs(&world, &token, "per_page=100").await;
    for path in ["/api/v2/logs", "/api/v2/logs/1", "/api/v2/logs/2"] {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let reply = call(&world.router, method, path, &token).await;
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(reply.header("allow"), "GET,HEAD", "{method} {path}");
        }
    }
    // The dashboard has no server function that writes to the trail, and its pages take no
    // other method.
    for path in [
        "/_signet/delete_log",
        "/_signet/delete_logs",
        "/_signet/clear_logs",
        "/_signet/update_log",
    ] {
        let request = Request::post(path)
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("log_id=1"))
            .unwrap();
        let reply = send(&world.router, request).await;
        assert!(
            reply.status == 404 || reply.status == 405,
            "{path}: {}",
            reply.status
        );
    }
    for method in ["POST", "PUT", "DELETE"] {
        for path in ["/tenant/logs", "/tenant/logs/export.csv"] {
            let request = Request::builder()
                .method(method)
                .uri(path)
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap();
            let status = send(&world.router, request).await.status;
            assert!(status == 404 || status == 405, "{method} {path}: {status}");
        }
    }
    let (after, _) = logs(&world, &token, "per_page=100").await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn the_logs_page_filters_pages_and_exports() {
    let (world, cookie, revoked) = eventful_world().await;
    let page = get_with_cookie(&world.router, "/tenant/logs", &cookie).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("data-testid=\"log-table\""), "{html}");
    assert!(html.contains("Revoked a signing key") && html.contains(&revoked));
    assert!(html.contains("data-type=\"sign_in_failed\""));
    let rows = html.matches("data-testid=\"log-row\"").count();
    let filtered = get_with_cookie(&world.router, "/tenant/logs?type=revoke", &cookie)
        .await
        .text();
    assert_eq!(filtered.matches("data-testid=\"log-row\"").count(), 1);
    let by_operator = get_with_cookie(&world.router, "/tenant/logs?actor=operator", &cookie)
        .await
        .text();
    assert_eq!(
        by_operator.matches("data-testid=\"log-row\"").count(),
        2,
        "the two sign-ins"
    );
    let everywhere = get_with_cookie(&world.router, "/tenant/logs?tenant=*", &cookie)
        .await
        .text();
    assert_eq!(everywhere.matches("data-testid=\"log-row\"").count(), rows);
    let bad = get_with_cookie(&world.router, "/tenant/logs?before=not-a-cursor", &cookie).await;
    assert!(bad.text().contains("not one Signet made"), "{}", bad.text());

    let csv = get_with_cookie(&world.router, "/tenant/logs/export.csv", &cookie).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
    assert!(
        csv.header("content-disposition")
            .starts_with("attachment; filename=\"signet-logs-")
    );
    let text = csv.text();
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("log_id,date,type,description,actor,ip,kid,tenant,detail")
    );
    assert_eq!(text.matches("\r\n").count(), rows + 1);
    let ndjson = get_with_cookie(
        &world.router,
        "/tenant/logs/export.ndjson?type=revoke",
        &cookie,
    )
    .await;
    assert_eq!(ndjson.header("content-type"), "application/x-ndjson");
    let lines: Vec<Value> = ndjson
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["kid"], revoked.as_str());
    // Signed out, neither the page nor an export is served.
    let anonymous = send(
        &world.router,
        Request::get("/tenant/logs/export.csv")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(anonymous.status.is_redirection() || anonymous.status == 401);
}

#[tokio::test]
async fn the_logs_page_pages_back_through_a_long_trail() {
    let world = world().await;
    let cookie = operator_session(&world).await;
    // 120 sign-ins: more than two pages of 50.
    for _ in 0..119 {
        let reply = send(&world.router, sign_in_request(OPERATOR_PASSWORD, &[])).await;
        assert!(reply.status.is_redirection());
    }
    let mut path = "/tenant/logs?type=sign_in".to_owned();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let html = get_with_cookie(&world.router, &path, &cookie).await.text();
        assert!(html.contains("log-table"), "{html}");
        seen.extend(html.match_indices("data-log-id=\"").map(|(at, found)| {
            html[at + found.len()..]
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        }));
        let Some(at) = html.find("data-testid=\"older-events\"") else {
            break;
        };
        let tag_start = html[..at].rfind("<a").unwrap();
        let href = html[tag_start..].split("href=\"").nth(1).unwrap();
        path = href.split('"').next().unwrap().replace("&amp;", "&");
    }
    assert_eq!(seen.len(), 120, "every sign-in once");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 120);
}
