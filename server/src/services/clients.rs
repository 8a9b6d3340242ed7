//! Machine clients of the Management API: created, listed, deleted, and authenticated at the
//! token endpoint — also while the database is down, from the clients last read.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};

use super::{ServiceError, database_health::DatabaseHealth};
use crate::{
    domain::{
        Actor,
        client_secret::{self, ClientHashKeys, ClientRecord, NewClient},
        sealing::MasterKey,
        signing_policy::SigningPolicy,
    },
    store::{AuditEntry, ClientStore, StoreError},
};

/// Cheap to clone; every clone is the same service.
#[derive(Clone)]
pub struct ClientService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ClientStore>,
    master: Arc<MasterKey>,
    /// Keys that check client secrets, also those hashed under a retired master key.
    hash_keys: ClientHashKeys,
    /// Clients as last read from the database, with when: used for [`READ_TTL`], and for as
    /// long as the database is down, so tokens are still issued while it is.
    known: RwLock<HashMap<String, (ClientRecord, Instant)>>,
    /// Signing policies as read, with when.
    policies: RwLock<HashMap<String, (SigningPolicy, Instant)>>,
    health: DatabaseHealth,
}

/// How long a client (and its signing policy) read from the database is used before it is
/// read again: a token request does not wait for the database (measured: a fifth of a token's
/// overhead beside its signature). Clients never change; one deleted through another process
/// is refused here within this time, one deleted through this process at once.
const READ_TTL: Duration = Duration::from_secs(5);

impl std::fmt::Debug for ClientService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientService")
    }
}

impl ClientService {
    /// Loads the hashing keys of retired master keys (sealed under `master`).
    pub async fn start(
        store: Arc<dyn ClientStore>,
        master: Arc<MasterKey>,
        health: DatabaseHealth,
    ) -> Result<Self, ServiceError> {
        let retired: Vec<_> = store
            .client_hash_keys()
            .await?
            .into_iter()
            .map(|row| (row.id, row.sealed))
            .collect();
        let hash_keys = ClientHashKeys::unseal(&master, &retired)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                master,
                hash_keys,
                known: RwLock::default(),
                policies: RwLock::default(),
                health,
            }),
        })
    }

    /// Creates a client at `now`, as `actor` (in the audit trail); the returned secret is shown
    /// once and never stored.
    pub async fn create(
        &self,
        name: &str,
        scopes: &str,
        signing_policy: SigningPolicy,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<NewClient, ServiceError> {
        let policy = signing_policy.checked()?;
        let (record, shown) =
            client_secret::new_client(&self.inner.master, name, scopes, policy, now)?;
        let detail = format!(
            "created the client {} ({name}) with the scopes {}",
            record.client_id,
            record.scopes.join(" ")
        );
        let audit = AuditEntry {
            at: now,
            actor,
            action: "create_client",
            kid: None,
            detail: &detail,
        };
        self.inner.store.create_client(&record, &audit).await?;
        Ok(shown)
    }

    /// Every client, oldest first.
    pub async fn list(&self) -> Result<Vec<ClientRecord>, ServiceError> {
        Ok(self.inner.store.list_clients().await?)
    }

    /// The signing policy of a client, or `None` if it no longer exists. Read from the database
    /// at most every [`READ_TTL`] per client (policies never change; a client deleted by
    /// another process stops signing here within that time).
    pub async fn signing_policy(
        &self,
        client_id: &str,
    ) -> Result<Option<SigningPolicy>, ServiceError> {
        let cached = self
            .inner
            .policies
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(client_id)
            .filter(|(_, read_at)| read_at.elapsed() < READ_TTL)
            .map(|(policy, _)| policy.clone());
        if let Some(policy) = cached {
            return Ok(Some(policy));
        }
        let policy = self.find(client_id).await?.map(|c| c.signing_policy);
        let mut policies = self
            .inner
            .policies
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match &policy {
            Some(policy) => policies.insert(client_id.to_owned(), (policy.clone(), Instant::now())),
            None => policies.remove(client_id),
        };
        Ok(policy)
    }

    /// Deletes a client at `now`, as `actor`; `false` if there was none. Its tokens fail once
    /// they expire.
    pub async fn delete(
        &self,
        client_id: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let detail = format!("deleted the client {client_id}");
        let audit = AuditEntry {
            at: now,
            actor,
            action: "delete_client",
            kid: None,
            detail: &detail,
        };
        let deleted = self.inner.store.delete_client(client_id, &audit).await?;
        self.inner
            .known
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(client_id);
        self.inner
            .policies
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(client_id);
        Ok(deleted)
    }

    /// The client with this id and secret, or `None`. Costs the same whether or not the id exists.
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Option<ClientRecord>, ServiceError> {
        let hash_keys = &self.inner.hash_keys;
        match self.find(client_id).await? {
            Some(client) if hash_keys.verify(&client, secret) => Ok(Some(client)),
            Some(_) => Ok(None),
            None => {
                hash_keys.burn(client_id, secret);
                Ok(None)
            }
        }
    }

    /// A client by id: as read from the database in the last [`READ_TTL`], else read again;
    /// while the database is unreachable, the client as last read from it, so token issuance
    /// outlives a database outage. A client deleted by another process during the outage is only
    /// forgotten once the database is back.
    async fn find(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let remembered = |fresh: bool| {
            self.inner
                .known
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(client_id)
                .filter(|(_, read_at)| !fresh || read_at.elapsed() < READ_TTL)
                .map(|(client, _)| client.clone())
        };
        if let Some(client) = remembered(!self.inner.health.is_down()) {
            return Ok(Some(client));
        }
        match self.inner.store.find_client(client_id).await {
            Ok(found) => {
                let mut known = self
                    .inner
                    .known
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                match &found {
                    Some(client) => {
                        known.insert(client_id.to_owned(), (client.clone(), Instant::now()))
                    }
                    None => known.remove(client_id),
                };
                Ok(found)
            }
            Err(StoreError::Unavailable(cause)) => remembered(false)
                .map(Some)
                .ok_or(StoreError::Unavailable(cause)),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::SqlStore;

    #[tokio::test]
    async fn a_created_client_authenticates_with_its_secret_only() {
        let store = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
        let master = Arc::new(MasterKey::from_bytes([4; 32]));
        let clients = ClientService::start(store, master, DatabaseHealth::default())
            .await
            .unwrap();
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let actor = Actor::command_line("test");
        let shown = clients
            .create(
                "ci",
                "read:signing_keys",
                SigningPolicy::default(),
                &actor,
                now,
            )
            .await
            .unwrap();
        let found = clients
            .authenticate(&shown.client_id, &shown.client_secret)
            .await
            .unwrap();
        assert_eq!(found.unwrap().created_at, now);
        assert!(
            clients
                .authenticate(&shown.client_id, "wrong")
                .await
                .unwrap()
                .is_none()
        );
        assert!(clients.authenticate("nobody", "x").await.unwrap().is_none());
        assert_eq!(clients.list().await.unwrap().len(), 1);
        assert!(clients.delete(&shown.client_id, &actor, now).await.unwrap());
        assert!(!clients.delete(&shown.client_id, &actor, now).await.unwrap());
    }
}
