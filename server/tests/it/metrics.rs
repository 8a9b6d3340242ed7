//! `GET /metrics` (SPEC §14): scraped before and after what an operator does, the numbers move
//! as they should; on a listener of its own the public port never serves them; on the main port
//! they need the bearer token.

use crate::process::{Deployment, TENANT, free_local_addr};

/// The value of the one series named exactly `series` (name and labels), if scraped.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

async fn scrape(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn series(name: &str, labels: &str) -> String {
    format!("signet_{name}{{tenant=\"{TENANT}\",{labels}}}")
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one scrape before and one after an operator's story"
)]
async fn the_metrics_follow_tokens_and_key_changes_and_stay_off_the_public_port() {
    let deployment = Deployment::sqlite();
    let metrics_addr = free_local_addr();
    deployment.set("SIGNET_METRICS_ADDR", &metrics_addr);
    let server = deployment.start_server().await;
    let client = deployment.create_client().await;
    let url = format!("http://{metrics_addr}/metrics");

    let (status, before) = scrape(&url, None).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(
        value(&before, &series("keys", r#"state="current""#)),
        Some(1.0)
    );
    assert_eq!(
        value(&before, &series("keys", r#"state="next""#)),
        Some(1.0)
    );
    assert_eq!(value(&before, "signet_database_up"), Some(1.0));
    let version = value(
        &before,
        &format!("signet_key_set_version{{tenant=\"{TENANT}\"}}"),
    );
    let age = value(
        &before,
        &format!("signet_current_key_age_seconds{{tenant=\"{TENANT}\"}}"),
    );
    assert!(age.is_some_and(|age| age >= 0.0), "{before}");
    assert!(before.ends_with("# EOF\n"));

    let oauth = series("tokens_signed_total", r#"alg="RS256",path="oauth_token""#);
    let signed_before = value(&before, &oauth).unwrap_or(0.0);
    let token = server.api.token(&client).await;
    let rotated = server
        .api
        .call("POST", "/api/v2/keys/signing/rotate", &token)
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let es256 = server
        .api
        .try_patch_json(
            "/api/v2/keys/signing/policy",
            &token,
            r#"{"signing_alg":"ES256"}"#,
        )
        .await
        .unwrap();
    assert_eq!(es256.status, 200, "{}", es256.body);
    let missing = server
        .api
        .call("GET", "/api/v2/keys/signing/AAAAAAAAAAAAAAAAAAAAA", &token)
        .await;
    assert_eq!(missing.status, 404);

    // Every process polls the key set; wait until this one serves the changes.
    let after = loop {
        let (_, text) = scrape(&url, None).await;
        let now = value(
            &text,
            &format!("signet_key_set_version{{tenant=\"{TENANT}\"}}"),
        );
        if now >= version.map(|v| v + 2.0) {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(value(&after, &oauth), Some(signed_before + 1.0), "{after}");
    let change = |action: &str| {
        series(
            "key_changes_total",
            &format!("action=\"{action}\",actor=\"api\""),
        )
    };
    assert_eq!(value(&after, &change("rotate")), Some(1.0), "{after}");
    assert_eq!(value(&after, &change("replace_next")), Some(1.0), "{after}");
    assert_eq!(
        value(&after, &series("keys", r#"state="previous""#)),
        Some(1.0)
    );
    let requests = |route: &str, method: &str, status: u16| {
        format!(
            "signet_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
        )
    };
    assert_eq!(
        value(
            &after,
            &requests("/api/v2/keys/signing/rotate", "POST", 201)
        ),
        Some(1.0)
    );
    // By the route's template: no series per kid.
    assert_eq!(
        value(&after, &requests("/api/v2/keys/signing/{kid}", "GET", 404)),
        Some(1.0)
    );
    assert!(!after.contains("AAAAAAAAAAAAAAAAAAAAA"));
    assert!(after.contains("signet_http_request_duration_seconds_bucket"));

    // Apart from the public port: the main port serves no metrics.
    let public = server.api.get("/metrics").await;
    assert_eq!(public.status, 404);
    assert!(!public.body.contains("signet_keys"));
}

#[tokio::test]
async fn on_the_main_port_the_metrics_need_their_bearer_token() {
    let deployment = Deployment::sqlite();
    let secret = "metrics token of sixteen+ characters".replace(' ', "-");
    deployment.set("SIGNET_METRICS_TOKEN", &secret);
    let server = deployment.start_server().await;
    let url = format!("{}/metrics", server.api.base);
    for wrong in [None, Some("nope"), Some(&secret[1..])] {
        let (status, body) = scrape(&url, wrong).await;
        assert_eq!(status, 401, "{wrong:?}: {body}");
        assert!(!body.contains("signet_"), "{body}");
    }
    let (status, body) = scrape(&url, Some(&secret)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(value(&body, "signet_database_up"), Some(1.0));

    // A token too short to be one is a configuration error, said before anything runs.
    deployment.set("SIGNET_METRICS_TOKEN", "short");
    let refused = deployment.signet(&["keys", "list"]).await;
    refused.assert_refused_with("metrics_token");
}
