//! The key service: every list, rotate and revoke goes through here, whether it comes from the
//! Management API, the dashboard or the CLI.
//!
//! It keeps the published key set (views, JWKS body, ETag) in memory, rebuilt once per change,
//! and follows changes other processes commit by polling the store's version.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use app::{
    error::DashboardError,
    keys::{KeyAction, KeyActionDone, KeyList, KeyState, KeyView, REVOKED_KEYS_SHOWN},
    service::SigningKeys,
};
use axum::body::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, watch};

use crate::{
    clients::{self, ClientError, ClientHashKeys, ClientRecord, NewClient},
    domain::material::{
        GeneratedKey, MaterialError, PrivateKey, PublicMaterial, generate_signing_key,
    },
    keys::{
        lifecycle::{Change, KeyError, KeyRecord, Operation},
        master_key::{MasterKey, MasterKeyError},
    },
    services::tokens::{Signer, Verifiers},
    store::{Actor, AuditEvent, KeyStore, NewKey, RotationLimit, StoreError, StoredKey},
};

/// How often a lost race for the key set is retried before giving up.
const CONFLICT_RETRIES: u32 = 5;
/// How many next keys wait ready-made: a burst of this many rotations waits for no RSA
/// generation (about 0.1–0.5 s of CPU each).
const SPARE_KEYS: usize = 3;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The lifecycle refused it; nothing changed.
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Material(#[from] MaterialError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("key generation was interrupted")]
    Interrupted,
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Key(key) => ServiceError::Key(key),
            other => ServiceError::Store(other),
        }
    }
}

/// A key with its public material, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    pub record: KeyRecord,
    /// Shared by every key set this key is in: a rebuild after a change copies no certificate.
    pub public: Arc<PublicMaterial>,
    /// `public.jwk` as the JWKS serialises it, made once per key, not once per key change.
    jwk_json: Arc<[u8]>,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl PublishedKey {
    fn from_stored(key: &StoredKey) -> Result<Self, MaterialError> {
        let public = PublicMaterial::from_certificate(&key.record.kid, &key.cert_der)?;
        let jwk_json =
            serde_json::to_vec(&public.jwk).map_err(|e| MaterialError::Encoding(e.to_string()))?;
        Ok(Self {
            public: Arc::new(public),
            jwk_json: jwk_json.into(),
            record: key.record.clone(),
        })
    }

    /// The key as the dashboard and the Management API show it.
    pub fn view(&self) -> KeyView {
        KeyView {
            kid: self.record.kid.clone(),
            state: self.record.state,
            cert: self.public.cert_pem.clone(),
            pkcs7: self.public.pkcs7_pem.clone(),
            fingerprint: self.public.fingerprint.clone(),
            thumbprint: self.public.thumbprint.clone(),
            current_since: self.record.current_since.map(iso),
            current_until: self.record.current_until.map(iso),
            revoked_at: self.record.revoked_at.map(iso),
        }
    }
}

/// The key set as served: built once per change, shared by every request.
#[derive(Debug)]
pub struct Published {
    /// The store version this was built from.
    pub version: i64,
    /// Current, next, previous (newest first), then the most recent revoked keys.
    pub keys: Vec<PublishedKey>,
    /// `{"keys":[…]}` of every valid key, current first.
    pub jwks: Bytes,
    /// Strong ETag of `jwks`, quoted.
    pub etag: String,
    /// The current key, decrypted, for signing tokens.
    pub signer: Option<Arc<Signer>>,
    /// Every valid key's public key, for verifying tokens.
    pub verifiers: Verifiers,
}

/// The JWKS document `{"keys":[…]}` of the serialised JWKs `jwks`, in order, and its strong
/// ETag (quoted). Byte for byte what serialising the list of JWKs gives.
pub fn jwks_document<'a>(jwks: impl IntoIterator<Item = &'a [u8]>) -> (Bytes, String) {
    let mut document = b"{\"keys\":[".to_vec();
    for (i, jwk) in jwks.into_iter().enumerate() {
        if i > 0 {
            document.push(b',');
        }
        document.extend_from_slice(jwk);
    }
    document.extend_from_slice(b"]}");
    let digest = Sha256::digest(&document);
    let etag = format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    (Bytes::from(document), etag)
}

impl Published {
    fn build(
        version: i64,
        keys: Vec<PublishedKey>,
        signer: Option<Arc<Signer>>,
    ) -> Result<Self, MaterialError> {
        let verifiers = Verifiers::new(
            keys.iter()
                .filter(|k| k.record.state.is_valid())
                .map(|k| k.public.as_ref()),
        )?;
        let (jwks, etag) = jwks_document(
            keys.iter()
                .filter(|k| k.record.state.is_valid())
                .map(|k| k.jwk_json.as_ref()),
        );
        Ok(Self {
            version,
            keys,
            jwks,
            etag,
            signer,
            verifiers,
        })
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> Option<&PublishedKey> {
        self.keys
            .iter()
            .find(|k| k.record.state == KeyState::Current)
    }

    /// A key by kid among the published ones.
    pub fn find(&self, kid: &str) -> Option<&PublishedKey> {
        self.keys.iter().find(|k| k.record.kid == kid)
    }
}

/// The outcome of a rotation.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The key that is now current.
    pub current: PublishedKey,
    /// The key that was revoked, for rotate-and-revoke.
    pub revoked: Option<String>,
}

/// How the service behaves, from the settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceOptions {
    /// Rotations per rolling day for rate-limited actors; `None` means unlimited.
    pub rotation_limit: Option<RotationLimit>,
}

struct Inner {
    options: ServiceOptions,
    store: Arc<dyn KeyStore>,
    master: MasterKey,
    tenant_domain: String,
    /// Keys generated ahead of time, so a rotation never waits for RSA generation: up to
    /// `SPARE_KEYS`, refilled in the background by one task at a time.
    spares: std::sync::Mutex<Vec<GeneratedKey>>,
    /// Whether a background task is refilling `spares`.
    filling_spares: AtomicBool,
    published: watch::Sender<Arc<Published>>,
    /// Serialises rebuilds so an older load never overwrites a newer one.
    refresh: Mutex<()>,
    /// Clients as last read from the database, so tokens are still issued while it is down.
    known_clients: std::sync::RwLock<HashMap<String, ClientRecord>>,
    /// Whether the last look at the database found it unreachable: changes then fail at once
    /// instead of each waiting for a connection, and clients are taken from `known_clients`.
    database_down: AtomicBool,
    /// Keys that check client secrets, also those hashed under a retired master key.
    client_hash_keys: ClientHashKeys,
}

/// Cheap to clone; every clone is the same service.
#[derive(Clone)]
pub struct KeyService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService")
            .field("tenant_domain", &self.inner.tenant_domain)
            .field("version", &self.published().version)
            .finish_non_exhaustive()
    }
}

async fn generate(tenant_domain: &str) -> Result<GeneratedKey, ServiceError> {
    let domain = tenant_domain.to_owned();
    tokio::task::spawn_blocking(move || generate_signing_key(&domain, Utc::now()))
        .await
        .map_err(|_| ServiceError::Interrupted)?
        .map_err(ServiceError::from)
}

fn seal(master: &MasterKey, key: &GeneratedKey) -> Result<NewKey, ServiceError> {
    Ok(NewKey {
        kid: key.kid.clone(),
        cert_der: key.cert_der.clone(),
        sealed: master.seal(&key.kid, &key.private.to_pkcs8_der()?)?,
    })
}

/// The signer for the current key among `keys`: reused from `previous` when the current key is
/// unchanged, otherwise decrypted with `master`.
fn current_signer(
    keys: &[StoredKey],
    master: &MasterKey,
    previous: Option<&Arc<Signer>>,
) -> Result<Option<Arc<Signer>>, ServiceError> {
    let Some(current) = keys.iter().find(|k| k.record.state == KeyState::Current) else {
        return Ok(None);
    };
    if let Some(signer) = previous.filter(|s| s.kid == current.record.kid) {
        return Ok(Some(signer.clone()));
    }
    let sealed = current.sealed.as_ref().ok_or_else(|| {
        KeyError::Inconsistent(format!(
            "current key {} has no private key",
            current.record.kid
        ))
    })?;
    let private = PrivateKey::from_pkcs8_der(&master.open(&current.record.kid, sealed)?)?;
    Ok(Some(Arc::new(Signer::new(&current.record.kid, &private)?)))
}

impl KeyService {
    /// Opens the tenant's keys: provisions a current and a next key if there are none, and checks
    /// that `master` decrypts every valid private key before anything is served.
    pub async fn start(
        store: Arc<dyn KeyStore>,
        master: MasterKey,
        tenant_domain: &str,
        actor: &Actor,
        options: ServiceOptions,
    ) -> Result<Self, ServiceError> {
        let mut loaded = store.load(REVOKED_KEYS_SHOWN).await?;
        if loaded.keys.is_empty() {
            let (current, next) =
                tokio::try_join!(generate(tenant_domain), generate(tenant_domain))?;
            let (current, next) = (seal(&master, &current)?, seal(&master, &next)?);
            // Another process may provision first; then its keys are the tenant's keys.
            store.provision(current, next, actor, Utc::now()).await?;
            loaded = store.load(REVOKED_KEYS_SHOWN).await?;
        }
        for key in &loaded.keys {
            if let Some(sealed) = &key.sealed {
                PrivateKey::from_pkcs8_der(&master.open(&key.record.kid, sealed)?)?;
            }
        }
        let client_hash_keys = ClientHashKeys::open(&master, &store.client_hash_keys().await?)?;
        let keys = loaded
            .keys
            .iter()
            .map(PublishedKey::from_stored)
            .collect::<Result<_, _>>()?;
        let signer = current_signer(&loaded.keys, &master, None)?;
        let published = Published::build(loaded.version, keys, signer)?;
        let (published, _) = watch::channel(Arc::new(published));
        Ok(Self {
            inner: Arc::new(Inner {
                options,
                store,
                master,
                tenant_domain: tenant_domain.to_owned(),
                spares: std::sync::Mutex::new(Vec::with_capacity(SPARE_KEYS)),
                filling_spares: AtomicBool::new(false),
                published,
                refresh: Mutex::new(()),
                known_clients: std::sync::RwLock::default(),
                database_down: AtomicBool::new(false),
                client_hash_keys,
            }),
        })
    }

    /// The tenant domain: certificate CN and token issuer.
    pub fn tenant_domain(&self) -> &str {
        &self.inner.tenant_domain
    }

    /// The key set as currently served.
    pub fn published(&self) -> Arc<Published> {
        self.inner.published.borrow().clone()
    }

    /// Notified on every change to the published key set.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.inner.published.subscribe()
    }

    /// Succeeds when the database answers.
    pub async fn ping(&self) -> Result<(), ServiceError> {
        let result = self.inner.store.ping().await;
        self.note_reachability(matches!(result, Err(StoreError::Unavailable(_))));
        Ok(result?)
    }

    /// Remembers whether the database answered, for [`Self::ensure_database_up`].
    fn note_reachability(&self, unreachable: bool) {
        self.inner
            .database_down
            .store(unreachable, Ordering::Relaxed);
    }

    /// The newest `limit` audit events, newest first.
    pub async fn audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, ServiceError> {
        Ok(self.inner.store.audit_events(limit).await?)
    }

    /// One key by kid, revoked ones too.
    pub async fn find(&self, kid: &str) -> Result<PublishedKey, ServiceError> {
        if let Some(key) = self.published().find(kid) {
            return Ok(key.clone());
        }
        let stored = self
            .inner
            .store
            .find(kid)
            .await?
            .ok_or_else(|| KeyError::NotFound(kid.to_owned()))?;
        Ok(PublishedKey::from_stored(&stored)?)
    }

    /// Reloads the key set if the store changed since it was last published; `true` if it did.
    pub async fn refresh(&self) -> Result<bool, ServiceError> {
        let result = self.reload().await;
        self.note_reachability(matches!(
            result,
            Err(ServiceError::Store(StoreError::Unavailable(_)))
        ));
        result
    }

    /// Fails at once while the last look at the database found it unreachable.
    fn ensure_database_up(&self) -> Result<(), ServiceError> {
        if self.inner.database_down.load(Ordering::Relaxed) {
            return Err(ServiceError::Store(StoreError::Unavailable(
                "the database did not answer the last check".into(),
            )));
        }
        Ok(())
    }

    async fn reload(&self) -> Result<bool, ServiceError> {
        let _guard = self.inner.refresh.lock().await;
        let store = &self.inner.store;
        if store.version().await? == self.published().version {
            return Ok(false);
        }
        let loaded = store.load_for_serving(REVOKED_KEYS_SHOWN).await?;
        // Certificates of keys already published are not parsed again.
        let current = self.published();
        let known: HashMap<&str, &PublishedKey> = current
            .keys
            .iter()
            .map(|key| (key.record.kid.as_str(), key))
            .collect();
        let keys = loaded
            .keys
            .iter()
            .map(|stored| match known.get(stored.record.kid.as_str()) {
                Some(known) => Ok(PublishedKey {
                    record: stored.record.clone(),
                    public: Arc::clone(&known.public),
                    jwk_json: Arc::clone(&known.jwk_json),
                }),
                None => PublishedKey::from_stored(stored),
            })
            .collect::<Result<_, _>>()?;
        let signer = current_signer(&loaded.keys, &self.inner.master, current.signer.as_ref())?;
        let published = Arc::new(Published::build(loaded.version, keys, signer)?);
        self.inner.published.send_replace(published);
        Ok(true)
    }

    /// Follows changes committed by other processes (CLI, other servers), every `interval`, and
    /// notices when the database goes away and when it is back.
    pub fn spawn_watcher(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // An outage is logged when it starts and when it ends, not twice a second.
            let mut failing = false;
            loop {
                ticker.tick().await;
                match service.refresh().await {
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!(%error, "cannot refresh the signing keys from the database; serving the last key set");
                    }
                    Err(_) => {}
                    Ok(_) if failing => {
                        failing = false;
                        tracing::info!("the database is back; following key changes again");
                    }
                    Ok(_) => {}
                }
            }
        })
    }

    /// Tops the spare keys up to `SPARE_KEYS` in the background, unless that is under way.
    pub fn spawn_spare_key(&self) {
        if self.inner.filling_spares.swap(true, Ordering::AcqRel) {
            return;
        }
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                while service.spare_count() < SPARE_KEYS {
                    // Generated without holding the lock: rotations take spares meanwhile.
                    match generate(&service.inner.tenant_domain).await {
                        Ok(key) => service.lock_spares().push(key),
                        Err(error) => {
                            // The next rotation generates its key itself and tries again.
                            tracing::warn!(%error, "cannot pre-generate the next signing key");
                            service.inner.filling_spares.store(false, Ordering::Release);
                            return;
                        }
                    }
                }
                service.inner.filling_spares.store(false, Ordering::Release);
                // A rotation that took a spare after the last count found this task still busy
                // and started none: go on for it, unless another task already has.
                if service.spare_count() >= SPARE_KEYS
                    || service.inner.filling_spares.swap(true, Ordering::AcqRel)
                {
                    break;
                }
            }
        });
    }

    fn lock_spares(&self) -> std::sync::MutexGuard<'_, Vec<GeneratedKey>> {
        self.inner
            .spares
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn spare_count(&self) -> usize {
        self.lock_spares().len()
    }

    /// current → previous, next → current, and a fresh next key.
    pub async fn rotate(&self, actor: &Actor) -> Result<Rotated, ServiceError> {
        self.rotate_with(actor, |new_next| Operation::Rotate { new_next })
            .await
    }

    /// Rotates, then revokes the key that was current: for a compromised key.
    pub async fn rotate_and_revoke(&self, actor: &Actor) -> Result<Rotated, ServiceError> {
        self.rotate_with(actor, |new_next| Operation::RotateAndRevoke { new_next })
            .await
    }

    /// Revokes a previously used key: it leaves the JWKS and its private part is destroyed.
    pub async fn revoke(&self, kid: &str, actor: &Actor) -> Result<PublishedKey, ServiceError> {
        let op = Operation::Revoke {
            kid: kid.to_owned(),
        };
        self.apply(&op, None, actor).await?;
        self.find(kid).await
    }

    async fn rotate_with(
        &self,
        actor: &Actor,
        operation: impl FnOnce(String) -> Operation,
    ) -> Result<Rotated, ServiceError> {
        self.ensure_database_up()?;
        let spare = self.lock_spares().pop();
        let fresh = match spare {
            Some(key) => key,
            None => generate(&self.inner.tenant_domain).await?,
        };
        let op = operation(fresh.kid.clone());
        let result = match seal(&self.inner.master, &fresh) {
            Ok(new_key) => self.apply(&op, Some(new_key), actor).await,
            Err(error) => Err(error),
        };
        let change = match result {
            Ok(change) => change,
            Err(error) => {
                // The key was never stored: keep it for the next attempt.
                self.lock_spares().push(fresh);
                return Err(error);
            }
        };
        self.spawn_spare_key();
        let current_kid = change
            .new_current
            .clone()
            .ok_or_else(|| KeyError::Inconsistent("a rotation named no new current key".into()))?;
        Ok(Rotated {
            current: self.find(&current_kid).await?,
            revoked: change.revoked,
        })
    }

    async fn apply(
        &self,
        op: &Operation,
        new_key: Option<NewKey>,
        actor: &Actor,
    ) -> Result<Change, ServiceError> {
        self.ensure_database_up()?;
        let mut attempt = 0;
        let change = loop {
            match self
                .inner
                .store
                .apply(
                    op,
                    new_key.clone(),
                    actor,
                    Utc::now(),
                    self.inner.options.rotation_limit,
                )
                .await
            {
                Err(StoreError::Conflict) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                result => break result?,
            }
        };
        tracing::info!(
            action = op.action(),
            kid = change.subject(),
            actor = %actor.name,
            "signing keys changed"
        );
        self.refresh().await?;
        Ok(change)
    }
}

/// Machine clients of the Management API.
impl KeyService {
    /// A client by id from the database; while the database is unreachable, the client as last
    /// read from it, so token issuance outlives a database outage. A client deleted by another
    /// process during the outage is only forgotten once the database is back.
    async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let known = &self.inner.known_clients;
        if self.inner.database_down.load(Ordering::Relaxed) {
            let known = known
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(client) = known.get(client_id) {
                return Ok(Some(client.clone()));
            }
        }
        match self.inner.store.find_client(client_id).await {
            Ok(found) => {
                let mut known = known
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                match &found {
                    Some(client) => known.insert(client_id.to_owned(), client.clone()),
                    None => known.remove(client_id),
                };
                Ok(found)
            }
            Err(StoreError::Unavailable(cause)) => {
                let known = known
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                match known.get(client_id) {
                    Some(client) => Ok(Some(client.clone())),
                    None => Err(StoreError::Unavailable(cause)),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Creates a client; the returned secret is shown once and never stored.
    pub async fn create_client(&self, name: &str, scopes: &str) -> Result<NewClient, ServiceError> {
        let (record, shown) = clients::new_client(&self.inner.master, name, scopes, Utc::now())?;
        self.inner.store.create_client(&record).await?;
        Ok(shown)
    }

    /// Every client, oldest first.
    pub async fn list_clients(&self) -> Result<Vec<ClientRecord>, ServiceError> {
        Ok(self.inner.store.list_clients().await?)
    }

    /// Deletes a client; `false` if there was none. Its tokens fail once they expire.
    pub async fn delete_client(&self, client_id: &str) -> Result<bool, ServiceError> {
        let deleted = self.inner.store.delete_client(client_id).await?;
        self.inner
            .known_clients
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(client_id);
        Ok(deleted)
    }

    /// The client with this id and secret, or `None`. Costs the same whether or not the id exists.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Option<ClientRecord>, ServiceError> {
        let hash_keys = &self.inner.client_hash_keys;
        match self.find_client(client_id).await? {
            Some(client) if hash_keys.verify(&client, secret) => Ok(Some(client)),
            Some(_) => Ok(None),
            None => {
                hash_keys.burn(client_id, secret);
                Ok(None)
            }
        }
    }
}

/// The dashboard's words for a failed operation; causes that are Signet's own problem go to the
/// log, not to the page.
fn dashboard_error(error: ServiceError) -> DashboardError {
    match error {
        ServiceError::Key(KeyError::NotFound(kid)) => DashboardError::KeyNotFound(shown_kid(&kid)),
        ServiceError::Key(KeyError::NotRevocable { kid, state }) => DashboardError::NotRevocable {
            kid: shown_kid(&kid),
            state,
        },
        ServiceError::Store(StoreError::RateLimited { limit, reset_at }) => {
            DashboardError::RotationLimit {
                limit,
                reset_at: iso(reset_at),
            }
        }
        ServiceError::Store(StoreError::Conflict) => DashboardError::KeysChanged,
        ServiceError::Store(StoreError::Unavailable(cause)) => {
            tracing::warn!(%cause, "dashboard action failed: database unavailable");
            DashboardError::Unavailable
        }
        other => {
            tracing::error!(error = %other, "dashboard action failed");
            DashboardError::Unavailable
        }
    }
}

/// A kid as the page may repeat it: one Signet could have issued, or a placeholder.
fn shown_kid(kid: &str) -> String {
    if app::keys::is_kid(kid) {
        kid.to_owned()
    } else {
        "(malformed key id)".to_owned()
    }
}

impl KeyService {
    /// The dashboard operator, acting from `from`.
    fn operator_actor(from: Option<std::net::IpAddr>) -> Actor {
        Actor {
            name: "operator".to_owned(),
            remote_addr: from.map(|addr| addr.to_string()),
            rate_limited: true,
        }
    }

    /// Fails with [`DashboardError::KeysChanged`] unless the newest committed key set has
    /// `kid` in `state`: the operator confirmed an action on what the page showed.
    async fn expect_state(&self, kid: &str, state: KeyState) -> Result<(), DashboardError> {
        self.refresh().await.map_err(dashboard_error)?;
        match self
            .published()
            .keys
            .iter()
            .find(|key| key.record.state == state)
        {
            Some(key) if key.record.kid == kid => Ok(()),
            _ => Err(DashboardError::KeysChanged),
        }
    }
}

#[async_trait::async_trait]
impl SigningKeys for KeyService {
    async fn list_signing_keys(&self) -> Result<KeyList, DashboardError> {
        let published = self.published();
        Ok(KeyList {
            tenant_domain: self.tenant_domain().to_owned(),
            version: published.version,
            keys: published.keys.iter().map(PublishedKey::view).collect(),
        })
    }

    async fn rotate(
        &self,
        next_kid: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<KeyActionDone, DashboardError> {
        self.expect_state(next_kid, KeyState::Next).await?;
        let rotated = KeyService::rotate(self, &Self::operator_actor(from))
            .await
            .map_err(dashboard_error)?;
        Ok(KeyActionDone {
            action: KeyAction::Rotate,
            kid: rotated.current.record.kid,
            revoked: None,
        })
    }

    async fn rotate_and_revoke(
        &self,
        current_kid: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<KeyActionDone, DashboardError> {
        self.expect_state(current_kid, KeyState::Current).await?;
        let rotated = KeyService::rotate_and_revoke(self, &Self::operator_actor(from))
            .await
            .map_err(dashboard_error)?;
        Ok(KeyActionDone {
            action: KeyAction::RotateAndRevoke,
            kid: rotated.current.record.kid,
            revoked: rotated.revoked,
        })
    }

    async fn revoke(
        &self,
        kid: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<KeyActionDone, DashboardError> {
        let revoked = KeyService::revoke(self, kid, &Self::operator_actor(from))
            .await
            .map_err(dashboard_error)?;
        Ok(KeyActionDone {
            action: KeyAction::Revoke,
            kid: revoked.record.kid,
            revoked: None,
        })
    }
}
