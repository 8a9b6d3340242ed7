//! The key store on SQL: SQLite for the embedded default, PostgreSQL to scale out.
//!
//! Both run the same queries and migrations through sqlx's `Any` driver; the only
//! backend-specific code is the connection set-up in [`SqlStore::connect`].

use std::{str::FromStr, time::Duration};

use app::keys::KeyState;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::{
    AnyPool, Row,
    any::{AnyConnectOptions, AnyPoolOptions, AnyRow},
};

use super::{
    Actor, AuditEvent, KeyStore, NewKey, RotationLimit, StoreError, StoredKey, StoredKeys,
};
use crate::clients::ClientRecord;
use crate::keys::{
    lifecycle::{Change, KeyRecord, KeySet, Operation},
    master_key::SealedKey,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

const KEY_COLUMNS: &str = "kid, state, cert_der, private_key, master_key_id, created_at, \
                           current_since, current_until, revoked_at";
/// The lifecycle columns only: what planning a change needs, without the certificates and
/// sealed private keys (kilobytes per key, a thousand previous keys after a thousand rotations).
/// `KEY_COLUMNS` with the sealed private key of the current key only.
const SERVING_COLUMNS: &str = "kid, state, cert_der, \
                               CASE WHEN state = 'current' THEN private_key END AS private_key, \
                               master_key_id, created_at, current_since, current_until, revoked_at";
const RECORD_COLUMNS: &str = "kid, state, created_at, current_since, current_until, revoked_at";

/// A [`KeyStore`] on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
}

impl SqlStore {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and brings the schema up to date.
    /// A SQLite file is created when missing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, max_connections) = if is_sqlite(url) {
            // Each connection to `:memory:` is its own database: keep exactly one.
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            (with_create_mode(url), if in_memory { 1 } else { 4 })
        } else {
            (url.to_owned(), 8)
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            // Short, so that while the database is down a change fails fast with a 503 instead of queueing.
            .acquire_timeout(Duration::from_secs(2))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                        // WAL lets readers run beside the writer; FULL makes every commit durable
                        // across power loss; the busy timeout queues writers from other processes.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA busy_timeout = 10000",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        Ok(Self { pool })
    }
}

impl SqlStore {
    /// The connection pool, for tools and tests that inspect the schema directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// A SQLite URL that creates the file on first start (`mode=rwc`) unless it names a mode itself.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Whether a database URL names SQLite.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} out of range")))
}

fn optional_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(from_millis).transpose()
}

fn record_from_row(row: &AnyRow) -> Result<KeyRecord, StoreError> {
    let state: String = row.try_get("state")?;
    let state = KeyState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown key state {state:?}")))?;
    Ok(KeyRecord {
        kid: row.try_get("kid")?,
        state,
        created_at: from_millis(row.try_get("created_at")?)?,
        current_since: optional_time(row.try_get("current_since")?)?,
        current_until: optional_time(row.try_get("current_until")?)?,
        revoked_at: optional_time(row.try_get("revoked_at")?)?,
    })
}

fn key_from_row(row: &AnyRow) -> Result<StoredKey, StoreError> {
    let private_key: Option<Vec<u8>> = row.try_get("private_key")?;
    let master_key_id: Option<String> = row.try_get("master_key_id")?;
    let sealed = match (private_key, master_key_id) {
        (Some(ciphertext), Some(master_key_id)) => Some(SealedKey {
            master_key_id,
            ciphertext,
        }),
        _ => None,
    };
    Ok(StoredKey {
        record: record_from_row(row)?,
        cert_der: row.try_get("cert_der")?,
        sealed,
    })
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
            sqlx::Error::Database(db) => match db.code().as_deref() {
                // PostgreSQL serialization failure / deadlock; SQLite busy or locked.
                Some("40001" | "40P01" | "5" | "6" | "517") => StoreError::Conflict,
                // PostgreSQL connection exceptions (class 08) and a server shutting down or
                // starting up (57P01–57P03): the database is away, not wrong.
                Some(code) if code.starts_with("08") || code.starts_with("57P0") => {
                    StoreError::Unavailable(error.to_string())
                }
                _ => StoreError::Database(error.to_string()),
            },
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(error.to_string())
            }
            _ => StoreError::Database(error.to_string()),
        }
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Opens a transaction that holds the key set's write lock until it ends.
async fn begin_change(pool: &AnyPool) -> Result<(Tx, i64), StoreError> {
    let mut tx = pool.begin().await?;
    // Writing first takes the lock at once, so concurrent changes queue instead of deadlocking.
    let version: i64 = sqlx::query_scalar(
        "UPDATE keyset SET version = version + 1 WHERE id = 1 RETURNING version",
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok((tx, version))
}

async fn insert_key(tx: &mut Tx, key: &NewKey, record: &KeyRecord) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO signing_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&key.kid)
    .bind(record.state.as_str())
    .bind(&key.cert_der)
    .bind(&key.sealed.ciphertext)
    .bind(&key.sealed.master_key_id)
    .bind(millis(record.created_at))
    .bind(record.current_since.map(millis))
    .bind(record.current_until.map(millis))
    .bind(record.revoked_at.map(millis))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn update_key(tx: &mut Tx, record: &KeyRecord) -> Result<(), StoreError> {
    let revoked = record.state == KeyState::Revoked;
    // A revoked key's private part is destroyed in the same statement that revokes it.
    let erase = if revoked {
        ", private_key = NULL, master_key_id = NULL"
    } else {
        ""
    };
    let updated = sqlx::query(&format!(
        "UPDATE signing_keys SET state = $1, current_since = $2, current_until = $3, \
         revoked_at = $4{erase} WHERE kid = $5"
    ))
    .bind(record.state.as_str())
    .bind(record.current_since.map(millis))
    .bind(record.current_until.map(millis))
    .bind(record.revoked_at.map(millis))
    .bind(&record.kid)
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(StoreError::Corrupt(format!("key {} vanished", record.kid)));
    }
    Ok(())
}

async fn insert_audit(
    tx: &mut Tx,
    seq: i64,
    now: DateTime<Utc>,
    actor: &Actor,
    action: &str,
    kid: Option<&str>,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor, action, kid, remote_addr, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(seq)
    .bind(millis(now))
    .bind(&actor.name)
    .bind(action)
    .bind(kid)
    .bind(actor.remote_addr.as_deref())
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn check_rotation_limit(
    tx: &mut Tx,
    limit: RotationLimit,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS used, MIN(at) AS oldest FROM audit_events \
         WHERE action IN ('rotate', 'rotate_and_revoke') AND at > $1",
    )
    .bind(millis(now) - DAY_MS)
    .fetch_one(&mut **tx)
    .await?;
    let used: i64 = row.try_get("used")?;
    if used < i64::from(limit.per_day) {
        return Ok(());
    }
    let oldest: Option<i64> = row.try_get("oldest")?;
    Err(StoreError::RateLimited {
        limit: limit.per_day,
        reset_at: from_millis(oldest.unwrap_or(millis(now)) + DAY_MS)?,
    })
}

fn client_from_row(row: &AnyRow) -> Result<ClientRecord, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    Ok(ClientRecord {
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        secret_key_id: row.try_get("secret_key_id")?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}

const CLIENT_COLUMNS: &str = "client_id, name, secret_hash, secret_key_id, scopes, created_at";

/// A readable summary of a change for the audit log.
fn describe(change: &Change) -> String {
    let mut parts = Vec::new();
    if let Some(kid) = &change.new_current {
        parts.push(format!("{kid} became current"));
    }
    if let Some(key) = &change.inserted {
        parts.push(format!("{} queued as next", key.kid));
    }
    if let Some(kid) = &change.revoked {
        parts.push(format!("{kid} revoked"));
    }
    parts.join("; ")
}

impl SqlStore {
    /// The key set, reading the key columns `columns` (`KEY_COLUMNS` or `SERVING_COLUMNS`).
    async fn load_keys(
        &self,
        revoked_limit: usize,
        columns: &str,
    ) -> Result<StoredKeys, StoreError> {
        // One transaction, so the version and the keys describe the same moment.
        let mut tx = self.pool.begin().await?;
        let version: i64 = sqlx::query_scalar("SELECT version FROM keyset WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let mut keys = sqlx::query(&format!(
            "SELECT {columns} FROM signing_keys WHERE state <> 'revoked'"
        ))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(key_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        // Sorted here, not by an ORDER BY: the database would sort whole rows, certificates and
        // sealed keys included (megabytes with a thousand previous keys), on every reload.
        // Current, next, then previous keys newest first (by when they became current), then kid.
        let rank = |state: KeyState| match state {
            KeyState::Current => 0,
            KeyState::Next => 1,
            _ => 2,
        };
        keys.sort_by(|a, b| {
            rank(a.record.state)
                .cmp(&rank(b.record.state))
                .then_with(|| b.record.current_since.cmp(&a.record.current_since))
                .then_with(|| a.record.kid.cmp(&b.record.kid))
        });
        let revoked = sqlx::query(&format!(
            "SELECT {columns} FROM signing_keys WHERE state = 'revoked' \
             ORDER BY revoked_at DESC, kid LIMIT $1"
        ))
        .bind(i64::try_from(revoked_limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        for row in &revoked {
            keys.push(key_from_row(row)?);
        }
        tx.commit().await?;
        Ok(StoredKeys { version, keys })
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn load(&self, revoked_limit: usize) -> Result<StoredKeys, StoreError> {
        self.load_keys(revoked_limit, KEY_COLUMNS).await
    }

    async fn load_for_serving(&self, revoked_limit: usize) -> Result<StoredKeys, StoreError> {
        self.load_keys(revoked_limit, SERVING_COLUMNS).await
    }

    async fn find(&self, kid: &str) -> Result<Option<StoredKey>, StoreError> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys WHERE kid = $1"
        ))
        .bind(kid)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
    }

    async fn version(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT version FROM keyset WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn provision(
        &self,
        current: NewKey,
        next: NewKey,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (mut tx, version) = begin_change(&self.pool).await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys")
            .fetch_one(&mut *tx)
            .await?;
        if existing > 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let set = KeySet::provision(&current.kid, &next.kid, now)?;
        insert_key(&mut tx, &current, set.current()).await?;
        insert_key(&mut tx, &next, set.next()).await?;
        let detail = format!("{} current; {} queued as next", current.kid, next.kid);
        insert_audit(
            &mut tx,
            version,
            now,
            actor,
            "provision",
            Some(&current.kid),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn apply(
        &self,
        op: &Operation,
        new_key: Option<NewKey>,
        actor: &Actor,
        now: DateTime<Utc>,
        limit: Option<RotationLimit>,
    ) -> Result<Change, StoreError> {
        if op.new_key() != new_key.as_ref().map(|k| k.kid.as_str()) {
            return Err(StoreError::Corrupt(
                "the new key does not match the operation".into(),
            ));
        }
        let (mut tx, version) = begin_change(&self.pool).await?;
        if let Some(key) = &new_key {
            super::maintenance::ensure_sealed_under(&mut tx, &key.sealed.master_key_id).await?;
        }
        // Counted under the key set's lock, so concurrent rotations from any process cannot
        // slip past the limit together.
        if let (Some(limit), Some(_)) = (limit.filter(|_| actor.rate_limited), op.new_key()) {
            check_rotation_limit(&mut tx, limit, now).await?;
        }
        let target = match op {
            Operation::Revoke { kid } => kid.as_str(),
            _ => "",
        };
        // Valid keys decide every operation; a revoked target is loaded so that revoking it
        // again is refused as "already revoked" rather than "not found".
        let records = sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM signing_keys WHERE state <> 'revoked' OR kid = $1"
        ))
        .bind(target)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(record_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        let change = KeySet::new(records)?.plan(op, now)?;

        for record in &change.updated {
            update_key(&mut tx, record).await?;
        }
        if let (Some(record), Some(key)) = (&change.inserted, &new_key) {
            insert_key(&mut tx, key, record).await?;
        }
        insert_audit(
            &mut tx,
            version,
            now,
            actor,
            op.action(),
            change.subject(),
            &describe(&change),
        )
        .await?;
        tx.commit().await?;
        Ok(change)
    }

    async fn client_hash_keys(&self) -> Result<Vec<(String, SealedKey)>, StoreError> {
        self.load_client_hash_keys().await
    }

    async fn audit_events(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, kid, remote_addr, detail FROM audit_events \
             ORDER BY seq DESC LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEvent {
                    seq: row.try_get("seq")?,
                    at: from_millis(row.try_get("at")?)?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    kid: row.try_get("kid")?,
                    remote_addr: row.try_get("remote_addr")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let result = sqlx::query(&format!(
            "INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&client.client_id)
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(&client.secret_key_id)
        .bind(client.scopes.join(" "))
        .bind(millis(client.created_at))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(StoreError::DuplicateClient)
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(client_from_row)
        .transpose()
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created_at, client_id"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(client_from_row)
        .collect()
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn operator_password_hash(&self) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM operator WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_operator_password_hash(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO operator (id, password_hash) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash",
        )
        .bind(hash)
        .execute(&self.pool)
        .await?;
        // A new password ends every session opened with the old one.
        sqlx::query("DELETE FROM sessions")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_session(
        &self,
        id_hash: &[u8],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO sessions (id_hash, created_at, expires_at) VALUES ($1, $2, $3)")
            .bind(id_hash)
            .bind(millis(now))
            .bind(millis(expires_at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn touch_session(
        &self,
        id_hash: &[u8],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let touched = sqlx::query(
            "UPDATE sessions SET expires_at = $1 WHERE id_hash = $2 AND expires_at > $3",
        )
        .bind(millis(expires_at))
        .bind(id_hash)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(touched.rows_affected() == 1)
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
