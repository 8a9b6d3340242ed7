//! Persistence only: small ports, one per concern, on SQLite and PostgreSQL.
//!
//! - [`KeyStore`]: the key set as committed, and [`KeyChange`], the transaction a service drives
//!   to change it (the store takes no lifecycle decision: the services plan with the domain);
//! - [`AuditLog`]: the audit events;
//! - [`ClientStore`]: machine clients and the hashing keys of retired master keys;
//! - [`OperatorStore`]: the operator password and sign-in sessions;
//! - [`UsageStore`]: the usage ledger, one row per key and signing process;
//! - [`TenantStore`]: the tenants; every other port is scoped to one tenant by the handle
//!   ([`SqlStore::for_tenant`]).
//!
//! [`SqlStore`] implements them all on one connection pool, with one migrator that the backup
//! check shares. Time comes in as arguments: nothing here reads the clock.

mod audit;
mod clients;
mod database;
mod key_change;
mod keys;
pub mod master_key_file;
mod operator;
mod sealed;
pub mod sqlite_file;
mod tenants;
mod usage;

pub use self::{
    audit::{AuditCursor, AuditEntry, AuditEvent, AuditLog, AuditPage, AuditQuery, AuditTenants},
    clients::ClientStore,
    database::{DEFAULT_TENANT, SqlStore, is_sqlite},
    key_change::KeyChange,
    keys::{KeyChanges, KeyStore, NewKey, StoredKey, StoredKeys},
    operator::OperatorStore,
    sealed::{SealedRow, SealedSecrets},
    tenants::{DeletedTenant, TenantRecord, TenantStore, TenantVersion},
    usage::UsageStore,
};

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another change won a race for the key set; retrying is safe.
    #[error("another change to the signing keys happened at the same moment; try again")]
    Conflict,
    /// The database cannot be reached.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Stored data that breaks the schema's promises.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(String),
    #[error("cannot prepare the database schema: {0}")]
    Migrate(String),
    /// A client with that id exists already.
    #[error("a client with that id exists already")]
    DuplicateClient,
    /// The tenant was deleted (or never existed): its keys take no change.
    #[error("the tenant was deleted")]
    TenantGone,
    /// A tenant with that domain or id exists already.
    #[error("a tenant with that domain exists already")]
    DuplicateTenant,
}

/// Every port at once: what one database gives the services.
pub trait Store: KeyStore + AuditLog + ClientStore + OperatorStore + UsageStore {}

impl<T: KeyStore + AuditLog + ClientStore + OperatorStore + UsageStore> Store for T {}
