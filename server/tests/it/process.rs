//! Real `signet` processes, for the promises only separate processes can prove: several servers
//! on one database, and state that survives `kill -9`. A deployment is a database, a master key
//! file and a scratch directory; servers and command-line runs are started on it.

use std::{
    collections::HashSet,
    fs::File,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use app::keys::KeyState;
use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;
use serde_json::Value;
use signet::{
    domain::sealing::MasterKey,
    store::{KeyStore, SqlStore, StoredKeys, master_key_file::read_master_key},
};

pub const TENANT: &str = "process.signet.test";
pub const ALL_SCOPES: &str = "read:signing_keys create:signing_keys update:signing_keys";
/// Long enough for a debug build that provisions two RSA keys at first start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One tenant's state: its database and the master key that seals its private keys.
pub struct Deployment {
    database_url: String,
    master_key_file: PathBuf,
    dir: tempfile::TempDir,
    servers_started: AtomicUsize,
    /// Settings every later process of the deployment gets, beyond the defaults below.
    settings: std::sync::Mutex<Vec<(String, String)>>,
}

impl Deployment {
    /// The embedded default: a SQLite file in a fresh data directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database_url = format!("sqlite://{}", dir.path().join("signet.db").display());
        Self::new(dir, database_url)
    }

    /// A fresh schema on the test PostgreSQL server (`SIGNET_TEST_DATABASE_URL`).
    pub async fn postgres(what: &str) -> Self {
        let database_url = crate::support::postgres_schema_url(what).await;
        Self::new(tempfile::tempdir().unwrap(), database_url)
    }

    fn new(dir: tempfile::TempDir, database_url: String) -> Self {
        // A fixed key file, as an operator would mount from a secret store: every process of
        // the deployment must seal and open keys with the same master key.
        let master_key_file = dir.path().join("master.key");
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        std::fs::write(&master_key_file, format!("{}\n", STANDARD.encode(bytes))).unwrap();
        Self {
            database_url,
            master_key_file,
            dir,
            servers_started: AtomicUsize::new(0),
            settings: std::sync::Mutex::default(),
        }
    }

    /// `signet args…` with this deployment's settings and nothing inherited from the caller's
    /// environment or working directory. No rotation limit and a generous request limit: these
    /// tests hammer the keys on purpose.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_signet"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SIGNET_") {
                command.env_remove(name);
            }
        }
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("SIGNET_DATA_DIR", self.dir.path().join("data"))
            .env("SIGNET_DATABASE_URL", &self.database_url)
            .env("SIGNET_MASTER_KEY_FILE", &self.master_key_file)
            .env("SIGNET_TENANT_DOMAIN", TENANT)
            .env("SIGNET_ADMIN_PASSWORD", "process test operator password")
            .env("SIGNET_ROTATION_LIMIT_PER_DAY", "0")
            .env("SIGNET_PUBLICATION_WINDOW_SECS", "0")
            .env("SIGNET_API_RATE_LIMIT_PER_MINUTE", "1000000")
            .stdin(Stdio::null());
        for (name, value) in self.settings.lock().unwrap().iter() {
            command.env(name, value);
        }
        // Once a test moves the clock, every process of the deployment reads the same moved
        // clock.
        let clock = self.dir.path().join("clock-offset");
        if clock.exists() {
            command.env("SIGNET_TEST_CLOCK_FILE", clock);
        }
        command
    }

    /// Sets `SIGNET_…` `name` to `value` for every process started from now on.
    pub fn set(&self, name: &str, value: &str) {
        self.settings
            .lock()
            .unwrap()
            .push((name.to_owned(), value.to_owned()));
    }

    /// Runs `signet args…` to completion.
    pub async fn signet(&self, args: &[&str]) -> CliRun {
        let output = tokio::process::Command::from(self.command(args))
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        CliRun {
            status: output.status,
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// A new Management API client with every signing-key scope: (id, secret).
    pub async fn create_client(&self) -> (String, String) {
        let run = self
            .signet(&[
                "clients",
                "create",
                "--name",
                "process test",
                "--scopes",
                ALL_SCOPES,
            ])
            .await;
        assert!(run.status.success(), "{}", run.stderr);
        let created: Value = serde_json::from_str(&run.stdout).unwrap();
        (
            created["client_id"].as_str().unwrap().to_owned(),
            created["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Starts `signet serve` on a free port and waits until it is ready.
    pub async fn start_server(&self) -> Server {
        let number = self.servers_started.fetch_add(1, Ordering::Relaxed);
        let log = self.dir.path().join(format!("server-{number}.log"));
        let output = File::create(&log).unwrap();
        // The port is free when chosen; another process may take it before the server binds,
        // in which case the server exits at once and the next port is tried.
        for _ in 0..5 {
            let addr = free_local_addr();
            let child = self
                .command(&["serve"])
                .env("SIGNET_ADDR", &addr)
                .env("RUST_LOG", "warn")
                .stdout(output.try_clone().unwrap())
                .stderr(output.try_clone().unwrap())
                .spawn()
                .unwrap();
            let mut server = Server {
                child,
                api: Api::new(format!("http://{addr}")),
                log: log.clone(),
            };
            if server.wait_until_ready().await {
                return server;
            }
            if !server.log_text().contains("cannot listen") {
                panic!("signet serve did not start:\n{}", server.log_text());
            }
        }
        panic!("no free port for signet serve");
    }

    /// Moves every process's clock of this deployment `seconds` further ahead; processes started
    /// before the first call do not follow it (`advance_clock(0)` first).
    pub fn advance_clock(&self, seconds: i64) {
        let file = self.dir.path().join("clock-offset");
        let offset: i64 = std::fs::read_to_string(&file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        // Renamed over the file: a server reading it mid-write must not see an empty offset.
        let written = file.with_extension("tmp");
        std::fs::write(&written, (offset + seconds).to_string()).unwrap();
        std::fs::rename(written, file).unwrap();
    }

    /// The deployment's database, opened by the library (as a second process would).
    pub async fn store(&self) -> SqlStore {
        SqlStore::connect(&self.database_url).await.unwrap()
    }

    pub fn master_key(&self) -> MasterKey {
        read_master_key(&self.master_key_file).unwrap()
    }
}

pub fn free_local_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A finished command-line run.
#[derive(Debug)]
pub struct CliRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    /// Failed, and said why in words containing `words`.
    pub fn assert_refused_with(&self, words: &str) {
        assert!(!self.status.success(), "succeeded: {}", self.stdout);
        assert!(self.stderr.contains(words), "{}", self.stderr);
    }

    /// Succeeded, or refused in one line (the CLI's clear answer) without panicking.
    pub fn assert_clear(&self, what: &str) {
        if self.status.success() {
            return;
        }
        assert_eq!(
            self.stderr.trim().lines().count(),
            1,
            "{what} failed unclearly: {}",
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "{what} panicked: {}",
            self.stderr
        );
    }
}

/// A running `signet serve`; killed with SIGKILL when dropped, so no test leaves one behind.
pub struct Server {
    child: Child,
    pub api: Api,
    log: PathBuf,
}

impl Server {
    async fn wait_until_ready(&mut self) -> bool {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(answer) = self.api.try_get("/readyz").await
                && answer.status == 200
            {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "signet serve was not ready within {START_TIMEOUT:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `kill -9`: no graceful shutdown, no chance to finish what it was doing.
    pub fn kill(mut self) {
        self.kill_now();
    }

    fn kill_now(&mut self) {
        // `Child::kill` sends SIGKILL on Unix; waiting reaps the process.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.body))
    }

    /// A refusal the caller can act on: a 4xx or a 503, in Auth0's error shape. Never a 500.
    pub fn assert_clear_refusal(&self, what: &str) {
        assert!(
            (400..500).contains(&self.status) || self.status == 503,
            "{what} answered {}: {}",
            self.status,
            self.body
        );
        let body = self.json();
        assert_eq!(body["statusCode"], self.status, "{what}: {body}");
        assert!(
            body["errorCode"].as_str().is_some_and(|c| !c.is_empty()),
            "{what}: {body}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }
}

/// One server's HTTP interface.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    pub base: String,
}

impl Api {
    fn new(base: String) -> Self {
        // Signet closes a connection that sends no request for `HEADER_READ_TIMEOUT` (10 s); a
        // pooled connection kept longer could be reused just as the server closes it.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        Self { http, base }
    }

    async fn answer(request: reqwest::RequestBuilder) -> reqwest::Result<Answer> {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        Ok(Answer { status, body })
    }

    /// `GET path`, or the transport error (the server may have just been killed).
    pub async fn try_get(&self, path: &str) -> reqwest::Result<Answer> {
        Self::answer(self.http.get(format!("{}{path}", self.base))).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.try_get(path).await.unwrap()
    }

    /// `method path` with a bearer token, or the transport error.
    pub async fn try_call(&self, method: &str, path: &str, token: &str) -> reqwest::Result<Answer> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        Self::answer(
            self.http
                .request(method, format!("{}{path}", self.base))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn call(&self, method: &str, path: &str, token: &str) -> Answer {
        self.try_call(method, path, token).await.unwrap()
    }

    /// A Management API access token for the client, or the transport error.
    pub async fn try_token(&self, (id, secret): &(String, String)) -> reqwest::Result<String> {
        let answer = Self::answer(self.http.post(format!("{}/oauth/token", self.base)).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("audience", &format!("https://{TENANT}/api/v2/")),
        ]))
        .await?;
        assert_eq!(answer.status, 200, "{}", answer.body);
        Ok(answer.json()["access_token"].as_str().unwrap().to_owned())
    }

    pub async fn token(&self, client: &(String, String)) -> String {
        self.try_token(client).await.unwrap()
    }

    /// The kids of the published JWKS, in order.
    pub async fn jwks_kids(&self) -> Vec<String> {
        let answer = self.get("/.well-known/jwks.json").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        kids_of(&answer.json()["keys"])
    }

    /// The Management API's key list.
    pub async fn keys(&self, token: &str) -> Vec<Value> {
        let answer = self.call("GET", "/api/v2/keys/signing", token).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json().as_array().unwrap().clone()
    }
}

/// The `kid` of every object in a JSON array.
pub fn kids_of(keys: &Value) -> Vec<String> {
    keys.as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The kids of the stored keys in `state`.
pub fn stored_kids(stored: &StoredKeys, state: KeyState) -> Vec<String> {
    stored
        .keys
        .iter()
        .filter(|key| key.record.state == state)
        .map(|key| key.record.kid.clone())
        .collect()
}

/// The kids a JWKS must publish, in its order: current, next, then previous keys newest first.
pub fn valid_kids(stored: &StoredKeys) -> Vec<String> {
    let mut previous: Vec<_> = stored
        .keys
        .iter()
        .filter(|key| key.record.state == KeyState::Previous)
        .collect();
    previous.sort_by(|a, b| {
        (b.record.current_since, &a.record.kid).cmp(&(a.record.current_since, &b.record.kid))
    });
    let mut kids = stored_kids(stored, KeyState::Current);
    kids.extend(stored_kids(stored, KeyState::Next));
    kids.extend(previous.iter().map(|key| key.record.kid.clone()));
    kids
}

/// Every key in the database, revoked ones included, after checking docs/design.md §1's invariants:
/// exactly one current and one next key, no kid twice, every revoked key was previous when it was
/// revoked and has lost its private part, and every other key's private part opens with `master`.
pub async fn checked_keys(store: &SqlStore, master: &MasterKey) -> StoredKeys {
    let stored = store.load(usize::MAX).await.unwrap();
    let records: Vec<_> = stored.keys.iter().map(|key| &key.record).collect();
    assert_eq!(
        stored_kids(&stored, KeyState::Current).len(),
        1,
        "{records:#?}"
    );
    assert_eq!(
        stored_kids(&stored, KeyState::Next).len(),
        1,
        "{records:#?}"
    );
    let mut kids = HashSet::new();
    for key in &stored.keys {
        let record = &key.record;
        assert!(kids.insert(record.kid.clone()), "kid {} twice", record.kid);
        if record.state == KeyState::Revoked {
            let (Some(until), Some(revoked_at)) = (record.current_until, record.revoked_at) else {
                panic!(
                    "{} was revoked without having been current: {record:?}",
                    record.kid
                );
            };
            assert!(
                revoked_at >= until,
                "{} revoked while current: {record:?}",
                record.kid
            );
            assert!(key.sealed.is_none(), "{} kept its private key", record.kid);
        } else {
            let sealed = key.sealed.as_ref().unwrap_or_else(|| {
                panic!(
                    "{} lost its private key while {:?}",
                    record.kid, record.state
                )
            });
            master.unseal(&record.kid, sealed).unwrap_or_else(|error| {
                panic!("the private key of {} does not open: {error}", record.kid)
            });
        }
    }
    stored
}

impl Api {
    /// `POST path` with a bearer token and a JSON body, or the transport error.
    pub async fn try_post_json(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> reqwest::Result<Answer> {
        Self::answer(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// `PATCH path` with a bearer token and a JSON text body, or the transport error.
    pub async fn try_patch_json(
        &self,
        path: &str,
        token: &str,
        body: &str,
    ) -> reqwest::Result<Answer> {
        Self::answer(
            self.http
                .patch(format!("{}{path}", self.base))
                .bearer_auth(token)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_owned()),
        )
        .await
    }
}

impl Api {
    /// `GET path` as a request to `host` (the tenant it names), with an optional bearer token.
    pub async fn get_as(&self, host: &str, path: &str, token: Option<&str>) -> Answer {
        let mut request = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::HOST, host);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::answer(request).await.unwrap()
    }

    /// `POST /oauth/token` for `client` as a request to `host`.
    pub async fn token_as(&self, host: &str, (id, secret): &(String, String)) -> Answer {
        let request = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .header(reqwest::header::HOST, host)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ]);
        Self::answer(request).await.unwrap()
    }
}
