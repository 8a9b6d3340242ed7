//! `signet backup` and `signet restore` for the embedded SQLite database.
//!
//! A backup is a consistent online snapshot, taken while servers keep running. A restore checks
//! the file is a Signet database whose keys open with the configured master key, then swaps it
//! in atomically, only while no `signet serve` holds the data directory.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};

use crate::{
    config::Config,
    domain::{client_secret::ClientHashKeys, material::PrivateKey, sealing::MasterKey},
    startup,
    store::{
        SealedSecrets,
        master_key_file::read_master_key,
        sqlite_file::{
            Contents, DatabaseLocation, database_location, inspect_backup, snapshot, stage_restore,
        },
    },
};

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
fn embedded_database(config: &Config, command: &str) -> anyhow::Result<PathBuf> {
    match database_location(&config.database_url)? {
        DatabaseLocation::File(path) => Ok(path),
        DatabaseLocation::InMemory => bail!("an in-memory database has nothing to {command}"),
        DatabaseLocation::Server => bail!(
            "`signet {command}` is for the embedded SQLite database; for PostgreSQL use pg_dump \
             and pg_restore (e.g. `pg_dump --format=custom --file=signet.dump DATABASE_URL`)"
        ),
    }
}

/// Writes a consistent snapshot of the embedded database to `file`, which must not exist.
pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<Backup> {
    let database = embedded_database(config, "backup")?;
    let contents = snapshot(&database, file).await?;
    Ok(Backup {
        database,
        bytes: std::fs::metadata(file)?.len(),
        file: file.to_owned(),
        contents,
    })
}

/// Replaces the embedded database with the backup `file`, after checking it.
pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<Restore> {
    let database = embedded_database(config, "restore")?;
    // Held until the new database is in place, so no server starts on a half-restored directory.
    let _lock = startup::lock_embedded_database(config)
        .context("stop every `signet serve` on this data directory before restoring")?;
    if !file.is_file() {
        bail!("backup file {} does not exist", file.display());
    }
    let master = read_master_key(&config.master_key_file).context(
        "cannot load the master key to check the backup with; set SIGNET_MASTER_KEY_FILE to the \
         key the backup's private keys are sealed under",
    )?;
    let staged = stage_restore(file, &database)?;
    let checked = async {
        let (contents, sealed) = inspect_backup(&staged.path).await?;
        check_secrets_open(&sealed, &master)?;
        anyhow::Ok(contents)
    }
    .await
    .with_context(|| format!("{} cannot be restored", file.display()));
    let contents = match checked {
        Ok(contents) => contents,
        Err(error) => {
            staged.discard();
            return Err(error);
        }
    };
    staged.install().await?;
    Ok(Restore {
        database,
        file: file.to_owned(),
        contents,
    })
}

/// Every private key and client hashing key in a backup opens with `master`.
fn check_secrets_open(sealed: &SealedSecrets, master: &MasterKey) -> anyhow::Result<()> {
    for row in &sealed.private_keys {
        PrivateKey::from_pkcs8_der(&master.unseal(&row.id, &row.sealed)?)?;
    }
    let retired: Vec<_> = sealed
        .client_hash_keys
        .iter()
        .map(|row| (row.id.clone(), row.sealed.clone()))
        .collect();
    ClientHashKeys::unseal(master, &retired)?;
    Ok(())
}
