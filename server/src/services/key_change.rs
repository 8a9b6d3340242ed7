//! One change to the key set, decided by the domain and written through the store's
//! transaction: provisioning, and one attempt at an [`Operation`].

use app::algorithm::{AlgorithmRefusal, KeySpec, SigningAlg};
use chrono::{DateTime, Utc};

use super::ServiceError;
use crate::{
    domain::{
        Actor,
        lifecycle::{Change, KeyError, KeySet, Operation},
        rotation_limit::RotationLimit,
        schedule::{PublicationWindow, RotationGate, RotationPolicy},
    },
    store::{AuditEntry, KeyStore, NewKey},
};

/// Stores a tenant's first current and next keys; `false` (and nothing written) if it already
/// has keys, e.g. because another process provisioned first.
/// The tenant's key type becomes `key` (`SIGNET_SIGNING_ALG`), the type of both keys.
pub async fn provision(
    store: &dyn KeyStore,
    key: KeySpec,
    current: &NewKey,
    next: &NewKey,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let mut change = store.begin_change().await?;
    if change.key_count().await? > 0 {
        return Ok(false);
    }
    let policy = change.policy().await?;
    change.set_policy(&RotationPolicy { key, ..policy }).await?;
    let set = KeySet::provision(&current.kid, &next.kid, now)?;
    change.insert_key(current, set.current()).await?;
    change.insert_key(next, set.next()).await?;
    change
        .record(&AuditEntry {
            at: now,
            actor,
            action: "provision",
            kid: Some(&current.kid),
            detail: &set.describe_provisioning(),
        })
        .await?;
    change.commit().await?;
    Ok(true)
}

/// Applies `op` in one transaction, once: checks that `new_key` is the key `op` creates, of the
/// tenant's key type ([`KeyError::NewKeyMismatch`] otherwise), that it is sealed under the master
/// key the stored keys are under, (for rate-limited actors) the
/// rotation limit, and (for a rotation) the `gate`; then lets the lifecycle plan the change,
/// writes it and its audit event. `None`, with nothing written, when the gate finds a scheduled
/// rotation no longer due. A lost race is [`crate::store::StoreError::Conflict`]; the key
/// service retries it.
pub async fn apply_once(
    store: &dyn KeyStore,
    op: &Operation,
    new_key: Option<&NewKey>,
    actor: &Actor,
    now: DateTime<Utc>,
    limit: Option<RotationLimit>,
    gate: RotationGate,
) -> Result<Option<Change>, ServiceError> {
    op.expects_new_key(new_key.map(|key| key.kid.as_str()))?;
    let mut tx = store.begin_change().await?;
    // Checked under the key set's lock, so a master-key rotation cannot slip in between the
    // check and the write.
    if let Some(key) = new_key {
        let process = &key.sealed.master_key_id;
        if let Some(stored) = tx.other_master_key(process).await? {
            return Err(ServiceError::MasterKeyMismatch {
                stored,
                process: process.clone(),
            });
        }
        // The key was made for the key type this process last saw; another process may have
        // changed it since. A key of the old type must not slip into the queue behind it.
        if tx.policy().await?.key != key.spec {
            return Err(KeyError::NewKeyMismatch.into());
        }
    }
    // Counted under the lock too, so concurrent rotations from any process cannot slip past the
    // limit together.
    if let (Some(limit), Some(_)) = (limit.filter(|_| actor.rate_limited), op.new_key()) {
        let used = tx.rotations_since(RotationLimit::window_start(now)).await?;
        limit.check(used, now)?;
    }
    let set = KeySet::new(tx.key_records(op.revokes()).await?)?;
    // Decided under the lock: of two processes finding a rotation due, the second finds it done.
    if op.new_key().is_some() && !gate.check(&set, now)? {
        return Ok(None);
    }
    let change = set.plan(op, now)?;
    for record in &change.updated {
        tx.update_key(record).await?;
    }
    if let (Some(record), Some(key)) = (&change.inserted, new_key) {
        tx.insert_key(key, record).await?;
    }
    tx.record(&AuditEntry {
        at: now,
        actor,
        action: op.action(),
        kid: change.subject(),
        detail: &change.describe(),
    })
    .await?;
    tx.commit().await?;
    Ok(Some(change))
}

/// A change to the rotation policy: each field, if present, replaces the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PolicyUpdate {
    pub rotate_every_seconds: Option<Option<i64>>,
    pub revoke_previous_after_seconds: Option<Option<i64>>,
    pub signing_alg: Option<SigningAlg>,
    pub key_size: Option<u32>,
}

impl PolicyUpdate {
    /// The key type after this update, from `current`'s: a size left out stays when RSA stays
    /// RSA (RS256 and PS256 share sizes), and is the algorithm's default otherwise.
    pub fn key_for(self, current: KeySpec) -> Result<KeySpec, AlgorithmRefusal> {
        if self.signing_alg.is_none() && self.key_size.is_none() {
            return Ok(current);
        }
        let alg = self.signing_alg.unwrap_or(current.alg);
        let size = self
            .key_size
            .or((alg.is_rsa() && current.alg.is_rsa()).then_some(current.key_size));
        KeySpec::new(alg, size)
    }

    /// `policy` with this update applied, if the key type it names is offered.
    pub fn applied_to(self, policy: RotationPolicy) -> Result<RotationPolicy, AlgorithmRefusal> {
        Ok(RotationPolicy {
            rotate_every_seconds: self
                .rotate_every_seconds
                .unwrap_or(policy.rotate_every_seconds),
            revoke_previous_after_seconds: self
                .revoke_previous_after_seconds
                .unwrap_or(policy.revoke_previous_after_seconds),
            key: self.key_for(policy.key)?,
        })
    }
}

/// What a policy change did: the policy now in force, and the key set change it made (the
/// next key replaced by one of the new type), if the key type changed.
#[derive(Debug, Clone)]
pub struct PolicyChanged {
    pub policy: RotationPolicy,
    pub replaced_next: Option<Change>,
}

/// Applies `update` to the tenant's rotation policy in one transaction (so every process
/// follows it as a new key-set version), if the result can be honoured under `window`; audited.
///
/// When the key type changes, the next key is replaced in the same transaction by `new_key`,
/// which must be of the new type ([`KeyError::NewKeyMismatch`] otherwise: the caller read an
/// older policy and tries again); the current key is never touched. `new_key` is unused (and
/// `replaced_next` is `None`) when the type stays.
pub async fn set_policy(
    store: &dyn KeyStore,
    update: PolicyUpdate,
    window: PublicationWindow,
    new_key: Option<&NewKey>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<PolicyChanged, ServiceError> {
    let mut tx = store.begin_change().await?;
    let before = tx.policy().await?;
    let policy = update.applied_to(before)?.checked(window)?;
    tx.set_policy(&policy).await?;
    let mut replaced_next = None;
    let mut detail = policy.describe();
    if policy.key != before.key {
        let key = new_key
            .filter(|key| key.spec == policy.key)
            .ok_or(KeyError::NewKeyMismatch)?;
        let op = Operation::ReplaceNext {
            new_next: key.kid.clone(),
        };
        let set = KeySet::new(tx.key_records(None).await?)?;
        let change = set.plan(&op, now)?;
        for record in &change.updated {
            tx.update_key(record).await?;
        }
        if let Some(record) = &change.inserted {
            tx.insert_key(key, record).await?;
        }
        detail = format!("{detail}; {}", change.describe());
        replaced_next = Some(change);
    }
    tx.record(&AuditEntry {
        at: now,
        actor,
        action: "set_rotation_policy",
        kid: replaced_next.as_ref().and_then(Change::subject),
        detail: &detail,
    })
    .await?;
    tx.commit().await?;
    Ok(PolicyChanged {
        policy,
        replaced_next,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::{
        domain::{
            lifecycle::KeyError,
            material::{PrivateKey, new_kid, self_signed_certificate},
            sealing::MasterKey,
        },
        store::{AuditLog, AuditQuery, SqlStore},
    };

    fn new_key(master: &MasterKey, now: DateTime<Utc>) -> NewKey {
        let private =
            PrivateKey::from_pkcs8_pem(include_str!("../../fixtures/rsa-2048-a.pk8.pem")).unwrap();
        let kid = new_kid();
        NewKey {
            spec: KeySpec::DEFAULT,
            cert_der: self_signed_certificate(&private, "change.test", now).unwrap(),
            sealed: master.seal(&kid, &private.to_pkcs8_der().unwrap()).unwrap(),
            kid,
        }
    }

    #[tokio::test]
    async fn a_change_is_planned_by_the_domain_and_audited_once() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let (master, actor) = (MasterKey::from_bytes([8; 32]), Actor::command_line("t"));
        let now = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(1);
        let (a, b) = (new_key(&master, now), new_key(&master, now));
        let spec = KeySpec::DEFAULT;
        assert!(provision(&store, spec, &a, &b, &actor, now).await.unwrap());
        assert!(!provision(&store, spec, &a, &b, &actor, now).await.unwrap());
        let c = new_key(&master, now);
        let op = Operation::Rotate {
            new_next: c.kid.clone(),
        };
        let gate = RotationGate::Unchecked;
        let mismatch = apply_once(&store, &op, None, &actor, now, None, gate).await;
        assert!(matches!(
            mismatch,
            Err(ServiceError::Key(KeyError::NewKeyMismatch))
        ));
        let change = apply_once(&store, &op, Some(&c), &actor, now, None, gate)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(change.new_current.as_deref(), Some(b.kid.as_str()));
        let events = store.audit_events(&AuditQuery::newest(10)).await.unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].detail, change.describe());
        let stranger = MasterKey::from_bytes([9; 32]);
        let d = new_key(&stranger, now);
        let op = Operation::Rotate {
            new_next: d.kid.clone(),
        };
        let refused = apply_once(&store, &op, Some(&d), &actor, now, None, gate).await;
        assert!(matches!(
            refused,
            Err(ServiceError::MasterKeyMismatch { .. })
        ));
    }
}
