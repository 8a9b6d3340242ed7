//! The connection to SQLite (the embedded default) or PostgreSQL (to scale out), the one
//! migrator, and how database errors and timestamps translate.
//!
//! Both backends run the same queries and migrations through sqlx's `Any` driver; the only
//! backend-specific code is the connection set-up in [`SqlStore::connect`].

use std::{str::FromStr, time::Duration};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{
    AnyPool,
    any::{AnyConnectOptions, AnyPoolOptions},
};

use super::StoreError;

/// The schema this binary knows, for the live database and for the backup check alike: a
/// backup from a newer Signet is refused rather than half-read.
pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Every port of [`super::Store`] on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(super) pool: AnyPool,
    /// The tenant whose keys, clients and audit trail this handle reads and writes.
    tenant: std::sync::Arc<str>,
}

/// The tenant every database has: the one that existed before there were several.
pub const DEFAULT_TENANT: &str = "default";

impl SqlStore {
    /// The same database, scoped to `tenant` (its id): keys, key-set version, clients and audit
    /// events of that tenant only. The connection pool is shared.
    pub fn for_tenant(&self, tenant: &str) -> Self {
        Self {
            pool: self.pool.clone(),
            tenant: tenant.into(),
        }
    }

    /// The id of the tenant this handle is scoped to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

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
        Ok(Self {
            pool,
            tenant: DEFAULT_TENANT.into(),
        })
    }

    /// The connection pool, for tools and tests that inspect the schema directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Whether this binary's migrations include `version`.
pub(super) fn knows_migration(version: i64) -> bool {
    MIGRATOR.iter().any(|m| m.version == version)
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

/// Timestamps are stored as Unix milliseconds on both backends.
pub(super) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn from_millis(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} out of range")))
}

pub(super) fn optional_time(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(from_millis).transpose()
}

/// A count or limit as SQL binds it.
pub(super) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
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
