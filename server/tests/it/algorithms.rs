//! Several signing algorithms (SPEC §13): switching the tenant's algorithm replaces only the
//! next key, keys of several types coexist, and a relying party that caches the JWKS as told
//! never sees a token it cannot verify while the tenant goes RS256 → ES256 → EdDSA → RS256.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
};
use std::time::Duration;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::process::{Api, Deployment};

const POLICY: &str = "/api/v2/keys/signing/policy";

/// Verifies a compact JWS against a JWK the way an independent relying party does: from the
/// JWK's own members, with the algorithm the JWK names (and the header must name the same).
fn verifies(token: &str, jwks: &[Value]) -> Result<(), String> {
    let (message, signature) = token.rsplit_once('.').ok_or("not a JWS")?;
    let header = message.split('.').next().ok_or("not a JWS")?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let jwk = jwks
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or_else(|| format!("kid {kid} is not in the cached key set"))?;
    if jwk["alg"] != header["alg"] {
        return Err(format!(
            "header alg {} but key alg {}",
            header["alg"], jwk["alg"]
        ));
    }
    let b64 = |member: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[member].as_str().unwrap())
            .unwrap()
    };
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let message = message.as_bytes();
    let checked = match jwk["alg"].as_str().unwrap() {
        alg @ ("RS256" | "PS256") => {
            let key = RsaPublicKeyComponents {
                n: b64("n"),
                e: b64("e"),
            };
            let params = if alg == "RS256" {
                &RSA_PKCS1_2048_8192_SHA256
            } else {
                &RSA_PSS_2048_8192_SHA256
            };
            key.verify(params, message, &signature)
        }
        "ES256" => {
            let point = [vec![4], b64("x"), b64("y")].concat();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(message, &signature)
        }
        "EdDSA" => UnparsedPublicKey::new(&ED25519, b64("x")).verify(message, &signature),
        other => return Err(format!("unexpected alg {other}")),
    };
    checked.map_err(|_| "bad signature".to_owned())
}

/// A relying party: every 50 ms it gets a fresh token and verifies it with the key set it
/// cached, which it fetches again once 15 s of Signet's (moved) clock have passed, as the
/// JWKS's `max-age=15` allows.
struct RelyingParty {
    /// Seconds the deployment's clock has been moved (the test moves it).
    clock: Arc<AtomicI64>,
    verified: Arc<AtomicU64>,
    refreshed: Arc<AtomicU64>,
    failures: Arc<std::sync::Mutex<Vec<String>>>,
    last_alg: Arc<std::sync::Mutex<String>>,
    stop: Arc<AtomicBool>,
}

impl RelyingParty {
    fn start(api: Api, client: (String, String)) -> (Self, tokio::task::JoinHandle<()>) {
        let party = RelyingParty {
            clock: Arc::default(),
            verified: Arc::default(),
            refreshed: Arc::default(),
            failures: Arc::default(),
            last_alg: Arc::default(),
            stop: Arc::default(),
        };
        let (clock, verified, refreshed) = (
            party.clock.clone(),
            party.verified.clone(),
            party.refreshed.clone(),
        );
        let (failures, last_alg, stop) = (
            party.failures.clone(),
            party.last_alg.clone(),
            party.stop.clone(),
        );
        let task = tokio::spawn(async move {
            let mut cached: Vec<Value> = Vec::new();
            let mut fetched_at = i64::MIN;
            let mut ticker = tokio::time::interval(Duration::from_millis(50));
            while !stop.load(Ordering::Relaxed) {
                ticker.tick().await;
                let now = clock.load(Ordering::SeqCst);
                if now.saturating_sub(fetched_at) >= 15 {
                    let jwks = api.get("/.well-known/jwks.json").await.json();
                    cached = jwks["keys"].as_array().unwrap().clone();
                    fetched_at = now;
                    refreshed.fetch_add(1, Ordering::SeqCst);
                }
                let token = api.token(&client).await;
                match verifies(&token, &cached) {
                    Ok(()) => {
                        let header = token.split('.').next().unwrap();
                        let header: Value =
                            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap())
                                .unwrap();
                        *last_alg.lock().unwrap() = header["alg"].as_str().unwrap().to_owned();
                        verified.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(reason) => failures.lock().unwrap().push(reason),
                }
            }
        });
        (party, task)
    }

    /// Moves the deployment's clock and what the relying party reads as the time together.
    fn advance(&self, deployment: &Deployment, seconds: i64) {
        deployment.advance_clock(seconds);
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Waits until it has fetched the key set again and verified `tokens` more tokens.
    async fn wait_for_refresh_and(&self, tokens: u64) {
        let refreshed = self.refreshed.load(Ordering::SeqCst);
        let verified = self.verified.load(Ordering::SeqCst);
        while self.refreshed.load(Ordering::SeqCst) == refreshed
            || self.verified.load(Ordering::SeqCst) < verified + tokens
        {
            assert!(
                self.failures.lock().unwrap().is_empty(),
                "{:?}",
                self.failures
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until it has verified a token of `alg`.
    async fn wait_for_alg(&self, alg: &str) {
        while *self.last_alg.lock().unwrap() != alg {
            assert!(
                self.failures.lock().unwrap().is_empty(),
                "{:?}",
                self.failures
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn patch(api: &Api, token: &str, body: &str) -> crate::process::Answer {
    api.try_patch_json(POLICY, token, body).await.unwrap()
}

#[tokio::test]
async fn switching_algorithms_never_breaks_a_relying_party_that_caches_the_jwks() {
    let deployment = Deployment::sqlite();
    // The default window: max-age 15 + stale-while-revalidate 15.
    deployment.set("SIGNET_PUBLICATION_WINDOW_SECS", "30");
    deployment.advance_clock(0);
    let server = deployment.start_server().await;
    let client = deployment.create_client().await;
    let (party, task) = RelyingParty::start(server.api.clone(), client.clone());
    party.wait_for_alg("RS256").await;

    for (alg, key_type) in [("ES256", "EC"), ("EdDSA", "OKP"), ("RS256", "RSA")] {
        let token = server.api.token(&client).await;
        let changed = patch(
            &server.api,
            &token,
            &format!(r#"{{"signing_alg":"{alg}"}}"#),
        )
        .await;
        assert_eq!(changed.status, 200, "{}", changed.body);
        assert_eq!(changed.json()["signing_alg"], alg);
        // The new next key is published at once, beside keys of the other types.
        let jwks = server.api.get("/.well-known/jwks.json").await.json();
        let types: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kty"].as_str().unwrap())
            .collect();
        assert!(types.contains(&key_type), "{types:?}");
        // Too early for the next key to sign: relying parties may not have it yet.
        let early = server
            .api
            .call("POST", "/api/v2/keys/signing/rotate", &token)
            .await;
        assert_eq!(early.status, 409, "{}", early.body);
        // 16 s on, the relying party has fetched the key set again; 32 s on, the next key has
        // been published for the whole window, and the rotation goes ahead.
        party.advance(&deployment, 16);
        party.wait_for_refresh_and(3).await;
        party.advance(&deployment, 16);
        party.wait_for_refresh_and(3).await;
        let rotated = server
            .api
            .call("POST", "/api/v2/keys/signing/rotate", &token)
            .await;
        assert_eq!(rotated.status, 201, "{}", rotated.body);
        assert_eq!(rotated.json()["alg"], alg);
        party.wait_for_alg(alg).await;
    }
    party.stop.store(true, Ordering::Relaxed);
    task.await.unwrap();
    let failures = party.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "the relying party failed: {failures:?}"
    );
    assert!(party.verified.load(Ordering::SeqCst) > 20);
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one CLI story, from configuration to a new tenant"
)]
async fn the_cli_sets_the_algorithm_and_a_new_tenant_gets_the_configured_one() {
    let deployment = Deployment::sqlite();
    deployment.set("SIGNET_SIGNING_ALG", "PS256");
    deployment.set("SIGNET_SIGNING_KEY_SIZE", "3072");
    let listed = deployment.signet(&["keys", "list"]).await;
    listed.assert_clear("keys list");
    // Both keys, and the type new keys get.
    assert_eq!(
        listed.stdout.matches("PS256 (3072-bit)").count(),
        3,
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.contains("new keys: PS256 (3072-bit)"),
        "{}",
        listed.stdout
    );

    let set = deployment
        .signet(&["keys", "policy", "set", "--alg", "ES256"])
        .await;
    set.assert_clear("keys policy set --alg ES256");
    let policy: Value = serde_json::from_str(&set.stdout).unwrap();
    assert_eq!(
        (policy["signing_alg"].as_str(), policy["key_size"].as_u64()),
        (Some("ES256"), Some(256))
    );
    let listed = deployment.signet(&["keys", "list", "--json"]).await;
    let keys: Value = serde_json::from_str(&listed.stdout).unwrap();
    let of = |state: &str| {
        let key = keys
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["state"] == state)
            .unwrap();
        (
            key["alg"].as_str().unwrap().to_owned(),
            key["key_size"].as_u64().unwrap(),
        )
    };
    assert_eq!(of("current"), ("PS256".to_owned(), 3072));
    assert_eq!(of("next"), ("ES256".to_owned(), 256));
    assert_eq!(
        of("revoked"),
        ("PS256".to_owned(), 3072),
        "the replaced next key"
    );

    let refused = deployment
        .signet(&[
            "keys",
            "policy",
            "set",
            "--alg",
            "ES256",
            "--key-size",
            "4096",
        ])
        .await;
    refused.assert_refused_with("4096 is not offered");
    let refused = deployment
        .signet(&["keys", "policy", "set", "--alg", "HS256"])
        .await;
    refused.assert_refused_with("not a signing algorithm");

    // A size the algorithm does not have is a configuration error, said before anything runs.
    deployment.set("SIGNET_SIGNING_ALG", "EdDSA");
    let refused = deployment.signet(&["keys", "list"]).await;
    refused.assert_refused_with("3072 is not offered");
    deployment.set("SIGNET_SIGNING_KEY_SIZE", "256");
    let created = deployment
        .signet(&["tenants", "create", "ed.signet.test"])
        .await;
    assert!(created.status.success(), "{}", created.stderr);
    let listed = deployment
        .signet(&["--tenant", "ed.signet.test", "keys", "list"])
        .await;
    assert!(listed.status.success(), "{}", listed.stderr);
    assert_eq!(
        listed.stdout.matches("EdDSA (Ed25519)").count(),
        3,
        "{}",
        listed.stdout
    );
    assert!(!listed.stdout.contains("PS256"), "{}", listed.stdout);

    deployment.set("SIGNET_SIGNING_ALG", "RS512");
    let refused = deployment.signet(&["keys", "list"]).await;
    refused.assert_refused_with("signing_alg");
}

#[tokio::test]
async fn every_key_type_signs_through_every_path() {
    let deployment = Deployment::sqlite();
    deployment.advance_clock(0);
    let server = deployment.start_server().await;
    let client = deployment.create_client().await;
    for (alg, size, signature_bytes) in [
        ("PS256", 2048, 256),
        ("RS256", 4096, 512),
        ("ES256", 256, 64),
        ("EdDSA", 256, 64),
    ] {
        let token = server.api.token(&client).await;
        let body = format!(r#"{{"signing_alg":"{alg}","key_size":{size}}}"#);
        let changed = patch(&server.api, &token, &body).await;
        assert_eq!(changed.status, 200, "{}", changed.body);
        let rotated = server
            .api
            .call("POST", "/api/v2/keys/signing/rotate?force=true", &token)
            .await;
        assert_eq!(rotated.status, 201, "{}", rotated.body);
        let rotated = rotated.json();
        assert_eq!(
            (rotated["alg"].as_str(), rotated["key_size"].as_u64()),
            (Some(alg), Some(size))
        );
        // A Management API token signed by the new key is accepted, and verifies independently.
        let token = server.api.token(&client).await;
        let jwks = server.api.get("/.well-known/jwks.json").await.json();
        verifies(&token, jwks["keys"].as_array().unwrap()).unwrap();
        let signature = URL_SAFE_NO_PAD
            .decode(token.rsplit('.').next().unwrap())
            .unwrap();
        assert_eq!(signature.len(), signature_bytes, "{alg}");
        let listed = server.api.call("GET", "/api/v2/keys/signing", &token).await;
        assert_eq!(listed.status, 200, "{alg}: {}", listed.body);
        // The public endpoints serve the current key's certificate, whatever its type.
        assert_eq!(
            server.api.get("/pem").await.body,
            rotated["cert"].as_str().unwrap()
        );
        let pkcs7 = server.api.get("/pb7").await;
        assert_eq!(pkcs7.body, rotated["pkcs7"].as_str().unwrap(), "{alg}");
        let fingerprint = server.api.get("/fingerprint").await;
        assert!(
            fingerprint
                .body
                .contains(rotated["fingerprint"].as_str().unwrap()),
            "{alg}: {}",
            fingerprint.body
        );
        let config = server
            .api
            .get("/.well-known/openid-configuration")
            .await
            .json();
        assert_eq!(config["id_token_signing_alg_values_supported"][0], alg);
    }
}
