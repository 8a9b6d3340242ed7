//! The operator's maintenance: rotating the master key, backing up and restoring the embedded
//! database. The command line is driven as an operator would (own temp data dir per test); the
//! storage part of the master-key rotation also runs on PostgreSQL when its URL is set.

use std::{
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Utc;
use rand::RngCore;
use serde_json::Value;
use signet::{
    domain::{
        lifecycle::Operation,
        material::PrivateKey,
        sealing::{MasterKey, MasterKeyError},
    },
    services::{
        ServiceError, Services,
        clock::SettableClock,
        master_key_rotation::{MasterKeyRotation, rotate_master_key},
    },
    store::{KeyStore, SqlStore, StoredKeys, master_key_file::read_master_key},
};
use sqlx::Row;

use crate::support::{actor, apply, fixture_key, provision, settings, try_start_services};

// --- act -------------------------------------------------------------------------------------

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// `signet ARGS` in `dir`, with its data in `dir/data` and the extra environment `env`.
fn signet(dir: &Path, env: &[(&str, &Path)], args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_signet"));
    command
        .args(args)
        .current_dir(dir)
        .env("SIGNET_DATA_DIR", dir.join("data"))
        .env("SIGNET_TENANT_DOMAIN", "ops.signet.test")
        .env("SIGNET_PUBLICATION_WINDOW_SECS", "0")
        .env_remove("SIGNET_DATABASE_URL")
        .env_remove("SIGNET_MASTER_KEY_FILE");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A client made with the command line: (id, secret).
fn create_client(dir: &Path) -> (String, String) {
    let run = signet(
        dir,
        &[],
        &[
            "clients",
            "create",
            "--name",
            "before",
            "--scopes",
            "read:signing_keys",
        ],
    );
    assert!(run.ok, "{}", run.stderr);
    let created: Value = serde_json::from_str(&run.stdout).unwrap();
    (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// A new master key file as the README says to make one (`openssl rand -base64 32`, mode 0600).
fn new_master_key_file(path: &Path) -> PathBuf {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    std::fs::write(path, format!("{}\n", STANDARD.encode(bytes))).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path.to_owned()
}

/// `signet serve` on a free port of its own, once it accepts connections.
struct Server(Child);

impl Server {
    fn start(dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_signet"))
            .arg("serve")
            .current_dir(dir)
            .env("SIGNET_DATA_DIR", dir.join("data"))
            .env("SIGNET_TENANT_DOMAIN", "ops.signet.test")
            .env("SIGNET_PUBLICATION_WINDOW_SECS", "0")
            .env("SIGNET_ADDR", format!("127.0.0.1:{port}"))
            .env("SIGNET_ADMIN_PASSWORD", "operations test password")
            .env_remove("SIGNET_DATABASE_URL")
            .env_remove("SIGNET_MASTER_KEY_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Server(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                server.0.try_wait().unwrap().is_none(),
                "signet serve exited"
            );
            assert!(Instant::now() < deadline, "signet serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// --- find ------------------------------------------------------------------------------------

fn keys_json(dir: &Path, env: &[(&str, &Path)]) -> Vec<Value> {
    let run = signet(dir, env, &["keys", "list", "--json"]);
    assert!(run.ok, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("data/signet.db").display())
}

/// Everything a master-key rotation may touch, to show that a failed one touched nothing.
async fn sealed_state(store: &SqlStore) -> Vec<String> {
    let mut state = vec![format!("version {}", store.version().await.unwrap())];
    for row in
        sqlx::query("SELECT kid, state, private_key, master_key_id FROM signing_keys ORDER BY kid")
            .fetch_all(store.pool())
            .await
            .unwrap()
    {
        let blob: Option<Vec<u8>> = row.get("private_key");
        state.push(format!(
            "{} {} {:?} {:?}",
            row.get::<String, _>("kid"),
            row.get::<String, _>("state"),
            row.get::<Option<String>, _>("master_key_id"),
            blob
        ));
    }
    for row in sqlx::query(
        "SELECT secret_key_id, sealed_key, master_key_id FROM client_hash_keys \
         ORDER BY secret_key_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
    {
        state.push(format!(
            "{} {:?} {}",
            row.get::<String, _>("secret_key_id"),
            row.get::<Vec<u8>, _>("sealed_key"),
            row.get::<String, _>("master_key_id")
        ));
    }
    state
}

// --- check -----------------------------------------------------------------------------------

/// One line on stderr, naming the problem, and a failed exit.
fn assert_refused(run: &Run, expected: &str) {
    assert!(!run.ok, "succeeded: {}", run.stdout);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(expected), "{}", run.stderr);
}

/// Every private key in the store opens with `master` and is an RSA key.
fn assert_all_open(keys: &StoredKeys, master: &MasterKey) {
    let mut opened = 0;
    for key in &keys.keys {
        if let Some(sealed) = &key.sealed {
            assert_eq!(sealed.master_key_id, master.id());
            PrivateKey::from_pkcs8_der(&master.unseal(&key.record.kid, sealed).unwrap()).unwrap();
            opened += 1;
        }
    }
    assert!(opened >= 2, "at least the current and the next key");
}

async fn authenticates(service: &Services, id: &str, secret: &str) -> bool {
    service
        .clients
        .authenticate(id, secret)
        .await
        .unwrap()
        .is_some()
}

async fn start(store: &Arc<SqlStore>, master: MasterKey) -> Result<Services, ServiceError> {
    let clock = Arc::new(SettableClock::at(Utc::now()));
    // No rotation limit, as for the command line.
    try_start_services(store.clone(), master, &settings(0, 1000), clock).await
}

// --- stories ---------------------------------------------------------------------------------

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one story: back up, refuse, restore elsewhere"
)]
fn a_backup_taken_while_serving_restores_keys_and_clients_elsewhere() {
    let source = tempfile::tempdir().unwrap();
    let (client_id, secret) = create_client(source.path());
    assert!(signet(source.path(), &[], &["keys", "rotate"]).ok);
    let keys = keys_json(source.path(), &[]);

    let server = Server::start(source.path());
    let file = source.path().join("signet-backup.db");
    let file_arg = file.to_str().unwrap();
    let run = signet(source.path(), &[], &["backup", file_arg]);
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout.contains("3 signing keys (0 revoked), 1 clients"),
        "{}",
        run.stdout
    );
    assert_refused(
        &signet(source.path(), &[], &["backup", file_arg]),
        "exists already",
    );
    assert_refused(
        &signet(source.path(), &[], &["restore", file_arg]),
        "stop every `signet serve` on this data directory before restoring",
    );
    drop(server);

    // A fresh machine: the backup and, separately, the master key it was made under.
    let target = tempfile::tempdir().unwrap();
    let master_file = source.path().join("data/master.key");
    let master_env: &[(&str, &Path)] = &[("SIGNET_MASTER_KEY_FILE", &master_file)];
    assert_refused(
        &signet(target.path(), &[], &["restore", file_arg]),
        "cannot load the master key",
    );
    let wrong = new_master_key_file(&target.path().join("wrong.key"));
    assert_refused(
        &signet(
            target.path(),
            &[("SIGNET_MASTER_KEY_FILE", &wrong)],
            &["restore", file_arg],
        ),
        "was encrypted with master key",
    );
    let not_a_backup = target.path().join("notes.txt");
    std::fs::write(&not_a_backup, "not a database").unwrap();
    assert_refused(
        &signet(
            target.path(),
            master_env,
            &["restore", not_a_backup.to_str().unwrap()],
        ),
        "cannot be restored",
    );

    let run = signet(target.path(), master_env, &["restore", file_arg]);
    assert!(run.ok, "{}", run.stderr);
    assert!(run.stdout.contains("restored"), "{}", run.stdout);
    assert_eq!(keys_json(target.path(), master_env), keys);
    let leftovers: Vec<_> = std::fs::read_dir(target.path().join("data"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains("restore"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = Arc::new(
            SqlStore::connect(&database_url(target.path()))
                .await
                .unwrap(),
        );
        let service = start(&store, read_master_key(&master_file).unwrap())
            .await
            .unwrap();
        assert!(authenticates(&service, &client_id, &secret).await);
        assert!(!authenticates(&service, &client_id, "wrong secret").await);
    });

    // PostgreSQL is backed up with its own tools.
    let run = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["backup", "x.db"])
        .current_dir(target.path())
        .env(
            "SIGNET_DATABASE_URL",
            "postgres://signet@127.0.0.1:1/signet",
        )
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("pg_dump"));
}

#[test]
fn rotating_the_master_key_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (client_id, secret) = create_client(dir.path());
    let before = keys_json(dir.path(), &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = database_url(dir.path());
    let store = runtime.block_on(SqlStore::connect(&url)).unwrap();
    let untouched = runtime.block_on(sealed_state(&store));

    // Failed rotations change nothing.
    let malformed = dir.path().join("malformed.key");
    std::fs::write(&malformed, "not a key").unwrap();
    assert_refused(
        &signet(
            dir.path(),
            &[],
            &[
                "master-key",
                "rotate",
                "--new-key-file",
                malformed.to_str().unwrap(),
            ],
        ),
        "must hold 32 random bytes in base64",
    );
    assert_refused(
        &signet(
            dir.path(),
            &[],
            &["master-key", "rotate", "--new-key-file", "missing.key"],
        ),
        "does not exist",
    );
    assert_eq!(runtime.block_on(sealed_state(&store)), untouched);

    let new_key = new_master_key_file(&dir.path().join("new-master.key"));
    let new_arg = new_key.to_str().unwrap();
    let run = signet(
        dir.path(),
        &[],
        &["master-key", "rotate", "--new-key-file", new_arg],
    );
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout.contains("re-encrypted 2 private signing keys"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "now restart every Signet server with SIGNET_MASTER_KEY_FILE={new_arg}"
        )),
        "{}",
        run.stdout
    );

    // The old key is refused with one clear line; the new one serves the same keys.
    assert_refused(
        &signet(dir.path(), &[], &["keys", "list"]),
        "was encrypted with master key",
    );
    let with_new: &[(&str, &Path)] = &[("SIGNET_MASTER_KEY_FILE", &new_key)];
    assert_eq!(keys_json(dir.path(), with_new), before);
    for env in [with_new, &[]] {
        let run = signet(
            dir.path(),
            env,
            &["master-key", "rotate", "--new-key-file", new_arg],
        );
        assert!(run.ok, "{}", run.stderr);
        assert!(run.stdout.starts_with("nothing to do"), "{}", run.stdout);
    }

    runtime.block_on(async {
        let new = read_master_key(&new_key).unwrap();
        assert_all_open(&store.load(10).await.unwrap(), &new);
        let store = Arc::new(store);
        let service = start(&store, new).await.unwrap();
        assert!(authenticates(&service, &client_id, &secret).await);
        assert!(!authenticates(&service, &client_id, "wrong").await);
    });
    assert!(signet(dir.path(), with_new, &["keys", "rotate"]).ok);
    let audit = signet(dir.path(), with_new, &["audit", "list"]).stdout;
    assert!(audit.contains("rotate_master_key"), "{audit}");
}

/// A fresh, empty store on `backend`.
async fn fresh_store(backend: &str) -> SqlStore {
    let url = match backend {
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap().keep();
            format!("sqlite://{}/signet.db", dir.display())
        }
        _ => crate::support::postgres_schema_url("master-key rotation").await,
    };
    SqlStore::connect(&url).await.unwrap()
}

#[tokio::test]
async fn master_key_rotation_on_sqlite() {
    master_key_rotation(fresh_store("sqlite").await).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set SIGNET_TEST_DATABASE_URL"]
async fn master_key_rotation_on_postgres() {
    master_key_rotation(fresh_store("postgres").await).await;
}

/// The storage story: a failed rotation rolls back, a process with the old key cannot write
/// keys afterwards, and every key and client survives under the new key.
#[expect(
    clippy::too_many_lines,
    reason = "one story: fail, refuse, rotate, restart"
)]
async fn master_key_rotation(sql: SqlStore) {
    let old = crate::support::master;
    let new = || MasterKey::from_bytes([77; 32]);
    let now = Utc::now();
    assert!(provision(&sql, fixture_key(0), fixture_key(1)).await);
    let store = Arc::new(sql.clone());
    let running = start(&store, old()).await.unwrap();
    let (before_id, before_secret) = {
        let client = running
            .clients
            .create(
                "before",
                "read:signing_keys",
                Default::default(),
                &actor(),
                now,
            )
            .await
            .unwrap();
        (client.client_id, client.client_secret)
    };
    let key = fixture_key(2);
    let op = Operation::Rotate {
        new_next: key.kid.clone(),
    };
    apply(&sql, &op, Some(key), &actor(), now, None)
        .await
        .unwrap();

    // A key that does not open stops the whole rotation; nothing is written.
    let untouched = sealed_state(&sql).await;
    let victim = sql.load(10).await.unwrap().keys[2].clone();
    let mut garbled = victim.sealed.clone().unwrap().ciphertext;
    *garbled.last_mut().unwrap() ^= 1;
    sqlx::query("UPDATE signing_keys SET private_key = $1 WHERE kid = $2")
        .bind(&garbled)
        .bind(&victim.record.kid)
        .execute(sql.pool())
        .await
        .unwrap();
    let tampered = sealed_state(&sql).await;
    let failed = rotate_master_key(&sql, &old(), &new(), &actor(), now).await;
    assert!(
        matches!(
            failed,
            Err(ServiceError::MasterKey(MasterKeyError::Tampered { .. }))
        ),
        "{failed:?}"
    );
    assert_eq!(sealed_state(&sql).await, tampered);
    sqlx::query("UPDATE signing_keys SET private_key = $1 WHERE kid = $2")
        .bind(&victim.sealed.unwrap().ciphertext)
        .bind(&victim.record.kid)
        .execute(sql.pool())
        .await
        .unwrap();
    assert_eq!(sealed_state(&sql).await, untouched);

    // A process whose master key is not the one the keys are under is named, and refused.
    let stranger = MasterKey::from_bytes([5; 32]);
    let refused = rotate_master_key(&sql, &stranger, &new(), &actor(), now)
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!(
            "the signing keys are encrypted under master key {} but this process has {}; \
             restart it with the new SIGNET_MASTER_KEY_FILE",
            old().id(),
            stranger.id()
        )
    );
    assert_eq!(sealed_state(&sql).await, untouched);

    // Every tenant's servers reload after a master-key rotation, not only the default tenant's.
    let other = signet::store::TenantRecord {
        id: "t-other".into(),
        domain: "other.example.com".into(),
        created_at: now,
    };
    signet::store::TenantStore::create_tenant(&sql, &other)
        .await
        .unwrap();
    let other_version = || async { sql.for_tenant("t-other").version().await.unwrap() };
    let other_before = other_version().await;
    let rotated = rotate_master_key(&sql, &old(), &new(), &actor(), now)
        .await
        .unwrap();
    assert!(other_version().await > other_before);
    assert_eq!(
        rotated,
        MasterKeyRotation::Rotated {
            from: old().id().to_owned(),
            to: new().id().to_owned(),
            private_keys: 3,
            client_hash_keys: 1,
        }
    );
    assert_all_open(&sql.load(10).await.unwrap(), &new());
    assert_eq!(
        rotate_master_key(&sql, &old(), &new(), &actor(), now)
            .await
            .unwrap(),
        MasterKeyRotation::AlreadyDone {
            to: new().id().to_owned()
        }
    );

    // The server still running with the old key keeps authenticating but cannot write a key
    // sealed under it; a client it creates now still works under the new key.
    assert!(authenticates(&running, &before_id, &before_secret).await);
    match running.keys.rotate(&actor(), now).await {
        Err(ServiceError::MasterKeyMismatch { stored, process }) => {
            assert_eq!(
                (stored, process),
                (new().id().to_owned(), old().id().to_owned())
            );
        }
        other => panic!("expected the master-key guard, got {other:?}"),
    }
    let late = running
        .clients
        .create(
            "late",
            "read:signing_keys",
            Default::default(),
            &actor(),
            now,
        )
        .await
        .unwrap();

    // Restarted with the new key: every key opens, every client authenticates, keys rotate.
    assert!(matches!(
        start(&store, old()).await,
        Err(ServiceError::MasterKey(MasterKeyError::WrongKey { .. }))
    ));
    let restarted = start(&store, new()).await.unwrap();
    assert!(authenticates(&restarted, &before_id, &before_secret).await);
    assert!(authenticates(&restarted, &late.client_id, &late.client_secret).await);
    assert!(!authenticates(&restarted, &before_id, &late.client_secret).await);
    let after = restarted
        .clients
        .create(
            "after",
            "read:signing_keys",
            Default::default(),
            &actor(),
            now,
        )
        .await
        .unwrap();
    assert!(authenticates(&restarted, &after.client_id, &after.client_secret).await);
    restarted.keys.rotate(&actor(), now).await.unwrap();
    assert_all_open(&sql.load(10).await.unwrap(), &new());
}
