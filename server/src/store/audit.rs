//! The audit trail: one event per change or sign-in, appended inside the transaction of what it
//! records, numbered by its tenant's own counter. Nothing here updates or deletes an event.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Row, any::AnyRow};

use super::{
    SqlStore, StoreError,
    database::{from_millis, millis, optional_time, sql_limit},
};
use crate::domain::Actor;

/// One entry of the audit trail, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// The tenant's event number: 1, 2, 3, … in commit order.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub kid: Option<String>,
    pub remote_addr: Option<String>,
    pub detail: String,
    /// The tenant's id, domain, and when it was deleted (its events stay).
    pub tenant_id: String,
    pub tenant_domain: Option<String>,
    pub tenant_deleted_at: Option<DateTime<Utc>>,
}

impl AuditEvent {
    /// Where this event sits in the newest-first order of every tenant's events.
    pub fn cursor(&self) -> AuditCursor {
        AuditCursor {
            at: self.at,
            tenant_id: self.tenant_id.clone(),
            seq: self.seq,
        }
    }
}

/// An event about to be appended.
#[derive(Debug, Clone, Copy)]
pub struct AuditEntry<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub kid: Option<&'a str>,
    pub detail: &'a str,
}

/// A position in the trail's order: time, then tenant, then number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCursor {
    pub at: DateTime<Utc>,
    pub tenant_id: String,
    pub seq: i64,
}

/// Whose events a query reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuditTenants {
    /// The tenant of the store handle.
    #[default]
    Own,
    /// The tenants with this domain (a deleted one's too: its domain may have been reused).
    Domain(String),
    /// Every tenant's, deleted ones included (the deployment's operator).
    Every,
}

/// Which page of the matching events a query returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditPage {
    /// Newest first, from just older than the cursor (`None`: from the newest).
    Older(Option<AuditCursor>),
    /// Oldest first, strictly newer than the cursor: what happened since a page was shown.
    Newer(AuditCursor),
    /// Oldest first by number, strictly after `seq`: Auth0's checkpoint (one tenant).
    AfterSeq(i64),
    /// Newest first, skipping `offset` events: Auth0's `page`/`per_page`.
    Offset(usize),
}

/// A query of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub tenants: AuditTenants,
    /// Only these actions (empty: any).
    pub actions: Vec<String>,
    /// Only actors whose name starts with this (`cli:` matches every command-line user).
    pub actor: Option<String>,
    pub page: AuditPage,
    pub limit: usize,
}

impl AuditQuery {
    /// The newest `limit` events of the handle's tenant.
    pub fn newest(limit: usize) -> Self {
        Self {
            tenants: AuditTenants::Own,
            actions: Vec::new(),
            actor: None,
            page: AuditPage::Older(None),
            limit,
        }
    }
}

/// Reading and appending to the audit trail. There is no way to change or delete an event.
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// The events `query` selects, in its page's order.
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;
    /// One event of the handle's tenant, by number.
    async fn audit_event(&self, seq: i64) -> Result<Option<AuditEvent>, StoreError>;
    /// Appends an event that records no other write (a failed sign-in), in its own transaction.
    async fn append_audit(&self, entry: &AuditEntry<'_>) -> Result<(), StoreError>;
}

/// Appends `entry` to `tenant`'s trail inside `tx`, numbered by the tenant's counter (which also
/// queues concurrent appends on the key set's row).
pub(super) async fn insert_audit(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: &str,
    entry: &AuditEntry<'_>,
) -> Result<(), StoreError> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE keysets SET audit_seq = audit_seq + 1 WHERE tenant_id = $1 RETURNING audit_seq",
    )
    .bind(tenant)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::TenantGone)?;
    sqlx::query(
        "INSERT INTO audit_events (tenant_id, seq, at, actor, action, kid, remote_addr, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant)
    .bind(seq)
    .bind(millis(entry.at))
    .bind(&entry.actor.name)
    .bind(entry.action)
    .bind(entry.kid)
    .bind(entry.actor.remote_addr.as_deref())
    .bind(entry.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const EVENT_COLUMNS: &str = "e.seq, e.at, e.actor, e.action, e.kid, e.remote_addr, e.detail, \
                             e.tenant_id, t.domain, t.deleted_at";

fn event_from_row(row: &AnyRow) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        seq: row.try_get("seq")?,
        at: from_millis(row.try_get("at")?)?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        kid: row.try_get("kid")?,
        remote_addr: row.try_get("remote_addr")?,
        detail: row.try_get("detail")?,
        tenant_id: row.try_get("tenant_id")?,
        tenant_domain: row.try_get("domain")?,
        tenant_deleted_at: optional_time(row.try_get("deleted_at")?)?,
    })
}

/// A value a built query binds.
enum Bind {
    Text(String),
    Int(i64),
}

/// Builds the SQL of a query: conditions with numbered parameters, then the order and limit.
struct Sql {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Sql {
    fn param(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn condition(&mut self, sql: impl Into<String>) {
        self.conditions.push(sql.into());
    }
}

fn build(query: &AuditQuery, own: &str) -> (String, Vec<Bind>) {
    let mut sql = Sql {
        conditions: Vec::new(),
        binds: Vec::new(),
    };
    match &query.tenants {
        AuditTenants::Own => {
            let p = sql.param(Bind::Text(own.to_owned()));
            sql.condition(format!("e.tenant_id = {p}"));
        }
        AuditTenants::Domain(domain) => {
            let p = sql.param(Bind::Text(domain.clone()));
            sql.condition(format!("t.domain = {p}"));
        }
        AuditTenants::Every => {}
    }
    if !query.actions.is_empty() {
        let params: Vec<String> = query
            .actions
            .iter()
            .map(|action| sql.param(Bind::Text(action.clone())))
            .collect();
        sql.condition(format!("e.action IN ({})", params.join(", ")));
    }
    if let Some(actor) = &query.actor {
        let length = i64::try_from(actor.len()).unwrap_or(i64::MAX);
        let p = sql.param(Bind::Text(actor.clone()));
        let n = sql.param(Bind::Int(length));
        // CAST: PostgreSQL's substr takes an integer, and a bound i64 is a bigint.
        sql.condition(format!("substr(e.actor, 1, CAST({n} AS INTEGER)) = {p}"));
    }
    let newest_first = "ORDER BY e.at DESC, e.tenant_id DESC, e.seq DESC";
    let (order, offset) = match &query.page {
        AuditPage::Older(None) => (newest_first, None),
        AuditPage::Older(Some(cursor)) | AuditPage::Newer(cursor) => {
            let at = sql.param(Bind::Int(millis(cursor.at)));
            let tenant = sql.param(Bind::Text(cursor.tenant_id.clone()));
            let seq = sql.param(Bind::Int(cursor.seq));
            let (op, order) = if matches!(query.page, AuditPage::Newer(_)) {
                (">", "ORDER BY e.at, e.tenant_id, e.seq")
            } else {
                ("<", newest_first)
            };
            sql.condition(format!(
                "(e.at {op} {at} OR (e.at = {at} AND (e.tenant_id {op} {tenant} \
                 OR (e.tenant_id = {tenant} AND e.seq {op} {seq}))))"
            ));
            (order, None)
        }
        AuditPage::AfterSeq(seq) => {
            let p = sql.param(Bind::Int(*seq));
            sql.condition(format!("e.seq > {p}"));
            ("ORDER BY e.seq", None)
        }
        AuditPage::Offset(offset) => (newest_first, Some(*offset)),
    };
    let limit = sql.param(Bind::Int(sql_limit(query.limit)));
    let offset = offset
        .map(|offset| format!(" OFFSET {}", sql.param(Bind::Int(sql_limit(offset)))))
        .unwrap_or_default();
    let filter = if sql.conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", sql.conditions.join(" AND "))
    };
    (
        format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events e LEFT JOIN tenants t ON t.id = e.tenant_id \
             {filter} {order} LIMIT {limit}{offset}"
        ),
        sql.binds,
    )
}

#[async_trait]
impl AuditLog for SqlStore {
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let (sql, binds) = build(query, self.tenant());
        let mut statement = sqlx::query(&sql);
        for bind in binds {
            statement = match bind {
                Bind::Text(text) => statement.bind(text),
                Bind::Int(int) => statement.bind(int),
            };
        }
        statement
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(event_from_row)
            .collect()
    }

    async fn audit_event(&self, seq: i64) -> Result<Option<AuditEvent>, StoreError> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events e LEFT JOIN tenants t ON t.id = e.tenant_id \
             WHERE e.tenant_id = $1 AND e.seq = $2"
        ))
        .bind(self.tenant())
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(event_from_row)
        .transpose()
    }

    async fn append_audit(&self, entry: &AuditEntry<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, self.tenant(), entry).await?;
        tx.commit().await?;
        Ok(())
    }
}
