//! `kill -9` at any moment leaves the keys valid (docs/design.md §1, §8; issue 5): while the API and the
//! command line rotate and revoke keys, the server (and some of the time a command-line process)
//! is killed at a random moment and restarted, over and over. After every restart the invariants
//! hold, every private key still opens, the JWKS is the database's, and no key was lost or reborn.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use app::keys::KeyState;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use signet::{
    domain::sealing::MasterKey,
    store::{KeyStore, SqlStore},
};

use crate::process::{Api, Deployment, checked_keys, stored_kids, valid_kids};

const KILLS: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keys_survive_kill_9_at_random_moments() {
    keys_survive_kill_9(Deployment::sqlite(), "SQLite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set SIGNET_TEST_DATABASE_URL"]
async fn postgres_keys_survive_kill_9_at_random_moments() {
    let deployment = Deployment::postgres("the crash test").await;
    keys_survive_kill_9(deployment, "PostgreSQL").await;
}

async fn keys_survive_kill_9(deployment: Deployment, backend: &str) {
    let seed = rand::random();
    eprintln!("crash test on {backend}: seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    // The first command-line run provisions the tenant.
    let client = deployment.create_client().await;
    let store = deployment.store().await;
    let master = deployment.master_key();
    let mut history = KeyHistory::default();
    let (mut cli_kills, mut api_changes_made) = (0, 0);

    for _ in 0..KILLS {
        let server = deployment.start_server().await;
        check_after_restart(&server.api, &store, &master, &mut history).await;
        // A copy, so the server can be killed while the load still holds its API.
        let api = server.api.clone();
        let tally = Tally::default();
        // Two API clients at once, so the server has several changes in hand when it dies.
        let (first_seed, second_seed) = (rng.r#gen(), rng.r#gen());
        let api_load = async {
            tokio::join!(
                api_changes(&api, &client, &store, &tally, first_seed),
                api_changes(&api, &client, &store, &tally, second_seed),
            );
        };
        let (cli_running, cli_stopping) = (AtomicBool::new(false), AtomicBool::new(false));
        // Boxed, so that dropping it really drops the running process (and kills it).
        let mut cli_load = Box::pin(cli_changes(
            &deployment,
            &store,
            &cli_running,
            &cli_stopping,
            rng.r#gen(),
        ));
        tokio::pin!(api_load);
        let delay = Duration::from_millis(rng.gen_range(20..=400));
        // The clock starts once changes flow: a fresh server first generates its spare key,
        // and a kill before any change was answered would test little.
        let flowing_then_delay = async {
            let warming_up = Instant::now();
            while tally.answered.load(Ordering::Relaxed) == 0 {
                assert!(
                    warming_up.elapsed() < Duration::from_secs(30),
                    "the server answered no change within 30 s:\n{}",
                    server.log_text()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(delay).await;
        };
        tokio::select! {
            () = &mut api_load => unreachable!("the API load stops only when the server is gone"),
            () = &mut cli_load => unreachable!("the command-line load stops only when asked"),
            () = flowing_then_delay => {}
        }
        server.kill();
        api_changes_made += tally.changed.load(Ordering::Relaxed);
        if rng.gen_bool(0.4) {
            // Dropping the run kills its process (kill_on_drop), wherever it is.
            if cli_running.load(Ordering::Relaxed) {
                cli_kills += 1;
            }
            drop(cli_load);
        } else {
            cli_stopping.store(true, Ordering::Relaxed);
            cli_load.await;
        }
    }
    // The last kill is checked too.
    let server = deployment.start_server().await;
    check_after_restart(&server.api, &store, &master, &mut history).await;
    eprintln!(
        "crash test on {backend}: survived {KILLS} server kills and {cli_kills} command-line kills \
         mid-operation, over {} keys and {api_changes_made} changes through the API, in {} s",
        history.states.len(),
        started.elapsed().as_secs()
    );
}

/// Every kid seen so far, in the last state seen: a key never goes back, never disappears.
#[derive(Default)]
struct KeyHistory {
    states: BTreeMap<String, KeyState>,
}

impl KeyHistory {
    fn observe(&mut self, kid: &str, state: KeyState) {
        let order = |state| match state {
            KeyState::Next => 0,
            KeyState::Current => 1,
            KeyState::Previous => 2,
            KeyState::Revoked => 3,
        };
        if let Some(before) = self.states.insert(kid.to_owned(), state) {
            assert!(
                order(before) <= order(state),
                "{kid} went back from {before:?} to {state:?}"
            );
        }
    }
}

async fn check_after_restart(
    api: &Api,
    store: &SqlStore,
    master: &MasterKey,
    history: &mut KeyHistory,
) {
    let ready = api.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let stored = checked_keys(store, master).await;
    assert_eq!(
        api.jwks_kids().await,
        valid_kids(&stored),
        "the JWKS is the database's valid keys, current, next, then previous"
    );
    let known = stored.keys.len();
    for key in &stored.keys {
        history.observe(&key.record.kid, key.record.state);
    }
    assert_eq!(known, history.states.len(), "a key seen before is gone");
}

/// What the API load got answered.
#[derive(Default)]
struct Tally {
    answered: AtomicUsize,
    changed: AtomicUsize,
}

/// Rotations and revocations through the API until the server is gone. Every answer is a success
/// or a clear refusal.
async fn api_changes(
    api: &Api,
    client: &(String, String),
    store: &SqlStore,
    tally: &Tally,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let Ok(mut token) = api.try_token(client).await else {
        return std::future::pending().await;
    };
    loop {
        let revoke = match rng.gen_bool(0.4) {
            true => a_previous_key(store, &mut rng).await,
            false => None,
        };
        let answer = match &revoke {
            Some(kid) => {
                let path = format!("/api/v2/keys/signing/{kid}/revoke");
                api.try_call("PUT", &path, &token).await
            }
            None => {
                api.try_call("POST", "/api/v2/keys/signing/rotate", &token)
                    .await
            }
        };
        let Ok(answer) = answer else {
            // The server was killed mid-request; what it did is checked after the restart.
            return std::future::pending().await;
        };
        tally.answered.fetch_add(1, Ordering::Relaxed);
        if (200..300).contains(&answer.status) {
            tally.changed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        answer.assert_clear_refusal("a change through the API");
        if answer.status == 401 {
            // The key that signed the token was revoked (by this load or the command line):
            // a real client would get a new token, signed by the current key.
            let Ok(fresh) = api.try_token(client).await else {
                return std::future::pending().await;
            };
            token = fresh;
        }
    }
}

/// Rotations, revocations and rotate-and-revokes by command-line processes, one at a time, until
/// `stopping`; `running` says whether a process is running at the moment.
async fn cli_changes(
    deployment: &Deployment,
    store: &SqlStore,
    running: &AtomicBool,
    stopping: &AtomicBool,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stopping.load(Ordering::Relaxed) {
        let args = match rng.gen_range(0..3) {
            0 => vec!["keys".to_owned(), "rotate".to_owned()],
            1 => vec!["keys".to_owned(), "rotate-and-revoke".to_owned()],
            _ => match a_previous_key(store, &mut rng).await {
                Some(kid) => vec!["keys".to_owned(), "revoke".to_owned(), kid],
                None => continue,
            },
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        running.store(true, Ordering::Relaxed);
        let run = deployment.signet(&args).await;
        running.store(false, Ordering::Relaxed);
        run.assert_clear(&args.join(" "));
    }
}

/// A key that is previous right now, if any.
async fn a_previous_key(store: &SqlStore, rng: &mut StdRng) -> Option<String> {
    let stored = store.load(0).await.unwrap();
    stored_kids(&stored, KeyState::Previous)
        .choose(rng)
        .cloned()
}
