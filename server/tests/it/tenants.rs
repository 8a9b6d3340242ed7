//! Several tenants in one deployment (docs/design.md §15; issue 15), through real processes: a
//! tenant created with the CLI is served by a running server for requests whose `Host` names
//! it, with its own issuer and keys, and nothing of one tenant is accepted by the other.

use std::time::{Duration, Instant};

use serde_json::Value;

use signet::store::{KeyStore, TenantStore};

use crate::process::{
    ALL_SCOPES, Answer, Api, Deployment, TENANT, checked_keys, kids_of, valid_kids,
};

const ACME: &str = "acme.example.com";

/// The JWKS served for `host` once its kids pass `check`: servers follow the database every
/// 500 ms, so a change made elsewhere shows within a moment; 20 s means it never will.
async fn jwks_once(api: &Api, host: &str, check: impl Fn(&[String]) -> bool) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = api.get_as(host, "/.well-known/jwks.json", None).await;
        if check(&kids_of(&answer.json()["keys"])) {
            return answer;
        }
        assert!(Instant::now() < deadline, "{host} serves {}", answer.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_created_with_the_cli_is_served_by_host_and_shares_nothing() {
    let deployment = Deployment::sqlite();
    let client = deployment.create_client().await;
    let server = deployment.start_server().await;
    let api = &server.api;

    let run = deployment.signet(&["tenants", "create", ACME]).await;
    assert!(run.status.success(), "{}", run.stderr);
    let created: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(created["issuer"], format!("https://{ACME}/"));
    let acme_current = created["current_kid"].as_str().unwrap().to_owned();
    let again = deployment.signet(&["tenants", "create", ACME]).await;
    assert!(!again.status.success(), "a domain is one tenant's");

    // The running server serves it within its 2 s look for new tenants.
    let acme_jwks = jwks_once(api, ACME, |kids| kids.first() == Some(&acme_current)).await;
    let default_kids = api.jwks_kids().await;
    let acme_kids = kids_of(&acme_jwks.json()["keys"]);
    assert_eq!(acme_kids.len(), 2);
    assert!(acme_kids.iter().all(|kid| !default_kids.contains(kid)));
    let discovery = api
        .get_as(ACME, "/.well-known/openid-configuration", None)
        .await;
    assert_eq!(discovery.json()["issuer"], format!("https://{ACME}/"));
    // An unknown host is the default tenant's.
    let unknown = api
        .get_as("unknown.example.com", "/.well-known/jwks.json", None)
        .await;
    assert_eq!(kids_of(&unknown.json()["keys"]), default_kids);

    // The default tenant's client and tokens are nothing at acme.
    assert_eq!(api.token_as(ACME, &client).await.status, 401);
    let token = api.token(&client).await;
    assert_eq!(
        api.get_as(TENANT, "/api/v2/keys/signing", Some(&token))
            .await
            .status,
        200
    );
    let refused = api.get_as(ACME, "/api/v2/keys/signing", Some(&token)).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let refused = api
        .get_as(
            ACME,
            &format!("/api/v2/keys/signing/{}", default_kids[0]),
            Some(&token),
        )
        .await;
    assert_eq!(refused.status, 401);

    // A rotation in the default tenant leaves acme's JWKS, byte for byte, as it was.
    let run = deployment.signet(&["keys", "rotate"]).await;
    assert!(run.status.success(), "{}", run.stderr);
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.jwks_kids().await == default_kids {
        assert!(
            Instant::now() < deadline,
            "the default tenant's rotation is not served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = api.get_as(ACME, "/.well-known/jwks.json", None).await;
    assert_eq!(after.body, acme_jwks.body);

    let acme_client = the_cli_acts_on_a_tenant_with_tenant(&deployment, api, &acme_kids).await;

    let listed = deployment.signet(&["tenants", "list", "--json"]).await;
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let domains: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["domain"].as_str().unwrap())
        .collect();
    assert_eq!(domains, [TENANT, ACME]);

    deleting_a_tenant_destroys_its_keys_and_clients(&deployment, api, &acme_client).await;
}

/// `tenants delete` needs `--yes`, never takes the default tenant, and then leaves nothing of
/// the tenant served: its host is the default tenant's again, its client is gone, and only its
/// audit trail stays.
async fn deleting_a_tenant_destroys_its_keys_and_clients(
    deployment: &Deployment,
    api: &Api,
    acme_client: &(String, String),
) {
    let run = deployment.signet(&["tenants", "delete", ACME]).await;
    assert!(
        !run.status.success() && run.stderr.contains("--yes"),
        "{}",
        run.stderr
    );
    assert_eq!(api.token_as(ACME, acme_client).await.status, 200);
    let run = deployment
        .signet(&["tenants", "delete", TENANT, "--yes"])
        .await;
    assert!(
        !run.status.success() && run.stderr.contains("default tenant"),
        "{}",
        run.stderr
    );

    let run = deployment
        .signet(&["tenants", "delete", ACME, "--yes"])
        .await;
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.stdout.contains("destroyed 2 keys"), "{}", run.stdout);
    let default_kids = api.jwks_kids().await;
    // No longer served: its host is the default tenant's.
    jwks_once(api, ACME, |kids| kids == default_kids.as_slice()).await;
    assert_eq!(api.token_as(ACME, acme_client).await.status, 401);
    let listed = deployment.signet(&["tenants", "list", "--json"]).await;
    assert!(!listed.stdout.contains(ACME), "{}", listed.stdout);
    let run = deployment.signet(&["keys", "list", "--tenant", ACME]).await;
    assert!(!run.status.success(), "{}", run.stdout);

    let audit = deployment
        .signet(&["audit", "list", "--tenant", ACME, "--json"])
        .await;
    assert!(audit.status.success(), "{}", audit.stderr);
    let actions: Vec<String> = audit
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["action"].to_string())
        .collect();
    assert_eq!(
        actions.first().map(String::as_str),
        Some("\"delete_tenant\"")
    );
    assert!(
        actions.len() >= 2,
        "the tenant's earlier events stay: {actions:?}"
    );

    // The domain is free again: a new tenant by that name has new keys.
    let run = deployment.signet(&["tenants", "create", ACME]).await;
    assert!(run.status.success(), "{}", run.stderr);
}

/// `--tenant` makes the CLI act on that tenant: its client gets tokens there and nowhere else.
async fn the_cli_acts_on_a_tenant_with_tenant(
    deployment: &Deployment,
    api: &Api,
    acme_kids: &[String],
) -> (String, String) {
    let run = deployment
        .signet(&[
            "clients", "create", "--tenant", ACME, "--name", "acme ci", "--scopes", ALL_SCOPES,
        ])
        .await;
    assert!(run.status.success(), "{}", run.stderr);
    let created: Value = serde_json::from_str(&run.stdout).unwrap();
    let acme_client = (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    );
    assert_eq!(api.token_as(TENANT, &acme_client).await.status, 401);
    let answer = api.token_as(ACME, &acme_client).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let acme_token = answer.json()["access_token"].as_str().unwrap().to_owned();
    let listed = api
        .get_as(ACME, "/api/v2/keys/signing", Some(&acme_token))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(kids_of(&listed.json()), acme_kids);
    assert_eq!(
        api.get_as(TENANT, "/api/v2/keys/signing", Some(&acme_token))
            .await
            .status,
        401
    );
    let run = deployment
        .signet(&["keys", "list", "--tenant", ACME, "--json"])
        .await;
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(
        kids_of(&serde_json::from_str(&run.stdout).unwrap()),
        acme_kids
    );
    let run = deployment
        .signet(&["keys", "list", "--tenant", "nobody.example.com"])
        .await;
    assert!(
        !run.status.success() && run.stderr.contains("there is no tenant"),
        "{}",
        run.stderr
    );
    let run = deployment
        .signet(&["backup", "x.db", "--tenant", ACME])
        .await;
    assert!(!run.status.success(), "{}", run.stdout);
    acme_client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_processes_create_rotate_and_delete_tenants_at_once() {
    tenants_change_at_once(Deployment::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set SIGNET_TEST_DATABASE_URL"]
async fn postgres_two_processes_create_rotate_and_delete_tenants_at_once() {
    tenants_change_at_once(Deployment::postgres("the concurrent tenants test").await).await;
}

/// Two CLI processes at a time create the same tenants, then rotate and delete them, while a
/// server follows: every domain is one tenant, every key of a live tenant is certified for that
/// tenant's domain and keeps the key-set invariants, a deleted tenant has no key left, and the
/// server serves each live tenant's keys and nothing else under its host.
async fn tenants_change_at_once(deployment: Deployment) {
    use futures_util::future::join_all;
    let server = deployment.start_server().await;
    let domains: Vec<String> = (1..=4).map(|n| format!("c{n}.example.com")).collect();
    let creations: Vec<[&str; 3]> = domains
        .iter()
        .flat_map(|d| [["tenants", "create", d.as_str()]; 2])
        .collect();
    let created = join_all(creations.iter().map(|args| deployment.signet(args))).await;
    for (pair, domain) in created.chunks(2).zip(&domains) {
        let won: Vec<_> = pair.iter().filter(|run| run.status.success()).collect();
        assert_eq!(won.len(), 1, "{domain}: {pair:?}");
    }

    // At once: the odd tenants rotate twice, the even ones are deleted, one more is created.
    let mut changes = Vec::new();
    for (n, domain) in domains.iter().enumerate() {
        if n % 2 == 0 {
            changes.push(vec!["keys", "rotate", "--tenant", domain]);
            changes.push(vec!["keys", "rotate", "--tenant", domain]);
        } else {
            changes.push(vec!["tenants", "delete", domain, "--yes"]);
        }
    }
    changes.push(vec!["tenants", "create", "c5.example.com"]);
    let runs = join_all(changes.iter().map(|args| deployment.signet(args))).await;
    for (args, run) in changes.iter().zip(&runs) {
        assert!(run.status.success(), "{args:?}: {}", run.stderr);
    }

    let store = deployment.store().await;
    let master = deployment.master_key();
    let live = store.list_tenants().await.unwrap();
    // Created at once, so in no particular order.
    let mut live_domains: Vec<&str> = live.iter().map(|t| t.domain.as_str()).collect();
    live_domains.sort_unstable();
    assert_eq!(
        live_domains,
        ["c1.example.com", "c3.example.com", "c5.example.com", TENANT]
    );
    for tenant in &live {
        let stored = checked_keys(&store.for_tenant(&tenant.id), &master).await;
        for key in &stored.keys {
            let names_it = key
                .cert_der
                .windows(tenant.domain.len())
                .any(|bytes| bytes == tenant.domain.as_bytes());
            assert!(
                names_it,
                "{} is not certified for {}",
                key.record.kid, tenant.domain
            );
        }
        let valid = valid_kids(&stored);
        jwks_once(&server.api, &tenant.domain, |kids| kids == valid.as_slice()).await;
    }
    for deleted in ["c2.example.com", "c4.example.com"] {
        let gone = store.tenant_named(deleted, true).await.unwrap().unwrap();
        assert!(
            store
                .for_tenant(&gone.id)
                .load(10)
                .await
                .unwrap()
                .keys
                .is_empty()
        );
    }
}

/// The dashboard creates a tenant (served at once) and switches to it: its pages and server
/// functions then answer as that tenant, while the JWKS still answers as the host's tenant, and
/// the choice opens nothing without a session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_creates_a_tenant_and_switches_to_it() {
    use reqwest::header::{ACCEPT, COOKIE, SET_COOKIE};
    let deployment = Deployment::sqlite();
    let server = deployment.start_server().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{path}", server.api.base);
    let first_cookie = |response: &reqwest::Response| {
        let value = response
            .headers()
            .get(SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap();
        value.split(';').next().unwrap().to_owned()
    };
    let signed_in = http
        .post(url("/_signet/sign_in"))
        .header(ACCEPT, "text/html")
        .form(&[("password", "process test operator password")])
        .send()
        .await
        .unwrap();
    let session = first_cookie(&signed_in);
    let create = |domain: &'static str| {
        http.post(url("/_signet/create_tenant"))
            .header(COOKIE, &session)
            .form(&[("domain", domain)])
            .send()
    };
    let created = create(" Dash.Example.COM ").await.unwrap();
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["domain"], "dash.example.com");
    // Served at once: no wait for the follower's next look.
    let dash_kids = kids_of(
        &server
            .api
            .get_as("dash.example.com", "/.well-known/jwks.json", None)
            .await
            .json()["keys"],
    );
    let default_kids = server.api.jwks_kids().await;
    assert_eq!(dash_kids.len(), 2);
    assert!(dash_kids.iter().all(|kid| !default_kids.contains(kid)));
    assert_eq!(create("not a domain").await.unwrap().status(), 400);
    assert_eq!(create("dash.example.com").await.unwrap().status(), 409);

    switching_picks_the_dashboards_tenant_only(
        &http,
        &url(""),
        &session,
        &dash_kids,
        &default_kids,
    )
    .await;
    deleting_asks_for_the_domain_again(&http, &server, &session, &default_kids).await;
}

/// The Tenants page deletes a tenant only when its domain is typed again, never the default
/// tenant, and the deleted tenant's host is the default tenant's at once.
async fn deleting_asks_for_the_domain_again(
    http: &reqwest::Client,
    server: &crate::process::Server,
    session: &str,
    default_kids: &[String],
) {
    use reqwest::header::{COOKIE, LOCATION};
    let delete = |domain: &'static str, confirm: &'static str, accept: &'static str| {
        http.post(format!("{}/_signet/delete_tenant", server.api.base))
            .header(COOKIE, session)
            .header(reqwest::header::ACCEPT, accept)
            .form(&[("domain", domain), ("confirm", confirm)])
            .send()
    };
    let json = "application/json";
    let unconfirmed = delete("dash.example.com", "dash.example", json)
        .await
        .unwrap();
    assert_eq!(unconfirmed.status(), 400);
    assert!(
        unconfirmed
            .text()
            .await
            .unwrap()
            .contains("DeleteNotConfirmed")
    );
    let default = delete(TENANT, TENANT, json).await.unwrap();
    assert_eq!(default.status(), 409);
    let unknown = delete("nobody.example.com", "nobody.example.com", json)
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let jwks = |host: &'static str| server.api.get_as(host, "/.well-known/jwks.json", None);
    assert_ne!(
        kids_of(&jwks("dash.example.com").await.json()["keys"]),
        default_kids
    );

    let deleted = delete("dash.example.com", " Dash.Example.com", "text/html")
        .await
        .unwrap();
    let location = deleted.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.ends_with("?deleted=dash.example.com"),
        "{location}"
    );
    // No longer served: its host is the default tenant's at once.
    assert_eq!(
        kids_of(&jwks("dash.example.com").await.json()["keys"]),
        default_kids
    );
}

/// The switch sets the tenant cookie for the dashboard only; an unknown tenant sets nothing,
/// and the cookie alone opens nothing.
async fn switching_picks_the_dashboards_tenant_only(
    http: &reqwest::Client,
    base: &str,
    session: &str,
    dash_kids: &[String],
    default_kids: &[String],
) {
    use reqwest::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};
    let url = |path: &str| format!("{base}{path}");
    let first_cookie = |response: &reqwest::Response| {
        let value = response
            .headers()
            .get(SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap();
        value.split(';').next().unwrap().to_owned()
    };
    let switch = |tenant: &'static str| {
        http.post(url("/_signet/switch_tenant"))
            .header(ACCEPT, "text/html")
            .header(COOKIE, session)
            .form(&[("tenant", tenant)])
            .send()
    };
    let switched = switch("dash.example.com").await.unwrap();
    assert!(switched.status().is_redirection());
    assert_eq!(switched.headers()[LOCATION], "/tenant/signing_keys");
    let choice = first_cookie(&switched);
    assert_eq!(choice, "signet_tenant=dash.example.com");
    let both = format!("{session}; {choice}");
    let page = http
        .get(url("/tenant/signing_keys"))
        .header(COOKIE, &both)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(&dash_kids[0]) && !page.contains(&default_kids[0]));
    let jwks = http
        .get(url("/.well-known/jwks.json"))
        .header(COOKIE, &both)
        .send()
        .await
        .unwrap();
    let jwks: Value = jwks.json().await.unwrap();
    assert_eq!(
        kids_of(&jwks["keys"]),
        default_kids,
        "the JWKS is the host's"
    );

    let unknown = switch("nobody.example.com").await.unwrap();
    let location = unknown.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.contains("failed=unknown_tenant"), "{location}");
    assert!(unknown.headers().get(SET_COOKIE).is_none());
    let without_session = http
        .get(url("/tenant/signing_keys"))
        .header(COOKIE, &choice)
        .send()
        .await
        .unwrap();
    assert_eq!(without_session.headers()[LOCATION], "/login");
}
