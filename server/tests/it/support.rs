//! Builds a fresh, isolated Signet world per test: its own database, master key and router.

use std::sync::Arc;

use app::algorithm::KeySpec;

use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, Request, StatusCode},
};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use signet::{
    config::Config,
    domain::{
        Actor,
        lifecycle::{Change, Operation},
        material::{KeyKind, PrivateKey, new_kid, self_signed_certificate},
        rotation_limit::RotationLimit,
        schedule::RotationGate,
        sealing::MasterKey,
    },
    http::{AppState, router},
    services::{
        ServiceError, ServiceParts, Services,
        clock::{Clock, SettableClock, SharedClock},
        database_health::DatabaseHealth,
        key_change,
        key_source::FixtureKeys,
        keys::KeyService,
        spare_keys::{Refill, SpareKeys},
    },
    startup,
    store::{NewKey, SqlStore},
};
use tower::ServiceExt;

pub const TENANT: &str = "tenant.signet.test";
pub const OPERATOR_PASSWORD: &str = "operator password for tests";

pub const FIXTURES: [&str; 3] = [
    include_str!("../../fixtures/rsa-2048-a.pk8.pem"),
    include_str!("../../fixtures/rsa-2048-b.pk8.pem"),
    include_str!("../../fixtures/rsa-2048-c.pk8.pem"),
];

/// The kids of a JWKS document, in order.
pub fn jwks_kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The time now, as a test's edge reads it.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

pub fn actor() -> Actor {
    Actor {
        name: "test".into(),
        remote_addr: Some("192.0.2.7".into()),
        rate_limited: true,
    }
}

pub fn master() -> MasterKey {
    MasterKey::from_bytes([42; 32])
}

/// A key made from fixture `index`, sealed under [`master`]: no RSA generation needed.
pub fn fixture_key(index: usize) -> NewKey {
    let private = PrivateKey::from_pkcs8_pem(FIXTURES[index]).unwrap();
    let kid = new_kid();
    let cert_der = self_signed_certificate(&private, TENANT, Utc::now()).unwrap();
    let sealed = master()
        .seal(&kid, &private.to_pkcs8_der().unwrap())
        .unwrap();
    NewKey {
        kid,
        spec: KeySpec::DEFAULT,
        cert_der,
        sealed,
    }
}

/// The reason PostgreSQL variants are `#[ignore]`d: `cargo test -- --include-ignored` with
/// `SIGNET_TEST_DATABASE_URL` set runs them (`make unit` does when it is set).
pub const NEEDS_POSTGRES: &str = "needs PostgreSQL: set SIGNET_TEST_DATABASE_URL";

/// The URL of a fresh, empty schema on the PostgreSQL server named by `SIGNET_TEST_DATABASE_URL`.
/// Only `#[ignore]`d tests call it: run without the variable, they fail and say why.
pub async fn postgres_schema_url(what: &str) -> String {
    let base = std::env::var("SIGNET_TEST_DATABASE_URL")
        .unwrap_or_else(|_| panic!("{what} on PostgreSQL: {NEEDS_POSTGRES}"));
    let schema = format!("signet_test_{}", new_kid().to_lowercase().replace('-', "_"));
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

/// An empty in-memory SQLite store, migrated.
pub async fn sqlite_store() -> SqlStore {
    SqlStore::connect("sqlite::memory:").await.unwrap()
}

/// Stores a tenant's first two keys, as the key service does at first start.
pub async fn provision(store: &SqlStore, current: NewKey, next: NewKey) -> bool {
    key_change::provision(
        store,
        KeySpec::DEFAULT,
        &current,
        &next,
        &actor(),
        Utc::now(),
    )
    .await
    .unwrap()
}

/// One attempt at `op` through the store's transaction, as the key service makes it.
pub async fn apply(
    store: &SqlStore,
    op: &Operation,
    new_key: Option<NewKey>,
    actor: &Actor,
    now: DateTime<Utc>,
    limit: Option<RotationLimit>,
) -> Result<Change, ServiceError> {
    let gate = RotationGate::Unchecked;
    let change = key_change::apply_once(store, op, new_key.as_ref(), actor, now, limit, gate);
    Ok(change
        .await?
        .expect("an unchecked rotation always goes ahead"))
}

/// A store provisioned with two fixture keys.
pub async fn provisioned_store() -> Arc<SqlStore> {
    let store = sqlite_store().await;
    assert!(provision(&store, fixture_key(0), fixture_key(1)).await);
    Arc::new(store)
}

/// New keys from the fixture files: no RSA generation in tests.
pub fn fixture_keys() -> Arc<FixtureKeys> {
    Arc::new(FixtureKeys::new(FIXTURES).unwrap())
}

pub struct World {
    pub keys: KeyService,
    pub signing: signet::services::signing::SigningService,
    pub schedule: signet::services::schedule::ScheduleService,
    pub clients: signet::services::clients::ClientService,
    pub store: Arc<SqlStore>,
    /// The time the world's handlers read; starts at the wall clock's.
    pub clock: Arc<SettableClock>,
    pub router: Router,
}

/// Settings of a test world: defaults, with the rotation limit and request limit adjustable.
pub fn settings(rotation_limit_per_day: u32, api_rate_limit_per_minute: u32) -> Config {
    Config::from_toml(&format!(
        "tenant_domain = \"{TENANT}\"\nrotation_limit_per_day = {rotation_limit_per_day}\n\
         api_rate_limit_per_minute = {api_rate_limit_per_minute}\npublication_window_secs = 0"
    ))
    .unwrap()
}

/// Every service on `store` under `master`, with fixture keys and `clock`.
pub async fn try_start_services(
    store: Arc<SqlStore>,
    master: MasterKey,
    config: &Config,
    clock: SharedClock,
) -> Result<Services, ServiceError> {
    let parts = ServiceParts {
        store,
        master: Arc::new(master),
        tenant_domain: TENANT.to_owned(),
        clock,
        spare_keys: SpareKeys::new(fixture_keys(), KeyKind::Rsa(2048), Refill::InTheBackground),
        health: DatabaseHealth::default(),
        options: startup::key_service_options(config),
        metrics: signet::services::metrics::Metrics::default(),
    };
    Services::start(parts, &actor()).await
}

/// Every service on `store`, with the wall clock.
pub async fn start_services(store: Arc<SqlStore>, config: &Config) -> Services {
    let clock = Arc::new(SettableClock::at(Utc::now()));
    try_start_services(store, master(), config, clock)
        .await
        .unwrap()
}

pub async fn start_service(store: Arc<SqlStore>, settings: &Config) -> KeyService {
    start_services(store, settings).await.keys
}

pub async fn world() -> World {
    world_with(settings(100, 1000)).await
}

pub async fn world_with(settings: Config) -> World {
    world_on(provisioned_store().await, settings).await
}

/// A world on `store`, which may be empty (the service then provisions it).
pub async fn world_on(store: Arc<SqlStore>, settings: Config) -> World {
    world_serving(store, settings, leptos_options()).await
}

/// The Leptos options of a test world: no site files (`target/site` of the test's directory).
pub fn leptos_options() -> leptos::prelude::LeptosOptions {
    leptos::prelude::LeptosOptions::builder()
        .output_name("signet")
        .build()
}

/// A world on `store` whose dashboard is built with `options` (its site root, say).
pub async fn world_serving(
    store: Arc<SqlStore>,
    settings: Config,
    options: leptos::prelude::LeptosOptions,
) -> World {
    let clock = Arc::new(SettableClock::at(Utc::now()));
    let services = try_start_services(store.clone(), master(), &settings, clock.clone())
        .await
        .unwrap();
    services
        .operator
        .set_password(OPERATOR_PASSWORD)
        .await
        .unwrap();
    let (keys, clients) = (services.keys.clone(), services.clients.clone());
    let (signing, schedule) = (services.signing.clone(), services.schedule.clone());
    let state = AppState::new(services, options, startup::api_settings(&settings));
    World {
        router: router(state),
        keys,
        signing,
        schedule,
        clients,
        store,
        clock,
    }
}

/// The signing policy of the test world's clients.
pub fn test_policy() -> signet::domain::signing_policy::SigningPolicy {
    signet::domain::signing_policy::SigningPolicy::parse(
        "https://app.example https://api.example",
        3600,
    )
    .unwrap()
}

impl World {
    /// A client with `scopes`, and its secret.
    pub async fn client(&self, scopes: &str) -> (String, String) {
        let client = self
            .clients
            .create(
                "test client",
                scopes,
                test_policy(),
                &Actor::command_line("test"),
                self.clock.now(),
            )
            .await
            .unwrap();
        (client.client_id, client.client_secret)
    }

    /// An access token for a new client with `scopes`.
    pub async fn token(&self, scopes: &str) -> String {
        let (id, secret) = self.client(scopes).await;
        let reply = post_form(
            &self.router,
            "/oauth/token",
            &format!(
                "grant_type=client_credentials&client_id={id}&client_secret={secret}\
                 &audience=https://{TENANT}/api/v2/"
            ),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }
}

pub async fn post_form(router: &Router, uri: &str, body: &str) -> Reply {
    let request = Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(router, request).await
}

/// `times` rotations through the Management API, each answered 201.
pub async fn rotate_times(world: &World, times: usize) {
    let token = world.token("create:signing_keys update:signing_keys").await;
    for _ in 0..times {
        let rotated = call(&world.router, "POST", "/api/v2/keys/signing/rotate", &token).await;
        assert_eq!(rotated.status, 201, "{}", rotated.text());
    }
}

/// `method uri` with a bearer token.
pub async fn call(router: &Router, method: &str, uri: &str, token: &str) -> Reply {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(router, request).await
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }
}

/// How long a request may go unanswered before its test fails naming it: a hang guard (a stalled
/// request is a bug, and a test suite that waits on it forever tells nobody which), not a speed
/// budget.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(120);

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let named = format!("{} {}", request.method(), request.uri());
    let answer = async {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    };
    match tokio::time::timeout(HANG_GUARD, answer).await {
        Ok(reply) => reply,
        Err(_) => panic!("{named} was not answered within {HANG_GUARD:?}: it hangs"),
    }
}

pub async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// The dashboard's sign-in form posted with `password`, from the same site unless `headers` say
/// otherwise (`origin`, `cookie`, …).
pub fn sign_in_request(password: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post("/_signet/sign_in")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .header("host", "signet.test");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = format!("password={}", password.replace(' ', "+"));
    request.body(Body::from(body)).unwrap()
}

/// The `name=value` of the cookie a reply sets.
pub fn session_cookie(reply: &Reply) -> String {
    let cookie = reply.header("set-cookie");
    cookie.split(';').next().unwrap().to_owned()
}

/// Signs the operator in; the `name=value` session cookie.
pub async fn operator_session(world: &World) -> String {
    let reply = send(&world.router, sign_in_request(OPERATOR_PASSWORD, &[])).await;
    assert!(reply.status.is_redirection(), "{}", reply.text());
    session_cookie(&reply)
}

/// The kid of the key `keys` publishes in `state` (current or next: there is exactly one).
pub fn kid_in(keys: &KeyService, state: app::keys::KeyState) -> String {
    keys.published()
        .keys
        .iter()
        .find(|k| k.record.state == state)
        .unwrap()
        .record
        .kid
        .clone()
}

/// `GET uri` as a browser holding `cookie`.
pub async fn get_with_cookie(router: &Router, uri: &str, cookie: &str) -> Reply {
    let request = Request::get(uri)
        .header("cookie", cookie)
        .header("accept", "text/html")
        .body(Body::empty())
        .unwrap();
    send(router, request).await
}

/// `POST uri` with a bearer token and a JSON body (given as text, so a test can send JSON that
/// serde would not write, such as a member given twice).
pub async fn post_json(router: &Router, uri: &str, token: &str, body: &str) -> Reply {
    let request = Request::post(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(router, request).await
}
