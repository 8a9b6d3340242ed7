//! Persistence of signing keys and their audit log, behind one interface.

mod maintenance;
mod sql;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use self::maintenance::{MasterKeyRotation, MasterKeyRotationError};
pub use self::sql::{SqlStore, is_sqlite as sql_is_sqlite};
use crate::clients::ClientRecord;
use crate::keys::{
    lifecycle::{Change, KeyError, KeyRecord, Operation},
    master_key::SealedKey,
};

/// A key as stored: lifecycle facts, certificate, and the sealed private key (none once revoked).
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub record: KeyRecord,
    pub cert_der: Vec<u8>,
    pub sealed: Option<SealedKey>,
}

/// A key about to be inserted as the next key.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub kid: String,
    pub cert_der: Vec<u8>,
    pub sealed: SealedKey,
}

/// Who asked for a change, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `operator`, `cli:<user>`, or a client id.
    pub name: String,
    /// The caller's address, when it came over the network.
    pub remote_addr: Option<String>,
    /// Whether the tenant's rotation limit applies. The CLI is the break-glass path: exempt.
    pub rate_limited: bool,
}

/// At most `per_day` rotations in any rolling 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationLimit {
    pub per_day: u32,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub kid: Option<String>,
    pub remote_addr: Option<String>,
    pub detail: String,
}

/// The key set as last committed.
#[derive(Debug, Clone)]
pub struct StoredKeys {
    /// Counts every committed change; equal versions mean equal key sets.
    pub version: i64,
    /// Current, next and previous keys, then up to the requested number of revoked keys, newest first.
    pub keys: Vec<StoredKey>,
}

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The lifecycle refused the operation; nothing was written.
    #[error(transparent)]
    Key(#[from] KeyError),
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
    /// The rotation limit is reached until `reset_at`.
    #[error("the rotation limit of {limit} per day is reached until {reset_at}")]
    RateLimited { limit: u32, reset_at: DateTime<Utc> },
    /// A client with that id exists already.
    #[error("a client with that id exists already")]
    DuplicateClient,
    /// This process's master key is not the one the stored keys are sealed under (the master key
    /// was rotated while it ran): it must not write a key the others cannot open.
    #[error(
        "the signing keys are encrypted under master key {stored} but this process has {process}; \
         restart it with the new SIGNET_MASTER_KEY_FILE"
    )]
    MasterKeyMismatch { stored: String, process: String },
}

/// The one seam between Signet and its database.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The committed key set with at most `revoked_limit` revoked keys.
    async fn load(&self, revoked_limit: usize) -> Result<StoredKeys, StoreError>;
    /// As [`load`](Self::load), but only the current key carries its sealed private key: what
    /// serving needs after every change, without a kilobyte per previous key.
    async fn load_for_serving(&self, revoked_limit: usize) -> Result<StoredKeys, StoreError> {
        self.load(revoked_limit).await
    }
    /// One key by kid, revoked ones too.
    async fn find(&self, kid: &str) -> Result<Option<StoredKey>, StoreError>;
    /// The key set's version; cheap enough to poll every second.
    async fn version(&self) -> Result<i64, StoreError>;
    /// Stores a tenant's first current and next keys; `false` if it already has keys.
    async fn provision(
        &self,
        current: NewKey,
        next: NewKey,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Applies `op` in one transaction: checks the rotation limit (for rate-limited actors), reads
    /// the key set, lets the lifecycle decide, writes the change (inserting `new_key` when the
    /// operation creates one) and its audit event.
    async fn apply(
        &self,
        op: &Operation,
        new_key: Option<NewKey>,
        actor: &Actor,
        now: DateTime<Utc>,
        limit: Option<RotationLimit>,
    ) -> Result<Change, StoreError>;
    /// The client-secret hashing keys of retired master keys, by `secret_key_id`, each sealed
    /// under the current master key.
    async fn client_hash_keys(&self) -> Result<Vec<(String, SealedKey)>, StoreError>;
    /// The newest `limit` audit events, newest first.
    async fn audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError>;
    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Stores a new machine client.
    async fn create_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// One client by id.
    async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError>;
    /// Deletes a client; `false` if there was none.
    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;
    /// The operator's password hash, once set.
    async fn operator_password_hash(&self) -> Result<Option<String>, StoreError>;
    /// Sets the operator's password hash.
    async fn set_operator_password_hash(&self, hash: &str) -> Result<(), StoreError>;
    /// Stores a new session (by the hash of its id).
    async fn create_session(
        &self,
        id_hash: &[u8],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Extends a live session to `expires_at`; `false` if it is unknown or expired.
    async fn touch_session(
        &self,
        id_hash: &[u8],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Deletes a session.
    async fn delete_session(&self, id_hash: &[u8]) -> Result<(), StoreError>;
}
