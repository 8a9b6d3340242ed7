//! The services: one concern each. They plan with the domain, drive the store's transactions,
//! and take the time as `now` from the edge (a handler, a CLI command, a watcher tick) that read
//! it once from the injected [`clock::Clock`].

pub mod audit;
pub mod clients;
pub mod clock;
pub mod database_health;
pub mod key_change;
pub mod key_source;
pub mod keys;
pub mod master_key_rotation;
pub mod metrics;
pub mod operator;
pub mod published;
pub mod schedule;
pub mod sign_in_throttle;
pub mod signing;
pub mod spare_keys;
pub mod tokens;
pub mod usage;

use chrono::{DateTime, Utc};

use crate::{
    domain::{
        client_secret::ClientError,
        lifecycle::KeyError,
        material::MaterialError,
        rotation_limit::LimitReached,
        schedule::PolicyRefusal,
        sealing::{MasterKeyError, ResealError},
        signing_policy::{ClaimsError, PolicyError},
    },
    store::StoreError,
};

/// Why a service call failed. Each boundary (HTTP API, dashboard, token endpoint, CLI) turns
/// it into its own answer in one place: `http/errors.rs`.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The lifecycle refused it; nothing changed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The rotation limit is reached until `reset_at`; nothing changed.
    #[error("the rotation limit of {limit} per day is reached until {reset_at}")]
    RateLimited { limit: u32, reset_at: DateTime<Utc> },
    /// This process's master key is not the one the stored keys are sealed under (the master key
    /// was rotated while it ran): it must not write a key the others cannot open.
    #[error(
        "the signing keys are encrypted under master key {stored} but this process has {process}; \
         restart it with the new SIGNET_MASTER_KEY_FILE"
    )]
    MasterKeyMismatch { stored: String, process: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Material(#[from] MaterialError),
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A claim set broke a signing rule; nothing was signed.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// A signing policy is out of bounds; nothing was created.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A rotation policy that cannot be honoured; nothing changed.
    #[error(transparent)]
    Schedule(#[from] PolicyRefusal),
    /// A key type Signet does not offer; nothing changed.
    #[error(transparent)]
    Algorithm(#[from] app::algorithm::AlgorithmRefusal),
    /// No current key is loaded, so nothing can be signed.
    #[error("no current signing key is loaded")]
    NoSigner,
    #[error("token signing failed: {0}")]
    Signing(String),
    #[error("{0} did not open again after re-encryption; nothing was changed")]
    Unverified(String),
    #[error("work on a blocking thread was interrupted")]
    Interrupted,
    /// A query of the audit trail Signet cannot read (a cursor it did not write).
    #[error("{0}")]
    InvalidQuery(String),
}

impl From<LimitReached> for ServiceError {
    fn from(reached: LimitReached) -> Self {
        ServiceError::RateLimited {
            limit: reached.limit,
            reset_at: reached.reset_at,
        }
    }
}

impl From<ResealError> for ServiceError {
    fn from(error: ResealError) -> Self {
        match error {
            ResealError::MasterKey(error) => ServiceError::MasterKey(error),
            ResealError::Mismatch { stored, process } => {
                ServiceError::MasterKeyMismatch { stored, process }
            }
            ResealError::Unverified(label) => ServiceError::Unverified(label),
        }
    }
}

impl ServiceError {
    /// Whether the database could not be reached.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ServiceError::Store(StoreError::Unavailable(_)))
    }
}

/// Runs slow CPU work (RSA generation, argon2) on a blocking thread, off the async workers.
pub async fn off_the_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ServiceError::Interrupted)
}

/// Every service of one tenant, sharing one database.
#[derive(Clone, Debug)]
pub struct Services {
    pub keys: keys::KeyService,
    pub clients: clients::ClientService,
    pub operator: operator::OperatorService,
    pub signing: signing::SigningService,
    pub schedule: schedule::ScheduleService,
    /// The tenant's audit trail, read.
    pub audit: audit::AuditTrail,
    /// Where the edges read the time.
    pub clock: clock::SharedClock,
}

/// What the services of one tenant are built from: its store handle and domain, and what every
/// tenant of the process shares (master key, clock, spare key pairs, database health).
pub struct ServiceParts {
    pub store: std::sync::Arc<dyn crate::store::Store>,
    pub master: std::sync::Arc<crate::domain::sealing::MasterKey>,
    pub tenant_domain: String,
    pub clock: clock::SharedClock,
    pub spare_keys: spare_keys::SpareKeys,
    pub health: database_health::DatabaseHealth,
    pub options: keys::KeyServiceOptions,
    /// The process's metrics, shared by every tenant.
    pub metrics: metrics::Metrics,
}

impl Services {
    /// Starts every service on `parts.store`, provisioning the tenant's first keys (as `actor`)
    /// if it has none.
    pub async fn start(
        parts: ServiceParts,
        actor: &crate::domain::Actor,
    ) -> Result<Self, ServiceError> {
        use std::sync::Arc;
        let ServiceParts {
            store,
            master,
            tenant_domain,
            clock,
            spare_keys,
            health,
            options,
            metrics,
        } = parts;
        let key_parts = keys::KeyServiceParts {
            store: store.clone(),
            master: Arc::clone(&master),
            tenant_domain,
            spare_keys,
            health: health.clone(),
            options,
            metrics,
        };
        let keys = keys::KeyService::start(key_parts, actor, clock.now()).await?;
        let clients = clients::ClientService::start(store.clone(), master, health).await?;
        let ledger = usage::UsageLedger::new(store.clone());
        let signing = signing::SigningService::new(keys.clone(), ledger);
        Ok(Self {
            schedule: schedule::ScheduleService::new(keys.clone(), signing.clone()),
            signing,
            keys,
            clients,
            operator: operator::OperatorService::new(store.clone(), store.clone()),
            audit: audit::AuditTrail::new(store),
            clock,
        })
    }
}
