//! The key service: every list, rotate and revoke goes through here, whether it comes from the
//! Management API, the dashboard or the CLI. It plans with the domain, writes through the
//! store's transaction (retrying lost races), and republishes the key set after each change.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use app::{algorithm::KeySpec, keys::REVOKED_KEYS_SHOWN};
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{
    ServiceError,
    database_health::DatabaseHealth,
    key_change::{PolicyChanged, PolicyUpdate, apply_once, provision, set_policy},
    metrics::Metrics,
    published::{Published, PublishedKey, PublishedKeys},
    spare_keys::SpareKeys,
};
use crate::{
    domain::{
        Actor,
        lifecycle::{Change, KeyError, Operation},
        material::{GeneratedKey, PrivateKey},
        rotation_limit::RotationLimit,
        schedule::{PublicationWindow, RotationGate, Schedule},
        sealing::MasterKey,
    },
    store::{KeyStore, NewKey, StoreError},
};

/// How often a lost race for the key set is retried before giving up.
const CONFLICT_RETRIES: u32 = 5;

/// How the key service behaves; the start-up wiring makes it from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct KeyServiceOptions {
    /// Rotations per rolling day for rate-limited actors; `None` means unlimited.
    pub rotation_limit: Option<RotationLimit>,
    /// How long a key is published before it may become current.
    pub publication_window: PublicationWindow,
    /// The key type a tenant's first keys get (`SIGNET_SIGNING_ALG`, `SIGNET_SIGNING_KEY_SIZE`).
    pub default_key: KeySpec,
}

/// What the key service is built from.
#[derive(Clone)]
pub struct KeyServiceParts {
    pub store: Arc<dyn KeyStore>,
    pub master: Arc<MasterKey>,
    pub tenant_domain: String,
    /// Key pairs waiting to become keys; shared by every tenant of the process.
    pub spare_keys: SpareKeys,
    pub health: DatabaseHealth,
    pub options: KeyServiceOptions,
    pub metrics: Metrics,
}

/// The outcome of a rotation.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The key that is now current.
    pub current: PublishedKey,
    /// The key that was revoked, for rotate-and-revoke.
    pub revoked: Option<String>,
}

/// Cheap to clone; every clone is the same service.
#[derive(Clone)]
pub struct KeyService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn KeyStore>,
    master: Arc<MasterKey>,
    tenant_domain: String,
    options: KeyServiceOptions,
    published: PublishedKeys,
    spares: SpareKeys,
    health: DatabaseHealth,
    /// When the schedule next changes the key set (Unix seconds; `i64::MAX`: never), as the
    /// scheduler last planned it: the JWKS is never cached past it.
    next_change: AtomicI64,
    metrics: Metrics,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService")
            .field("tenant_domain", &self.inner.tenant_domain)
            .field("version", &self.published().version)
            .finish_non_exhaustive()
    }
}

/// `key` sealed under `master`, ready to store.
fn seal(master: &MasterKey, key: &GeneratedKey) -> Result<NewKey, ServiceError> {
    Ok(NewKey {
        kid: key.kid.clone(),
        spec: key.spec,
        cert_der: key.cert_der.clone(),
        sealed: master.seal(&key.kid, &key.private.to_pkcs8_der()?)?,
    })
}

impl KeyService {
    /// Starts serving the tenant's keys: provisions a current and a next key at `now` if there
    /// are none, and checks that the master key opens every valid private key before anything
    /// is served.
    pub async fn start(
        parts: KeyServiceParts,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Self, ServiceError> {
        let KeyServiceParts {
            store,
            master,
            tenant_domain,
            spare_keys,
            health,
            options,
            metrics,
        } = parts;
        let mut loaded = store.load(REVOKED_KEYS_SHOWN).await?;
        if loaded.keys.is_empty() {
            let _refill = spare_keys.refill_when_done();
            let spec = options.default_key;
            let (current, next) = tokio::try_join!(
                spare_keys.take(spec, &tenant_domain, now),
                spare_keys.take(spec, &tenant_domain, now)
            )?;
            let (current, next) = (seal(&master, &current)?, seal(&master, &next)?);
            // Another process may provision first; then its keys are the tenant's keys.
            provision(store.as_ref(), spec, &current, &next, actor, now).await?;
            loaded = store.load(REVOKED_KEYS_SHOWN).await?;
        }
        for key in &loaded.keys {
            if let Some(sealed) = &key.sealed {
                PrivateKey::from_pkcs8_der(&master.unseal(&key.record.kid, sealed)?)?;
            }
        }
        let published = PublishedKeys::new(Arc::clone(&store), Arc::clone(&master), &loaded)?;
        Ok(Self {
            inner: Arc::new(Inner {
                spares: spare_keys,
                store,
                master,
                tenant_domain,
                options,
                published,
                health,
                next_change: AtomicI64::new(i64::MAX),
                metrics,
            }),
        })
    }

    /// The tenant domain: certificate CN and token issuer.
    pub fn tenant_domain(&self) -> &str {
        &self.inner.tenant_domain
    }

    /// How long a key is published before it may become current.
    /// The process's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn publication_window(&self) -> PublicationWindow {
        self.inner.options.publication_window
    }

    /// The tenant's schedule as currently served.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            policy: self.published().policy,
            window: self.publication_window(),
        }
    }

    /// When the schedule next changes the key set, as last planned.
    pub fn next_change(&self) -> Option<DateTime<Utc>> {
        match self.inner.next_change.load(Ordering::Relaxed) {
            i64::MAX => None,
            secs => DateTime::from_timestamp(secs, 0),
        }
    }

    /// Notes when the schedule next changes the key set (rounded down to the second).
    pub fn set_next_change(&self, at: Option<DateTime<Utc>>) {
        let secs = at.map_or(i64::MAX, |at| at.timestamp());
        self.inner.next_change.store(secs, Ordering::Relaxed);
    }

    /// The key set as currently served.
    pub fn published(&self) -> Arc<Published> {
        self.inner.published.current()
    }

    /// Notified on every change to the published key set.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.inner.published.subscribe()
    }

    /// Succeeds when the database answers.
    pub async fn ping(&self) -> Result<(), ServiceError> {
        let result = self.inner.store.ping().await.map_err(ServiceError::from);
        self.inner.health.note(&result);
        result
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
        let result = self.inner.published.reload().await;
        self.inner.health.note(&result);
        result
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

    /// current → previous, next → current, and a fresh next key, at `now`; refused
    /// ([`KeyError::NextKeyTooNew`]) while the next key is newer than the publication window.
    pub async fn rotate(&self, actor: &Actor, now: DateTime<Utc>) -> Result<Rotated, ServiceError> {
        let gate = RotationGate::Published(self.publication_window());
        self.rotate_surely(actor, now, gate, |new_next| Operation::Rotate { new_next })
            .await
    }

    /// [`rotate`](Self::rotate), even if relying parties may not have fetched the next key: the
    /// operator forced it.
    pub async fn force_rotate(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Rotated, ServiceError> {
        self.rotate_surely(actor, now, RotationGate::Unchecked, |new_next| {
            Operation::Rotate { new_next }
        })
        .await
    }

    /// The schedule's rotation, if it is due at `now` (checked under the key set's lock, so of
    /// several processes only one rotates); `None` if it is not, or no longer, due.
    pub async fn rotate_on_schedule(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<Rotated>, ServiceError> {
        let gate = RotationGate::Due(self.schedule());
        self.rotate_with(&Actor::schedule(), now, gate, |new_next| {
            Operation::Rotate { new_next }
        })
        .await
    }

    /// Replaces the fields `update` names in the tenant's rotation policy, if the result can be
    /// honoured; every process follows the new policy as a new key-set version.
    pub async fn set_policy(
        &self,
        update: PolicyUpdate,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<PolicyChanged, ServiceError> {
        self.inner.health.ensure_up()?;
        let store = self.inner.store.as_ref();
        let window = self.publication_window();
        let _refill = self.inner.spares.refill_when_done();
        let mut attempt = 0;
        let changed = loop {
            // A new key type needs a key of that type, made before the transaction.
            let known = self.published().policy;
            let wanted = update.key_for(known.key)?;
            let fresh = if wanted == known.key {
                None
            } else {
                let spares = &self.inner.spares;
                Some(spares.take(wanted, &self.inner.tenant_domain, now).await?)
            };
            let sealed = fresh
                .as_ref()
                .map(|key| seal(&self.inner.master, key))
                .transpose()?;
            let result = set_policy(store, update, window, sealed.as_ref(), actor, now).await;
            let used = matches!(&result, Ok(changed) if changed.replaced_next.is_some());
            if let (Some(key), false) = (fresh, used) {
                self.inner.spares.put_back(key);
            }
            match result {
                // The policy changed in another process since it was read: read it again.
                Err(ServiceError::Key(KeyError::NewKeyMismatch)) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    self.refresh().await?;
                }
                result => break result?,
            }
        };
        if changed.replaced_next.is_some() {
            let tenant = &self.inner.tenant_domain;
            self.inner
                .metrics
                .key_changed(tenant, "replace_next", actor);
        }
        let described = changed.policy.describe();
        tracing::info!(actor = %actor.name, policy = %described, "rotation policy changed");
        self.refresh().await?;
        Ok(changed)
    }

    pub async fn rotate_and_revoke(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Rotated, ServiceError> {
        self.rotate_surely(actor, now, RotationGate::Unchecked, |new_next| {
            Operation::RotateAndRevoke { new_next }
        })
        .await
    }

    /// Revokes a previously used key: it leaves the JWKS and its private part is destroyed.
    pub async fn revoke(
        &self,
        kid: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<PublishedKey, ServiceError> {
        let op = Operation::Revoke {
            kid: kid.to_owned(),
        };
        self.apply(&op, None, actor, now, RotationGate::Unchecked)
            .await?;
        self.find(kid).await
    }

    /// [`rotate_with`](Self::rotate_with) for a gate that never skips (a refusal is an error).
    async fn rotate_surely(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        gate: RotationGate,
        operation: impl Fn(String) -> Operation,
    ) -> Result<Rotated, ServiceError> {
        let rotated = self.rotate_with(actor, now, gate, operation).await?;
        rotated.ok_or_else(|| {
            KeyError::Inconsistent("an unconditional rotation was skipped".into()).into()
        })
    }

    async fn rotate_with(
        &self,
        actor: &Actor,
        now: DateTime<Utc>,
        gate: RotationGate,
        operation: impl Fn(String) -> Operation,
    ) -> Result<Option<Rotated>, ServiceError> {
        self.inner.health.ensure_up()?;
        let spares = &self.inner.spares;
        let _refill = spares.refill_when_done();
        let mut retried = false;
        let change = loop {
            let spec = self.published().policy.key;
            let fresh = spares.take(spec, &self.inner.tenant_domain, now).await?;
            let op = operation(fresh.kid.clone());
            let result = match seal(&self.inner.master, &fresh) {
                Ok(new_key) => self.apply(&op, Some(new_key), actor, now, gate).await,
                Err(error) => Err(error),
            };
            match result {
                Ok(Some(change)) => break change,
                unused => {
                    // The key was never stored: keep it for the next attempt.
                    spares.put_back(fresh);
                    // Not of the tenant's key type: another process changed it since this one
                    // last looked. Once more, with a key of the type now in force.
                    if let Err(ServiceError::Key(KeyError::NewKeyMismatch)) = unused {
                        self.refresh().await?;
                        if retried || self.published().policy.key == spec {
                            return Err(StoreError::Conflict.into());
                        }
                        retried = true;
                        continue;
                    }
                    return unused.map(|_| None);
                }
            }
        };
        let current_kid = change
            .new_current
            .clone()
            .ok_or_else(|| KeyError::Inconsistent("a rotation named no new current key".into()))?;
        Ok(Some(Rotated {
            current: self.find(&current_kid).await?,
            revoked: change.revoked,
        }))
    }

    async fn apply(
        &self,
        op: &Operation,
        new_key: Option<NewKey>,
        actor: &Actor,
        now: DateTime<Utc>,
        gate: RotationGate,
    ) -> Result<Option<Change>, ServiceError> {
        self.inner.health.ensure_up()?;
        let (store, limit) = (self.inner.store.as_ref(), self.inner.options.rotation_limit);
        let mut attempt = 0;
        let change = loop {
            match apply_once(store, op, new_key.as_ref(), actor, now, limit, gate).await {
                Err(ServiceError::Store(StoreError::Conflict)) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                }
                result => break result?,
            }
        };
        let Some(change) = change else {
            return Ok(None);
        };
        tracing::info!(
            action = op.action(),
            kid = change.subject(),
            actor = %actor.name,
            "signing keys changed"
        );
        let tenant = &self.inner.tenant_domain;
        self.inner.metrics.key_changed(tenant, op.action(), actor);
        self.refresh().await?;
        Ok(Some(change))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use app::keys::KeyState;
    use chrono::TimeDelta;

    use super::*;
    use crate::{domain::material::KeyKind, services::key_source::FixtureKeys, store::SqlStore};

    async fn service(limit: Option<u32>) -> (KeyService, DateTime<Utc>) {
        let now = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(20_000);
        let source = FixtureKeys::new([
            include_str!("../../fixtures/rsa-2048-a.pk8.pem"),
            include_str!("../../fixtures/rsa-2048-b.pk8.pem"),
        ])
        .unwrap();
        let parts = KeyServiceParts {
            store: Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap()),
            master: Arc::new(MasterKey::from_bytes([6; 32])),
            tenant_domain: "keys.test".into(),
            spare_keys: SpareKeys::new(
                Arc::new(source),
                KeyKind::Rsa(2048),
                crate::services::spare_keys::Refill::InTheBackground,
            ),
            health: DatabaseHealth::default(),
            options: KeyServiceOptions {
                rotation_limit: limit.map(|per_day| RotationLimit { per_day }),
                publication_window: PublicationWindow { seconds: 0 },
                default_key: KeySpec::DEFAULT,
            },
            metrics: Metrics::default(),
        };
        let actor = Actor::command_line("test");
        (KeyService::start(parts, &actor, now).await.unwrap(), now)
    }

    fn kid_in(keys: &KeyService, state: KeyState) -> String {
        let published = keys.published();
        let key = published.keys.iter().find(|k| k.record.state == state);
        key.unwrap().record.kid.clone()
    }

    #[tokio::test]
    async fn a_rotation_at_now_moves_the_keys_and_republishes() {
        let (keys, now) = service(None).await;
        let (current, next) = (
            kid_in(&keys, KeyState::Current),
            kid_in(&keys, KeyState::Next),
        );
        let later = now + TimeDelta::hours(1);
        let rotated = keys.rotate(&Actor::operator(None), later).await.unwrap();
        assert_eq!(rotated.current.record.kid, next);
        assert_eq!(rotated.current.record.current_since, Some(later));
        let old = keys.find(&current).await.unwrap();
        assert_eq!(old.record.state, KeyState::Previous);
        assert_eq!(old.record.current_until, Some(later));
        let refused = keys.revoke(&next, &Actor::operator(None), later).await;
        assert!(matches!(
            refused,
            Err(ServiceError::Key(KeyError::NotRevocable { .. }))
        ));
    }

    #[tokio::test]
    async fn the_rotation_limit_applies_to_operators_and_lifts_a_day_later() {
        let (keys, now) = service(Some(1)).await;
        let operator = Actor::operator(None);
        keys.rotate(&operator, now).await.unwrap();
        let refused = keys.rotate(&operator, now).await.unwrap_err();
        assert!(matches!(
            refused,
            ServiceError::RateLimited { limit: 1, .. }
        ));
        keys.rotate(&Actor::command_line("root"), now)
            .await
            .unwrap();
        keys.rotate(&operator, now + TimeDelta::days(1) + TimeDelta::seconds(1))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_rotation_queues_a_key_of_the_type_another_process_chose_meanwhile() {
        let (a, now) = service(None).await;
        // A second process on the same database, which has not yet seen the change below.
        let parts = KeyServiceParts {
            store: Arc::clone(&a.inner.store),
            master: Arc::clone(&a.inner.master),
            tenant_domain: "keys.test".into(),
            spare_keys: a.inner.spares.clone(),
            health: DatabaseHealth::default(),
            options: a.inner.options,
            metrics: a.inner.metrics.clone(),
        };
        let b = KeyService::start(parts, &Actor::command_line("b"), now)
            .await
            .unwrap();
        let es256 = PolicyUpdate {
            signing_alg: Some(app::algorithm::SigningAlg::ES256),
            ..PolicyUpdate::default()
        };
        let changed = a
            .set_policy(es256, &Actor::operator(None), now)
            .await
            .unwrap();
        let replaced = changed.replaced_next.unwrap();
        assert_eq!(replaced.new_current, None, "the current key is untouched");
        assert_eq!(
            b.published().policy.key,
            KeySpec::DEFAULT,
            "b has not looked"
        );
        b.rotate(&Actor::operator(None), now).await.unwrap();
        let published = b.published();
        let next = published
            .keys
            .iter()
            .find(|k| k.record.state == KeyState::Next);
        let current = published.current().unwrap();
        assert_eq!(current.public.alg, app::algorithm::SigningAlg::ES256);
        assert_eq!(next.unwrap().public.alg, app::algorithm::SigningAlg::ES256);
    }
}
