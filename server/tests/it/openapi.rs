//! The OpenAPI document (SPEC §14): served at `/api/v2/openapi.json`, generated from the
//! handlers, and checked here against the routes the router actually serves.

use axum::{body::Body, http::Request};

use crate::support::{get, kid_in, send, world};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

const EVERY_SCOPE: &str = "read:signing_keys create:signing_keys update:signing_keys sign:tokens \
                           create:clients read:clients delete:clients read:logs";

#[tokio::test]
async fn the_document_names_exactly_the_operations_the_router_serves() {
    let world = world().await;
    let reply = get(&world.router, "/api/v2/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-type").starts_with("application/json"));
    let document = reply.json();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{document}"
    );
    let token = world.token(EVERY_SCOPE).await;
    // The next key: revoking it is refused, so the token (signed by the current key) stays good.
    let next = kid_in(&world.keys, app::keys::KeyState::Next);
    let paths = document["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{kid}", &next)
            .replace("{client_id}", "no-such-client")
            .replace("{id}", "1");
        let item = item.as_object().unwrap();
        for method in METHODS {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let reply = send(&world.router, request).await;
            if let Some(operation) = item.get(method) {
                operations += 1;
                // Served: whatever the answer, it is the operation's, not the router's refusal.
                assert_ne!(reply.status, 405, "{method} {path}: {}", reply.text());
                let routed_nowhere =
                    reply.status == 404 && reply.text().contains("\"errorCode\":\"not_found\"");
                assert!(
                    !routed_nowhere,
                    "{method} {path} is documented but not served"
                );
                let status = reply.status.as_str().to_owned();
                assert!(
                    operation["responses"].get(&status).is_some(),
                    "{method} {path} answered {status}, which its document does not list"
                );
                if path.starts_with("/api/v2/") && path != "/api/v2/openapi.json" {
                    assert!(
                        operation["security"][0]["bearer"].is_array(),
                        "{method} {path} names its scopes"
                    );
                }
            } else {
                assert_eq!(
                    reply.status,
                    405,
                    "{method} {path} is served but not documented: {}",
                    reply.text()
                );
            }
        }
    }
    // The four Auth0 endpoints, the policy, usage, signing, clients and logs, the token
    // endpoint and the document itself.
    assert_eq!(
        operations,
        16,
        "{}",
        serde_json::to_string_pretty(paths).unwrap()
    );
    // Every schema an operation refers to is in the document.
    let text = document.to_string();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            schemas.contains_key(name),
            "{name} is referred to but missing"
        );
    }
}
