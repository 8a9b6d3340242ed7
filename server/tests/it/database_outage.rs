//! PostgreSQL goes away for ten seconds while Signet is under load: the JWKS, token issuance and
//! the key list keep working from memory, key changes fail fast with a 503 in Auth0's shape,
//! `/readyz` reports the outage, and everything recovers by itself when the database returns.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use signet::store::SqlStore;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

use crate::support::{
    Reply, TENANT, call, get, post_form, postgres_schema_url, settings, world_on,
};

const OUTAGE: Duration = Duration::from_secs(10);
const ALL_SCOPES: &str = "read:signing_keys create:signing_keys update:signing_keys";

/// A TCP proxy in front of PostgreSQL that can be switched off: while it is down, connecting is
/// refused and every open connection is cut, as when the database server stops.
struct SwitchableProxy {
    addr: SocketAddr,
    up: watch::Sender<bool>,
}

impl SwitchableProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = watch::channel(true);
        let mut switch = up.subscribe();
        let for_connections = up.subscribe();
        tokio::spawn(async move {
            let mut listener = Some(listener);
            loop {
                let Some(open) = &listener else {
                    // Down: nothing listens, so connecting is refused. Listen again once up.
                    if switch.wait_for(|up| *up).await.is_err() {
                        return;
                    }
                    listener = Some(TcpListener::bind(addr).await.unwrap());
                    continue;
                };
                tokio::select! {
                    accepted = open.accept() => {
                        let Ok((inbound, _)) = accepted else { continue };
                        tokio::spawn(forward(inbound, upstream, for_connections.clone()));
                    }
                    _ = switch.wait_for(|up| !*up) => listener = None,
                }
            }
        });
        Self { addr, up }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

async fn forward(mut inbound: TcpStream, upstream: SocketAddr, mut switch: watch::Receiver<bool>) {
    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = switch.wait_for(|up| !*up) => {}
    }
}

/// Where `host:port` stands in a database URL.
fn authority(url: &str) -> std::ops::Range<usize> {
    let start = url
        .find('@')
        .map_or(url.find("://").unwrap() + 3, |at| at + 1);
    start..start + url[start..].find('/').unwrap()
}

fn assert_auth0_error(reply: &Reply, status: u16, error_code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["statusCode"], status);
    assert_eq!(body["errorCode"], error_code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set SIGNET_TEST_DATABASE_URL"]
#[expect(clippy::too_many_lines, reason = "one story: load, outage, recovery")]
async fn a_database_outage_under_load_degrades_gracefully_and_heals_itself() {
    let url = postgres_schema_url("the database outage test").await;
    let at = authority(&url);
    let upstream = tokio::net::lookup_host(&url[at.clone()])
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = SwitchableProxy::start(upstream).await;
    let proxied_url = format!("{}{}{}", &url[..at.start], proxy.addr, &url[at.end..]);

    let store = SqlStore::connect(&proxied_url).await.unwrap();
    let world = Arc::new(world_on(Arc::new(store), settings(100, 1_000_000)).await);
    world.keys.spawn_watcher(Duration::from_millis(500));
    let (client_id, client_secret) = world.client(ALL_SCOPES).await;
    let token_request = format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}\
         &audience=https://{TENANT}/api/v2/"
    );
    let token_reply = post_form(&world.router, "/oauth/token", &token_request).await;
    assert_eq!(token_reply.status, 200, "{}", token_reply.text());
    let token = token_reply.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let keys_before = call(&world.router, "GET", "/api/v2/keys/signing", &token)
        .await
        .json();

    // Relying parties and clients keep calling throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (world, stop, served, failed) =
            (world.clone(), stop.clone(), served.clone(), failed.clone());
        let (token, token_request) = (token.clone(), token_request.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let replies = [
                    get(&world.router, "/.well-known/jwks.json").await,
                    post_form(&world.router, "/oauth/token", &token_request).await,
                    call(&world.router, "GET", "/api/v2/keys/signing", &token).await,
                ];
                for reply in replies {
                    if reply.status == 200 {
                        served.fetch_add(1, Ordering::Relaxed);
                    } else {
                        eprintln!("failed under load: {} {}", reply.status, reply.text());
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.set_up(false);
    let outage_started = Instant::now();

    let rotate_started = Instant::now();
    let refused = call(&world.router, "POST", "/api/v2/keys/signing/rotate", &token).await;
    eprintln!(
        "rotate during the outage answered {} in {} ms",
        refused.status,
        rotate_started.elapsed().as_millis()
    );
    assert_auth0_error(&refused, 503, "database_unavailable");
    // By now the outage has been noticed: the next change is refused without waiting.
    let revoke_started = Instant::now();
    let revoke = call(
        &world.router,
        "PUT",
        &format!(
            "/api/v2/keys/signing/{}/revoke",
            keys_before[0]["kid"].as_str().unwrap()
        ),
        &token,
    )
    .await;
    eprintln!(
        "revoke during the outage answered {} in {} ms",
        revoke.status,
        revoke_started.elapsed().as_millis()
    );
    assert_auth0_error(&revoke, 503, "database_unavailable");
    assert_auth0_error(&get(&world.router, "/readyz").await, 503, "not_ready");
    assert_eq!(get(&world.router, "/healthz").await.status, 200);

    tokio::time::sleep(OUTAGE.saturating_sub(outage_started.elapsed())).await;
    proxy.set_up(true);
    let back = Instant::now();
    while get(&world.router, "/readyz").await.status != 200 {
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "Signet did not recover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "ready again {} ms after the database returned",
        back.elapsed().as_millis()
    );
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();

    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests served from memory failed during the outage"
    );
    eprintln!(
        "served {} JWKS, token and list requests during the test, none failed",
        served.load(Ordering::Relaxed)
    );

    // Nothing was lost, and changes work again without a restart.
    let rotated = call(&world.router, "POST", "/api/v2/keys/signing/rotate", &token).await;
    assert_eq!(rotated.status, 201, "{}", rotated.text());
    assert_eq!(rotated.json()["kid"], keys_before[1]["kid"]);
    let keys_after = call(&world.router, "GET", "/api/v2/keys/signing", &token)
        .await
        .json();
    let kids = |keys: &serde_json::Value| {
        let mut kids: Vec<String> = keys
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        kids.sort();
        kids
    };
    assert!(
        kids(&keys_before)
            .iter()
            .all(|kid| kids(&keys_after).contains(kid))
    );
    assert_eq!(kids(&keys_after).len(), kids(&keys_before).len() + 1);
}
