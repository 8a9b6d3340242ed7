//! The usage ledger's invariant (docs/design.md §11; issue 14): the recorded latest expiry of a
//! key is never earlier than the real latest `exp` of any token it signed — while servers sign
//! in bursts, the command line rotates under them, and every server is killed with SIGKILL at a
//! random moment. On PostgreSQL two servers sign at once, on one database.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use signet::{domain::usage::KeyUsage, store::UsageStore};

use crate::process::{Api, Deployment};

const ROUNDS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ledger_bounds_every_token_across_kill_9() {
    ledger_bounds_every_token(Deployment::sqlite(), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set SIGNET_TEST_DATABASE_URL"]
async fn postgres_ledger_bounds_every_token_of_two_servers_across_kill_9() {
    let deployment = Deployment::postgres("the ledger test").await;
    ledger_bounds_every_token(deployment, 2).await;
}

/// The `kid` of a token's header and the `exp` of its claims.
fn kid_and_exp(jwt: &str) -> (String, i64) {
    let mut parts = jwt.split('.');
    let mut decode = || -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap()
    };
    let (header, claims) = (decode(), decode());
    (
        header["kid"].as_str().unwrap().to_owned(),
        claims["exp"].as_i64().unwrap(),
    )
}

async fn ledger_bounds_every_token(deployment: Deployment, servers: usize) {
    let seed = rand::random();
    eprintln!("ledger test with {servers} server(s): seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let run = deployment
        .signet(&[
            "clients",
            "create",
            "--name",
            "issuer",
            "--scopes",
            "sign:tokens",
            "--audiences",
            "https://app.example",
            "--max-lifetime",
            "86400",
        ])
        .await;
    assert!(run.status.success(), "{}", run.stderr);
    let created: Value = serde_json::from_str(&run.stdout).unwrap();
    let client = (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    );
    let store = deployment.store().await;
    // Per key, the latest exp of every token a server handed out.
    let mut latest: HashMap<String, i64> = HashMap::new();
    let mut signed = 0;
    for _ in 0..ROUNDS {
        let mut running = Vec::new();
        for _ in 0..servers {
            running.push(deployment.start_server().await);
        }
        let stop = AtomicBool::new(false);
        let mut bursts = Vec::new();
        for server in &running {
            // The access token is signed too, and counts.
            let token = server.api.token(&client).await;
            let (kid, exp) = kid_and_exp(&token);
            bump(&mut latest, kid, exp);
            bursts.push(burst(server.api.clone(), token, rng.r#gen(), &stop));
        }
        let (rotate_after, kill_after) = (rng.gen_range(50..400), rng.gen_range(100..700));
        let chaos = async {
            tokio::time::sleep(Duration::from_millis(rotate_after)).await;
            let run = deployment.signet(&["keys", "rotate"]).await;
            assert!(run.status.success(), "{}", run.stderr);
            tokio::time::sleep(Duration::from_millis(kill_after)).await;
            for server in running.drain(..) {
                server.kill();
            }
            stop.store(true, Ordering::Relaxed);
        };
        let (received, ()) = tokio::join!(futures_util::future::join_all(bursts), chaos);
        for (kid, exp) in received.into_iter().flatten() {
            signed += 1;
            bump(&mut latest, kid, exp);
        }
        for (kid, exp) in &latest {
            let rows = store.key_usage(kid).await.unwrap();
            let usage = KeyUsage::combine(kid, &rows);
            assert!(
                usage.live_tokens_until.is_some_and(|until| until >= *exp),
                "key {kid} signed a token expiring at {exp}, but the ledger says {:?} (seed {seed})",
                usage.live_tokens_until
            );
        }
    }
    assert!(signed > 100, "only {signed} tokens were signed");
    eprintln!(
        "ledger test: {signed} tokens over {} keys, every one bounded",
        latest.len()
    );
}

fn bump(latest: &mut HashMap<String, i64>, kid: String, exp: i64) {
    let entry = latest.entry(kid).or_insert(exp);
    *entry = (*entry).max(exp);
}

/// Signs until the server dies: mostly climbing expiries (a new reservation every few dozen
/// tokens), some random ones, now and then a batch. Returns the (kid, exp) of every token
/// handed out.
async fn burst(api: Api, token: String, seed: u64, stop: &AtomicBool) -> Vec<(String, i64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut received = Vec::new();
    let mut climb = 60;
    while !stop.load(Ordering::Relaxed) {
        let now = chrono::Utc::now().timestamp();
        climb += rng.gen_range(1..20);
        let exp = |rng: &mut StdRng| {
            if rng.gen_bool(0.7) {
                now + climb
            } else {
                now + rng.gen_range(1..86_400)
            }
        };
        let (path, body) = if rng.gen_bool(0.1) {
            let items: Vec<Value> = (0..rng.gen_range(1..20))
                .map(|_| json!({"claims": {"aud": "https://app.example", "exp": exp(&mut rng)}}))
                .collect();
            ("/api/v2/jwt/sign-batch", json!({ "tokens": items }))
        } else {
            let claims = json!({"aud": "https://app.example", "exp": exp(&mut rng)});
            ("/api/v2/jwt/sign", json!({ "claims": claims }))
        };
        let Ok(answer) = api.try_post_json(path, &token, &body).await else {
            break; // killed
        };
        assert_eq!(answer.status, 201, "{}", answer.body);
        let answer = answer.json();
        match answer.get("jwt") {
            Some(jwt) => received.push(kid_and_exp(jwt.as_str().unwrap())),
            None => received.extend(
                answer["tokens"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| kid_and_exp(t["jwt"].as_str().unwrap())),
            ),
        }
    }
    received
}
