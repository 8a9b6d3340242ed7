//! Opening Signet's state from settings: database, master key, key service, dashboard options.

use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, bail};
use leptos::prelude::LeptosOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::{
    config::Settings,
    keys::{master_key::MasterKey, service::KeyService},
    operator::OperatorService,
    store::{Actor, KeyStore, SqlStore, sql_is_sqlite},
};

/// Opens the database and the master key, provisioning the tenant on first start.
pub async fn open_key_service(settings: &Settings, actor: &Actor) -> anyhow::Result<KeyService> {
    Ok(open(settings, actor).await?.0)
}

/// The key service and the operator service, sharing one database.
pub async fn open(
    settings: &Settings,
    actor: &Actor,
) -> anyhow::Result<(KeyService, OperatorService)> {
    prepare_data_dir(settings)?;
    let url = settings.database_url();
    let store = SqlStore::connect(&url)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(&url)))?;
    let has_keys = !store.load(0).await?.keys.is_empty();
    let master = open_master_key(settings, has_keys)?;
    let store: Arc<dyn KeyStore> = Arc::new(store);
    let keys = KeyService::start(
        store.clone(),
        master,
        &settings.tenant_domain,
        actor,
        settings.service_options(),
    )
    .await?;
    Ok((keys, OperatorService::new(store)))
}

/// Sets the configured operator password, or generates one on first start and prints it once.
pub async fn ensure_operator_password(
    settings: &Settings,
    operator: &OperatorService,
) -> anyhow::Result<()> {
    if let Some(password) = &settings.admin_password {
        return Ok(operator.set_password(password).await?);
    }
    if !operator.has_password().await? {
        let password = crate::operator::generate_password();
        operator.set_password(&password).await?;
        // Printed once, on standard output, never logged.
        println!(
            "Signet dashboard password (shown once; set SIGNET_ADMIN_PASSWORD to choose your own): {password}"
        );
    }
    Ok(())
}

/// Creates the data directory when the embedded database or the generated master key live there.
fn prepare_data_dir(settings: &Settings) -> anyhow::Result<()> {
    if settings.database_url.is_none() || settings.master_key_file.is_none() {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "cannot create data directory {}",
                settings.data_dir.display()
            )
        })?;
    }
    Ok(())
}

/// Loads the master key; generates one only for a database that holds no keys yet, and only
/// at the default path (a configured file must exist).
fn open_master_key(settings: &Settings, has_keys: bool) -> anyhow::Result<MasterKey> {
    let path = settings.master_key_path();
    if path.exists() || has_keys || settings.master_key_file.is_some() {
        return MasterKey::load(&path).with_context(|| {
            if has_keys {
                "the database holds signing keys encrypted under a master key; set \
                 SIGNET_MASTER_KEY_FILE to that key"
            } else {
                "cannot load the master key"
            }
        });
    }
    tracing::info!(path = %path.display(), "generated a new master key");
    Ok(MasterKey::create(&path)?)
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Held while `signet serve` runs on a SQLite file, so a second server on the same file is refused.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

/// Takes the serve lock for the embedded database, if that is what `settings` use.
pub fn lock_embedded_database(settings: &Settings) -> anyhow::Result<Option<ServeLock>> {
    let url = settings.database_url();
    if !sql_is_sqlite(&url) {
        return Ok(None);
    }
    prepare_data_dir(settings)?;
    let options: SqliteConnectOptions = url.parse().context("invalid SQLite URL")?;
    let db_path = options.get_filename();
    if db_path == Path::new(":memory:") {
        return Ok(None);
    }
    let lock_path = PathBuf::from(format!("{}.serve-lock", db_path.display()));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot create lock file {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServeLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "another `signet serve` is already using {}; several servers must share PostgreSQL \
             (SIGNET_DATABASE_URL=postgres://…) instead",
            db_path.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", lock_path.display()))
        }
    }
}

/// Dashboard options for the built site.
pub fn leptos_options(settings: &Settings) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("signet")
        .site_root(settings.site_root().display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(settings.addr)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            redact_url("postgres://signet:hunter2@db:5432/signet"),
            "postgres://signet:***@db:5432/signet"
        );
        assert_eq!(
            redact_url("sqlite://data/signet.db"),
            "sqlite://data/signet.db"
        );
    }
}
