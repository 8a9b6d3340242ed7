//! Start-up wiring: the configuration turned into a database, a master key, the services'
//! options, the services themselves and the dashboard's options.

use std::sync::Arc;

use anyhow::{Context, bail};
use leptos::prelude::LeptosOptions;

use crate::{
    config::{Config, is_valid_domain},
    domain::{
        Actor,
        material::{KeyKind, new_kid},
        rotation_limit::RotationLimit,
        schedule::PublicationWindow,
        sealing::MasterKey,
    },
    http::ApiSettings,
    services::{
        ServiceParts, Services,
        clock::{OffsetFileClock, SharedClock, SystemClock},
        database_health::DatabaseHealth,
        key_source::GeneratedKeys,
        keys::KeyServiceOptions,
        metrics::Metrics,
        operator::{OperatorService, generate_password},
        spare_keys::{Refill, SpareKeys},
    },
    store::{
        DEFAULT_TENANT, DeletedTenant, KeyStore, SqlStore, TenantRecord, TenantStore,
        master_key_file::{create_master_key, read_master_key},
        sqlite_file::{DatabaseLocation, ServeLock, database_location, lock_for_serving},
    },
};

/// The key service's options from the configuration.
pub fn key_service_options(config: &Config) -> KeyServiceOptions {
    KeyServiceOptions {
        rotation_limit: (config.rotation_limit_per_day > 0).then_some(RotationLimit {
            per_day: config.rotation_limit_per_day,
        }),
        publication_window: PublicationWindow {
            seconds: i64::from(config.publication_window_secs),
        },
        default_key: config.signing_key,
    }
}

/// The token endpoint's and the Management API's settings from the configuration.
pub fn api_settings(config: &Config) -> ApiSettings {
    ApiSettings::new(config.token_lifetime, config.api_rate_limit_per_minute)
}

/// Dashboard options for the built site.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("signet")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .build()
}

/// The person at the command line, for the audit log.
pub fn command_line_actor() -> Actor {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    Actor::command_line(&user)
}

/// Connects to the configured database, creating the data directory it needs.
pub async fn connect_store(config: &Config) -> anyhow::Result<Arc<SqlStore>> {
    prepare_data_dir(config)?;
    let url = &config.database_url;
    let store = SqlStore::connect(url)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(url)))?;
    Ok(Arc::new(store))
}

/// Opens the database and the master key and starts every service of the default tenant,
/// provisioning it on first start, for a one-shot command (it keeps no spare keys).
pub async fn start_services(config: &Config, actor: &Actor) -> anyhow::Result<Services> {
    Deployment::open(config, Refill::Never)
        .await?
        .start_default(actor)
        .await
}

/// Every service of the tenant named `domain`, or of the default tenant, for a one-shot command
/// (it keeps no spare keys).
pub async fn start_services_of(
    config: &Config,
    domain: Option<&str>,
    actor: &Actor,
) -> anyhow::Result<Services> {
    let deployment = Deployment::open(config, Refill::Never).await?;
    match domain {
        None => deployment.start_default(actor).await,
        Some(domain) => {
            let tenant = deployment.find_tenant(domain).await?;
            deployment.start_tenant(&tenant, actor).await
        }
    }
}

/// What every tenant of a process shares: the database, the master key, the clock, the spare
/// key pairs, the database's health and the key services' options. Cheap to clone.
#[derive(Clone)]
pub struct Deployment {
    pub store: Arc<SqlStore>,
    master: Arc<MasterKey>,
    pub clock: SharedClock,
    pub spare_keys: SpareKeys,
    pub health: DatabaseHealth,
    /// The process's metrics, shared by every tenant.
    pub metrics: Metrics,
    options: KeyServiceOptions,
    /// The default tenant, named after `SIGNET_TENANT_DOMAIN`.
    pub default_tenant: TenantRecord,
}

impl Deployment {
    /// Connects to the database, names the default tenant after `SIGNET_TENANT_DOMAIN` and
    /// loads (on a first start: generates) the master key. A server's spare keys refill in the
    /// background; a one-shot command's never do.
    pub async fn open(config: &Config, refill: Refill) -> anyhow::Result<Self> {
        let store = connect_store(config).await?;
        let clock = clock(config);
        let default_tenant = TenantRecord {
            id: DEFAULT_TENANT.to_owned(),
            domain: config.tenant_domain.clone(),
            created_at: clock.now(),
        };
        store
            .ensure_tenant(&default_tenant)
            .await
            .with_context(|| {
                format!(
                    "cannot name the default tenant {}: another tenant has that domain",
                    config.tenant_domain
                )
            })?;
        let has_keys = !store
            .for_tenant(DEFAULT_TENANT)
            .load(0)
            .await?
            .keys
            .is_empty()
            || store.list_tenants().await?.len() > 1;
        let master = Arc::new(load_master_key(config, has_keys)?);
        Ok(Self {
            store,
            master,
            clock,
            spare_keys: SpareKeys::new(
                Arc::new(GeneratedKeys),
                KeyKind::of(config.signing_key),
                refill,
            ),
            health: DatabaseHealth::default(),
            metrics: Metrics::default(),
            options: key_service_options(config),
            default_tenant,
        })
    }

    /// Every service of the default tenant, provisioning its first keys if it has none.
    pub async fn start_default(&self, actor: &Actor) -> anyhow::Result<Services> {
        self.start_tenant(&self.default_tenant.clone(), actor).await
    }

    /// The live tenant named `domain`, or an error that says how to list them.
    pub async fn find_tenant(&self, domain: &str) -> anyhow::Result<TenantRecord> {
        find_tenant(&self.store, domain).await
    }

    /// Creates the tenant named `domain` (lowercased) and provisions its current and next key
    /// from the spare key pairs; its services are returned started.
    pub async fn create_tenant(
        &self,
        domain: &str,
        actor: &Actor,
    ) -> anyhow::Result<(TenantRecord, Services)> {
        let domain = domain.trim().to_ascii_lowercase();
        if !is_valid_domain(&domain) {
            bail!(
                "{domain:?} is not a DNS name (letters, digits, '-' and '.', at most 64 characters)"
            );
        }
        let tenant = TenantRecord {
            id: format!("t-{}", new_kid()),
            domain: domain.clone(),
            created_at: self.clock.now(),
        };
        self.store
            .create_tenant(&tenant)
            .await
            .with_context(|| format!("cannot create the tenant {domain}"))?;
        let services = self.start_tenant(&tenant, actor).await?;
        Ok((tenant, services))
    }

    /// Deletes the tenant named `domain` ([`TenantStore::delete_tenant`]); the default tenant
    /// cannot be deleted, as it serves every host that names no tenant.
    pub async fn delete_tenant(
        &self,
        domain: &str,
        actor: &Actor,
    ) -> anyhow::Result<(TenantRecord, DeletedTenant)> {
        let tenant = self.find_tenant(domain).await?;
        if tenant.id == DEFAULT_TENANT {
            bail!(
                "{} is the default tenant (SIGNET_TENANT_DOMAIN): it serves every host that names \
                 no other tenant and cannot be deleted",
                tenant.domain
            );
        }
        let deleted = self
            .store
            .delete_tenant(&tenant.id, actor, self.clock.now())
            .await?
            .with_context(|| format!("the tenant {domain} was deleted meanwhile"))?;
        Ok((tenant, deleted))
    }

    /// Starts every service of `tenant`, provisioning its first keys if it has none.
    pub async fn start_tenant(
        &self,
        tenant: &TenantRecord,
        actor: &Actor,
    ) -> anyhow::Result<Services> {
        let parts = ServiceParts {
            store: Arc::new(self.store.for_tenant(&tenant.id)),
            master: Arc::clone(&self.master),
            tenant_domain: tenant.domain.clone(),
            clock: Arc::clone(&self.clock),
            spare_keys: self.spare_keys.clone(),
            health: self.health.clone(),
            options: self.options,
            metrics: self.metrics.clone(),
        };
        Ok(Services::start(parts, actor).await?)
    }
}

/// The live tenant named `domain`, or an error that says how to list them.
pub async fn find_tenant(store: &SqlStore, domain: &str) -> anyhow::Result<TenantRecord> {
    store
        .tenant_named(domain, false)
        .await?
        .with_context(|| format!("there is no tenant {domain} (signet tenants list shows them)"))
}

/// The system clock, or for tests the system clock moved by `SIGNET_TEST_CLOCK_FILE`.
pub fn clock(config: &Config) -> SharedClock {
    match &config.test_clock_file {
        Some(file) => {
            tracing::warn!(
                file = %file.display(),
                "SIGNET_TEST_CLOCK_FILE is set: the clock is moved by that file (tests only)"
            );
            Arc::new(OffsetFileClock::new(file.clone()))
        }
        None => Arc::new(SystemClock),
    }
}

/// Sets the configured operator password, or generates one on first start and prints it once.
pub async fn ensure_operator_password(
    config: &Config,
    operator: &OperatorService,
) -> anyhow::Result<()> {
    if let Some(password) = &config.admin_password {
        return Ok(operator.set_password(password.expose()).await?);
    }
    if !operator.has_password().await? {
        let password = generate_password();
        operator.set_password(&password).await?;
        // Printed once, on standard output, never logged.
        println!(
            "Signet dashboard password (shown once; set SIGNET_ADMIN_PASSWORD to choose your own): {password}"
        );
    }
    Ok(())
}

/// Creates the data directory when the embedded database or the generated master key live there.
fn prepare_data_dir(config: &Config) -> anyhow::Result<()> {
    if config.database_in_data_dir || !config.master_key_file_configured {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
    }
    Ok(())
}

/// Loads the master key; generates one only for a database that holds no keys yet, and only
/// at the default path (a configured file must exist).
pub fn load_master_key(config: &Config, has_keys: bool) -> anyhow::Result<MasterKey> {
    let path = &config.master_key_file;
    if path.exists() || has_keys || config.master_key_file_configured {
        return read_master_key(path).with_context(|| {
            if has_keys {
                "the database holds signing keys encrypted under a master key; set \
                 SIGNET_MASTER_KEY_FILE to that key"
            } else {
                "cannot load the master key"
            }
        });
    }
    tracing::info!(path = %path.display(), "generated a new master key");
    Ok(create_master_key(path)?)
}

/// Takes the serve lock for the embedded database, if that is what `config` uses.
pub fn lock_embedded_database(config: &Config) -> anyhow::Result<Option<ServeLock>> {
    match database_location(&config.database_url)? {
        DatabaseLocation::File(path) => {
            prepare_data_dir(config)?;
            Ok(Some(lock_for_serving(&path)?))
        }
        DatabaseLocation::InMemory | DatabaseLocation::Server => Ok(None),
    }
}

/// A database URL without its password (in the user info or a `password` parameter), for
/// messages.
fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return "(a database URL that does not parse)".to_owned();
    };
    if url.password().is_some() {
        // Only fails for URLs that cannot have a password; those have none to hide.
        let _ = url.set_password(Some("***"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let secret = name.to_ascii_lowercase().contains("password");
                let value = if secret {
                    "***".into()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
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
        assert_eq!(
            redact_url("postgres://db/signet?user=signet&password=hunter2"),
            "postgres://db/signet?user=signet&password=***"
        );
        let encoded = redact_url("postgres://signet:hun%40ter2@db/signet?sslpassword=x%26y");
        assert!(
            !encoded.contains("hun") && !encoded.contains("x%26y"),
            "{encoded}"
        );
        assert_eq!(
            redact_url("not a url"),
            "(a database URL that does not parse)"
        );
    }
}
