//! The Signet world every fuzz run shares: an in-memory database provisioned with the checked-in
//! fixture keys under fixed kids (so the fuzzer can find them in its dictionary), the real router,
//! a valid access token, and the keys to sign tokens of its own.
//!
//! Built once per process: RSA parsing and SQLite setup would otherwise dwarf each run.

use std::sync::{Arc, OnceLock};

use axum::{
    Router,
    body::{Body, Bytes},
    http::{Request, StatusCode},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey};
use rsa::{RsaPrivateKey, pkcs1::EncodeRsaPrivateKey, pkcs8::DecodePrivateKey};
use signet::{
    config::Config,
    domain::{
        Actor,
        material::{PrivateKey, self_signed_certificate},
        sealing::MasterKey,
    },
    http::{AppState, router},
    services::{
        ServiceParts, Services,
        clock::SystemClock,
        key_change,
        database_health::DatabaseHealth,
        key_source::FixtureKeys,
        spare_keys::SpareKeys,
        keys::KeyService,
        tokens::{self, Verifiers},
    },
    startup,
    store::{NewKey, SqlStore},
};
use tower::ServiceExt;

pub const TENANT: &str = "fuzz.signet.test";
/// The tenant's current key.
pub const CURRENT_KID: &str = "fuzzCurrentKey_000001";
/// The tenant's next key.
pub const NEXT_KID: &str = "fuzzNextKey_000000002";
/// A well-formed key the tenant does not hold: its tokens must always be refused.
pub const OUTSIDER_KID: &str = "fuzzOutsiderKey_00003";

const FIXTURES: [&str; 3] = [
    include_str!("../../server/fixtures/rsa-2048-a.pk8.pem"),
    include_str!("../../server/fixtures/rsa-2048-b.pk8.pem"),
    include_str!("../../server/fixtures/rsa-2048-c.pk8.pem"),
];

/// A status and body from the router.
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// Never a 5xx for hostile input; every refusal in Auth0's error shape with its own status.
    pub fn assert_not_a_server_error(&self, what: &str) {
        assert!(
            !self.status.is_server_error(),
            "{what}: {} {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        if self.status.is_client_error() {
            let body: serde_json::Value = serde_json::from_slice(&self.body)
                .unwrap_or_else(|_| panic!("{what}: a refusal that is not JSON: {:?}", self.body));
            assert_eq!(body["statusCode"], self.status.as_u16(), "{what}: {body}");
        }
    }

    /// The `errorCode` of an Auth0-shaped error body.
    pub fn error_code(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|body| body["errorCode"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

pub struct World {
    runtime: tokio::runtime::Runtime,
    router: Router,
    pub keys: KeyService,
    /// The tenant's verifiers, as the Management API holds them.
    pub verifiers: Verifiers,
    /// A valid token with every signing-key scope.
    pub token: String,
    /// Signing keys by kid: the tenant's two, and the outsider whose public key the tenant never
    /// had.
    signing_keys: Vec<(&'static str, EncodingKey)>,
}

/// The shared world, built on first use.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build_world)
}

fn fixture(index: usize) -> PrivateKey {
    PrivateKey::from_pkcs8_pem(FIXTURES[index]).expect("fixture key")
}

fn new_key(master: &MasterKey, kid: &str, index: usize) -> NewKey {
    let private = fixture(index);
    NewKey {
        kid: kid.to_owned(),
        cert_der: self_signed_certificate(&private, TENANT, Utc::now()).expect("certificate"),
        sealed: master
            .seal(kid, &private.to_pkcs8_der().expect("PKCS#8"))
            .expect("seal"),
    }
}

fn build_world() -> World {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // No rotation limit and a request limit no fuzzing session reaches: a 429 would hide
    // whatever the input does.
    let settings = Config::from_toml(&format!(
        "tenant_domain = \"{TENANT}\"\nrotation_limit_per_day = 0\n\
         api_rate_limit_per_minute = 4000000000"
    ))
    .expect("settings");
    let master = MasterKey::from_bytes([7; 32]);
    let actor = Actor {
        name: "fuzz".into(),
        remote_addr: None,
        rate_limited: false,
    };
    let options = startup::key_service_options(&settings);
    let services = runtime.block_on(async move {
        let store = SqlStore::connect("sqlite::memory:").await.expect("store");
        let (current, next) = (
            new_key(&master, CURRENT_KID, 0),
            new_key(&master, NEXT_KID, 1),
        );
        key_change::provision(&store, &current, &next, &actor, Utc::now())
            .await
            .expect("provision");
        let parts = ServiceParts {
            store: Arc::new(store),
            master: Arc::new(master),
            tenant_domain: TENANT.to_owned(),
            clock: Arc::new(SystemClock),
            spare_keys: SpareKeys::new(Arc::new(FixtureKeys::new(FIXTURES).expect("fixture keys"))),
            health: DatabaseHealth::default(),
            options,
        };
        Services::start(parts, &actor).await.expect("services")
    });
    let keys = services.keys.clone();
    let published = keys.published();
    let signer = published.signer.clone().expect("current key");
    let (token, _) = tokens::issue(
        &signer,
        TENANT,
        "fuzz-client",
        &[
            "read:signing_keys".into(),
            "create:signing_keys".into(),
            "update:signing_keys".into(),
        ],
        std::time::Duration::from_secs(30 * 86_400),
        Utc::now(),
    )
    .expect("token");
    let encoding = |index: usize| {
        // The `rsa` crate only re-encodes the fixture for jsonwebtoken, the fuzzer's forger.
        let pkcs1 = RsaPrivateKey::from_pkcs8_pem(FIXTURES[index])
            .expect("fixture key")
            .to_pkcs1_der()
            .expect("PKCS#1");
        EncodingKey::from_rsa_der(pkcs1.as_bytes())
    };
    let state = AppState::new(
        services,
        leptos::prelude::LeptosOptions::builder()
            .output_name("signet")
            .build(),
        startup::api_settings(&settings),
    );
    World {
        runtime,
        router: router(state),
        verifiers: published.verifiers.clone(),
        keys,
        token,
        signing_keys: vec![
            (CURRENT_KID, encoding(0)),
            (NEXT_KID, encoding(1)),
            (OUTSIDER_KID, encoding(2)),
        ],
    }
}

impl World {
    /// Sends `request` through the real router.
    pub fn send(&self, request: Request<Body>) -> Reply {
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            Reply { status, body }
        })
    }

    /// A compact JWS of exactly these header and payload bytes, RS256-signed by the key at
    /// `index` (current, next, outsider — taken modulo three); returns the token and that kid.
    pub fn sign(&self, index: usize, header: &[u8], payload: &[u8]) -> (String, &'static str) {
        let (kid, key) = &self.signing_keys[index % self.signing_keys.len()];
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, Algorithm::RS256)
            .expect("RS256 signing");
        (format!("{message}.{signature}"), kid)
    }

    /// The key set's version: it must not move while fuzzing read and refused operations.
    pub fn version(&self) -> i64 {
        self.keys.published().version
    }
}

/// `s` with every byte outside RFC 3986's unreserved set percent-encoded: any bytes, as a
/// client could send them in one path segment or query value.
pub fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
