//! The embedded SQLite database as a file: the lock that keeps a second server off it, a
//! consistent online snapshot (`VACUUM INTO`), the checks a backup passes before a restore, and
//! the atomic swap that puts it in place.

use std::{
    fmt,
    fs::{self, File},
    io::ErrorKind,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use sqlx::{AnyConnection, Connection, sqlite::SqliteConnectOptions};

use super::{
    database::{is_sqlite, knows_migration},
    sealed::{SealedSecrets, read_client_hash_keys, read_private_keys},
};

/// Tables every Signet database has (the key-set version lives in `keyset` before tenants,
/// `keysets` after).
const SIGNET_TABLES: [&str; 4] = [
    "signing_keys",
    "audit_events",
    "clients",
    "_sqlx_migrations",
];

/// Where a database URL keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A SQLite file.
    File(PathBuf),
    /// An in-memory SQLite database.
    InMemory,
    /// Not SQLite (PostgreSQL).
    Server,
}

/// Where `url` keeps its data.
pub fn database_location(url: &str) -> anyhow::Result<DatabaseLocation> {
    if !is_sqlite(url) {
        return Ok(DatabaseLocation::Server);
    }
    let options: SqliteConnectOptions = url.parse().context("invalid SQLite URL")?;
    let path = options.get_filename();
    if path == Path::new(":memory:") {
        return Ok(DatabaseLocation::InMemory);
    }
    Ok(DatabaseLocation::File(path.to_owned()))
}

/// Held while `signet serve` runs on a SQLite file, so a second server on the same file is refused.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

/// Takes the serve lock of the SQLite file `database`.
pub fn lock_for_serving(database: &Path) -> anyhow::Result<ServeLock> {
    let lock_path = PathBuf::from(format!("{}.serve-lock", database.display()));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot create lock file {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(ServeLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `signet serve` is already using {}; several servers must share PostgreSQL \
             (SIGNET_DATABASE_URL=postgres://…) instead",
            database.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", lock_path.display()))
        }
    }
}

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

/// Connects to an existing SQLite file (never creating one), waiting for a server's write to
/// finish instead of failing.
async fn connect_to_file(path: &Path) -> anyhow::Result<AnyConnection> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&format!("sqlite://{}?mode=rw", path.display()))
        .await
        .with_context(|| format!("cannot open {} as a SQLite database", path.display()))?;
    sqlx::query("PRAGMA busy_timeout = 10000")
        .execute(&mut conn)
        .await
        .with_context(|| format!("cannot open {} as a SQLite database", path.display()))?;
    Ok(conn)
}

/// Counts what a Signet database holds.
async fn contents(conn: &mut AnyConnection) -> anyhow::Result<Contents> {
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
    // Every tenant's changes: with one tenant, its key-set version. A backup made before there
    // were tenants has one `keyset` row instead.
    let has_tenants = count("SELECT COUNT(*) FROM sqlite_master WHERE name = 'keysets'")
        .fetch_one(&mut *conn)
        .await?
        > 0;
    let version = count(if has_tenants {
        "SELECT COALESCE(SUM(version), 0) FROM keysets"
    } else {
        "SELECT version FROM keyset WHERE id = 1"
    })
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

/// Creates `file` empty and readable by its owner only (it will hold the sealed keys and the
/// clients' secret hashes), refusing an existing file without a race.
fn create_private_file(file: &Path) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => bail!(
            "{} exists already; a backup never overwrites a file, choose a new name",
            file.display()
        ),
        Err(error) => Err(error).with_context(|| format!("cannot create {}", file.display())),
    }
}

/// Writes a consistent snapshot of `database` to `file`, which must not exist.
pub async fn snapshot(database: &Path, file: &Path) -> anyhow::Result<Contents> {
    if !database.is_file() {
        bail!("there is no database at {} to back up", database.display());
    }
    let target = file
        .to_str()
        .with_context(|| format!("{} is not a UTF-8 path", file.display()))?;
    create_private_file(file)?;
    let written = async {
        let mut conn = connect_to_file(database).await?;
        // One read transaction: a snapshot of the moment it started, while writers go on.
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&mut conn)
            .await
            .with_context(|| format!("cannot write the snapshot to {}", file.display()))?;
        conn.close().await?;
        File::open(file)?.sync_all()?;
        let mut copy = connect_to_file(file).await?;
        let contents = contents(&mut copy).await?;
        copy.close().await?;
        anyhow::Ok(contents)
    }
    .await;
    if written.is_err() {
        // Best effort: a partial snapshot must not look like a backup.
        let _ = fs::remove_file(file);
    }
    written
}

/// Checks that `path` is an intact Signet database this binary can read, and returns what it
/// holds with every sealed secret in it (for the caller to check against the master key).
pub async fn inspect_backup(path: &Path) -> anyhow::Result<(Contents, SealedSecrets)> {
    let mut conn = connect_to_file(path).await?;
    // A rollback journal, so the checked copy is one self-contained file.
    sqlx::query("PRAGMA journal_mode = DELETE")
        .execute(&mut conn)
        .await
        .context("not a SQLite database")?;
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
    if let Some(unknown) = applied.iter().find(|version| !knows_migration(**version)) {
        bail!(
            "it comes from a newer Signet (schema migration {unknown}); restore it with that version"
        );
    }
    let private_keys = read_private_keys(&mut conn).await?;
    if private_keys.is_empty() {
        bail!("it holds no signing keys");
    }
    // Backups made before master-key rotation existed have no client hashing keys.
    let client_hash_keys = if tables.iter().any(|t| t == "client_hash_keys") {
        read_client_hash_keys(&mut conn).await?
    } else {
        Vec::new()
    };
    let sealed = SealedSecrets {
        private_keys,
        client_hash_keys,
    };
    let contents = contents(&mut conn).await?;
    conn.close().await?;
    Ok((contents, sealed))
}

/// A copy of a backup beside the database it will replace (same directory, so the final rename
/// is atomic), readable by its owner only.
#[derive(Debug)]
pub struct StagedRestore {
    pub path: PathBuf,
    database: PathBuf,
    dir: PathBuf,
}

/// Copies `file` beside `database`.
pub fn stage_restore(file: &Path, database: &Path) -> anyhow::Result<StagedRestore> {
    let dir = database
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let name = database
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("signet.db");
    let staged = StagedRestore {
        path: dir.join(format!(".{name}.restore-{}", std::process::id())),
        database: database.to_owned(),
        dir,
    };
    let copied = (|| {
        fs::copy(file, &staged.path).with_context(|| {
            format!(
                "cannot copy {} to {}",
                file.display(),
                staged.path.display()
            )
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&staged.path, fs::Permissions::from_mode(0o600))?;
        }
        anyhow::Ok(())
    })();
    match copied {
        Ok(()) => Ok(staged),
        Err(error) => {
            staged.discard();
            Err(error)
        }
    }
}

impl StagedRestore {
    /// Removes the staged copy (best effort).
    pub fn discard(&self) {
        let _ = remove_sidecars(&self.path);
        let _ = fs::remove_file(&self.path);
    }

    /// Puts the checked copy in place of the database, atomically.
    pub async fn install(self) -> anyhow::Result<()> {
        remove_sidecars(&self.path)?;
        File::open(&self.path)?.sync_all()?;
        retire(&self.database).await?;
        fs::rename(&self.path, &self.database).with_context(|| {
            format!(
                "cannot move {} to {}",
                self.path.display(),
                self.database.display()
            )
        })?;
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}

/// Folds the old database's write-ahead log into it and removes it: a WAL left beside the new
/// file would be replayed into it.
async fn retire(database: &Path) -> anyhow::Result<()> {
    if database.is_file()
        && let Ok(mut conn) = connect_to_file(database).await
    {
        // Best effort: an unreadable old database is about to be replaced anyway.
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
    remove_sidecars(database)
}

/// Removes `path`'s `-wal`, `-shm` and `-journal` files, if any.
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
