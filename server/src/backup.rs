//! `signet backup` and `signet restore` for the embedded SQLite database.
//!
//! A backup is a consistent online snapshot (`VACUUM INTO`), taken while servers keep running.
//! A restore checks the file is a Signet database whose keys open with the configured master key,
//! then swaps it in atomically, only while no `signet serve` holds the data directory.

use std::{
    fmt,
    fs::{self, File},
    io::ErrorKind,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use sqlx::{
    Connection, Row,
    sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode},
};

use crate::{
    clients::ClientHashKeys,
    config::Settings,
    domain::material::PrivateKey,
    keys::master_key::{MasterKey, SealedKey},
    startup,
    store::sql_is_sqlite,
};

/// The schema this binary knows: a backup from a newer Signet is refused rather than half-read.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Tables every Signet database has.
const SIGNET_TABLES: [&str; 5] = [
    "keyset",
    "signing_keys",
    "audit_events",
    "clients",
    "_sqlx_migrations",
];

/// What a database file holds, for the operator's confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// Keys with a private part: current, next and previous.
    pub valid_keys: i64,
    pub revoked_keys: i64,
    pub clients: i64,
    pub version: i64,
    /// The master keys the private keys are sealed under (one, normally).
    pub master_key_ids: Vec<String>,
}

impl fmt::Display for Contents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} signing keys ({} revoked), {} clients, key set version {}",
            self.valid_keys, self.revoked_keys, self.clients, self.version
        )
    }
}

/// What `signet backup` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub database: PathBuf,
    pub file: PathBuf,
    pub bytes: u64,
    pub contents: Contents,
}

impl fmt::Display for Backup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "backed up {} to {}: {} bytes, {}",
            self.database.display(),
            self.file.display(),
            self.bytes,
            self.contents
        )?;
        write!(
            f,
            "its private keys are sealed under master key {}, which is not in the backup: keep \
             that key file safe, apart from the backup",
            self.contents.master_key_ids.join(", ")
        )
    }
}

/// What `signet restore` put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub database: PathBuf,
    pub file: PathBuf,
    pub contents: Contents,
}

impl fmt::Display for Restore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "restored {} into {}: {}; start `signet serve` to serve them",
            self.file.display(),
            self.database.display(),
            self.contents
        )
    }
}

/// The embedded database file, or a one-line refusal for PostgreSQL and in-memory databases.
fn embedded_database(settings: &Settings, command: &str) -> anyhow::Result<PathBuf> {
    let url = settings.database_url();
    if !sql_is_sqlite(&url) {
        bail!(
            "`signet {command}` is for the embedded SQLite database; for PostgreSQL use pg_dump \
             and pg_restore (e.g. `pg_dump --format=custom --file=signet.dump DATABASE_URL`)"
        );
    }
    let options: SqliteConnectOptions = url.parse().context("invalid SQLite URL")?;
    let path = options.get_filename();
    if path == Path::new(":memory:") {
        bail!("an in-memory database has nothing to {command}");
    }
    Ok(path.to_owned())
}

async fn open(
    path: &Path,
    journal_mode: Option<SqliteJournalMode>,
) -> anyhow::Result<SqliteConnection> {
    let mut options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        // Waits for a server's write to finish instead of failing.
        .busy_timeout(Duration::from_secs(10));
    if let Some(mode) = journal_mode {
        options = options.journal_mode(mode);
    }
    SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot open {} as a SQLite database", path.display()))
}

/// Counts what a Signet database holds.
async fn contents(conn: &mut SqliteConnection) -> anyhow::Result<Contents> {
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    let valid_keys = count("SELECT COUNT(*) FROM signing_keys WHERE state <> 'revoked'")
        .fetch_one(&mut *conn)
        .await?;
    let revoked_keys = count("SELECT COUNT(*) FROM signing_keys WHERE state = 'revoked'")
        .fetch_one(&mut *conn)
        .await?;
    let clients = count("SELECT COUNT(*) FROM clients")
        .fetch_one(&mut *conn)
        .await?;
    let version = count("SELECT version FROM keyset WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let master_key_ids = sqlx::query_scalar(
        "SELECT DISTINCT master_key_id FROM signing_keys WHERE master_key_id IS NOT NULL \
         ORDER BY master_key_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Contents {
        valid_keys,
        revoked_keys,
        clients,
        version,
        master_key_ids,
    })
}

/// Writes a consistent snapshot of the embedded database to `file`, which must not exist.
pub async fn backup(settings: &Settings, file: &Path) -> anyhow::Result<Backup> {
    let database = embedded_database(settings, "backup")?;
    if !database.is_file() {
        bail!("there is no database at {} to back up", database.display());
    }
    let target = file
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", file.display()))?;
    // Created here, empty, so an existing file is refused without a race and the copy is
    // readable by its owner only: it holds the sealed keys and the clients' secret hashes.
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::AlreadyExists => bail!(
            "{} exists already; a backup never overwrites a file, choose a new name",
            file.display()
        ),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot create {}", file.display()));
        }
    }
    let written = async {
        let mut conn = open(&database, None).await?;
        // One read transaction: a snapshot of the moment it started, while writers go on.
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&mut conn)
            .await
            .with_context(|| format!("cannot write the snapshot to {}", file.display()))?;
        conn.close().await?;
        File::open(file)?.sync_all()?;
        let mut copy = open(file, None).await?;
        let contents = contents(&mut copy).await?;
        copy.close().await?;
        anyhow::Ok(contents)
    }
    .await;
    let contents = match written {
        Ok(contents) => contents,
        Err(error) => {
            // Best effort: a partial snapshot must not look like a backup.
            let _ = fs::remove_file(file);
            return Err(error);
        }
    };
    Ok(Backup {
        database,
        bytes: fs::metadata(file)?.len(),
        file: file.to_owned(),
        contents,
    })
}

/// Replaces the embedded database with the backup `file`, after checking it.
pub async fn restore(settings: &Settings, file: &Path) -> anyhow::Result<Restore> {
    let database = embedded_database(settings, "restore")?;
    // Held until the new database is in place, so no server starts on a half-restored directory.
    let _lock = startup::lock_embedded_database(settings)
        .context("stop every `signet serve` on this data directory before restoring")?;
    if !file.is_file() {
        bail!("backup file {} does not exist", file.display());
    }
    let master_path = settings.master_key_path();
    let master = MasterKey::load(&master_path).context(
        "cannot load the master key to check the backup with; set SIGNET_MASTER_KEY_FILE to the \
         key the backup's private keys are sealed under",
    )?;
    let dir = database
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = database
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("signet.db");
    // In the same directory, so the final rename is atomic.
    let staged = dir.join(format!(".{name}.restore-{}", std::process::id()));
    let checked = async {
        fs::copy(file, &staged)
            .with_context(|| format!("cannot copy {} to {}", file.display(), staged.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&staged, fs::Permissions::from_mode(0o600))?;
        }
        let contents = check_backup(&staged, &master)
            .await
            .with_context(|| format!("{} cannot be restored", file.display()))?;
        remove_sidecars(&staged)?;
        File::open(&staged)?.sync_all()?;
        anyhow::Ok(contents)
    }
    .await;
    let contents = match checked {
        Ok(contents) => contents,
        Err(error) => {
            let _ = remove_sidecars(&staged);
            let _ = fs::remove_file(&staged);
            return Err(error);
        }
    };
    retire(&database).await?;
    fs::rename(&staged, &database)
        .with_context(|| format!("cannot move {} to {}", staged.display(), database.display()))?;
    File::open(dir)?.sync_all()?;
    Ok(Restore {
        database,
        file: file.to_owned(),
        contents,
    })
}

/// Checks that `path` is an intact Signet database whose keys open with `master`.
async fn check_backup(path: &Path, master: &MasterKey) -> anyhow::Result<Contents> {
    // A rollback journal, so the checked copy is one self-contained file.
    let mut conn = open(path, Some(SqliteJournalMode::Delete)).await?;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .context("not a SQLite database")?;
    if integrity.first().map(String::as_str) != Some("ok") {
        bail!(
            "the SQLite integrity check failed: {}",
            integrity.first().map_or("no answer", String::as_str)
        );
    }
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await?;
    if let Some(missing) = SIGNET_TABLES
        .iter()
        .find(|table| !tables.iter().any(|t| t == *table))
    {
        bail!("it is not a Signet database (it has no table {missing})");
    }
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(&mut conn)
        .await?;
    if let Some(unknown) = applied
        .iter()
        .find(|version| !MIGRATOR.iter().any(|m| m.version == **version))
    {
        bail!(
            "it comes from a newer Signet (schema migration {unknown}); restore it with that version"
        );
    }

    let keys = sqlx::query(
        "SELECT kid, private_key, master_key_id FROM signing_keys WHERE private_key IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await?;
    if keys.is_empty() {
        bail!("it holds no signing keys");
    }
    for row in &keys {
        let kid: String = row.try_get("kid")?;
        let sealed = SealedKey {
            master_key_id: row.try_get("master_key_id")?,
            ciphertext: row.try_get("private_key")?,
        };
        let der = master.open(&kid, &sealed)?;
        PrivateKey::from_pkcs8_der(&der)?;
    }
    if tables.iter().any(|t| t == "client_hash_keys") {
        let rows =
            sqlx::query("SELECT secret_key_id, sealed_key, master_key_id FROM client_hash_keys")
                .fetch_all(&mut conn)
                .await?;
        let retired = rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get("secret_key_id")?,
                    SealedKey {
                        master_key_id: row.try_get("master_key_id")?,
                        ciphertext: row.try_get("sealed_key")?,
                    },
                ))
            })
            .collect::<Result<Vec<(String, SealedKey)>, sqlx::Error>>()?;
        ClientHashKeys::open(master, &retired)?;
    }
    let contents = contents(&mut conn).await?;
    conn.close().await?;
    Ok(contents)
}

/// Folds the old database's write-ahead log into it and removes it: a WAL left beside the new
/// file would be replayed into it.
async fn retire(database: &Path) -> anyhow::Result<()> {
    if database.is_file()
        && let Ok(mut conn) = open(database, None).await
    {
        // Best effort: an unreadable old database is about to be replaced anyway.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
    remove_sidecars(database)
}

/// Removes `path`'s `-wal` and `-shm` files, if any.
fn remove_sidecars(path: &Path) -> anyhow::Result<()> {
    for suffix in ["-wal", "-shm", "-journal"] {
        let sidecar = PathBuf::from(format!("{}{suffix}", path.display()));
        match fs::remove_file(&sidecar) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("cannot remove {}", sidecar.display()));
            }
        }
    }
    Ok(())
}
