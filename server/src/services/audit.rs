//! The audit trail, read (SPEC §14): by the Logs page, its exports, `GET /api/v2/logs` and
//! `signet audit list`. Events are appended by the changes they record (the store does that in
//! their transactions); nothing in the product edits or deletes one.

use std::sync::Arc;

use app::audit::{ALL_TENANTS, LogEntry, LogFilter, describe};
use chrono::{SecondsFormat, TimeZone, Utc};

use super::ServiceError;
use crate::store::{AuditCursor, AuditEvent, AuditLog, AuditPage, AuditQuery, AuditTenants};

/// The most events one read returns (Auth0's ceiling for `take` and `per_page`).
pub const MAX_PAGE: usize = 100;

/// The audit trail of one tenant's handle; cheap to clone.
#[derive(Clone)]
pub struct AuditTrail {
    store: Arc<dyn AuditLog>,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditTrail")
    }
}

impl AuditTrail {
    pub fn new(store: Arc<dyn AuditLog>) -> Self {
        Self { store }
    }

    /// The events `query` selects, in its page's order.
    pub async fn events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, ServiceError> {
        Ok(self.store.audit_events(query).await?)
    }

    /// One of this tenant's events by number.
    pub async fn event(&self, seq: i64) -> Result<Option<AuditEvent>, ServiceError> {
        Ok(self.store.audit_event(seq).await?)
    }

    /// One page of the dashboard's trail: `filter` (its tenant defaulting to `current`), newest
    /// first from just older than `before`, or everything newer than `after` (oldest first).
    /// Returns the events, and the cursor of the next older page if there is one.
    pub async fn page(
        &self,
        filter: &LogFilter,
        position: Position<'_>,
        limit: usize,
        current: &str,
    ) -> Result<(Vec<LogEntry>, Option<String>), ServiceError> {
        let page = match position {
            Position::Newest => AuditPage::Older(None),
            Position::Before(cursor) => AuditPage::Older(Some(parse_cursor(cursor)?)),
            Position::After(cursor) => AuditPage::Newer(parse_cursor(cursor)?),
        };
        let newer = matches!(page, AuditPage::Newer(_));
        let limit = limit.clamp(1, MAX_PAGE);
        let query = AuditQuery {
            // The dashboard's own tenant by id (its domain may once have been another's).
            tenants: match filter.tenant.as_deref() {
                None => AuditTenants::Own,
                Some(domain) if domain == current => AuditTenants::Own,
                Some(ALL_TENANTS) => AuditTenants::Every,
                Some(domain) => AuditTenants::Domain(domain.to_owned()),
            },
            actions: filter.kind.iter().cloned().collect(),
            actor: filter.actor.clone(),
            page,
            // One more than shown tells whether an older page exists.
            limit: limit + 1,
        };
        let mut events = self.events(&query).await?;
        let more = events.len() > limit;
        events.truncate(limit);
        let older = (more && !newer)
            .then(|| events.last().map(|event| cursor_string(&event.cursor())))
            .flatten();
        Ok((events.iter().map(entry).collect(), older))
    }
}

/// Where a page of the dashboard's trail starts.
#[derive(Debug, Clone, Copy)]
pub enum Position<'a> {
    Newest,
    Before(&'a str),
    After(&'a str),
}

/// An event as the page and its exports show it.
pub fn entry(event: &AuditEvent) -> LogEntry {
    let tenant = match (&event.tenant_domain, event.tenant_deleted_at) {
        (Some(domain), None) => domain.clone(),
        (Some(domain), Some(_)) => format!("{domain} (deleted)"),
        (None, _) => event.tenant_id.clone(),
    };
    LogEntry {
        log_id: event.seq.to_string(),
        date: event.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        kind: event.action.clone(),
        description: describe(&event.action).to_owned(),
        actor: event.actor.clone(),
        ip: event.remote_addr.clone(),
        kid: event.kid.clone(),
        tenant,
        detail: event.detail.clone(),
        cursor: cursor_string(&event.cursor()),
    }
}

/// A cursor as the page carries it: `<unix ms>.<seq>.<tenant id>`.
fn cursor_string(cursor: &AuditCursor) -> String {
    format!(
        "{}.{}.{}",
        cursor.at.timestamp_millis(),
        cursor.seq,
        cursor.tenant_id
    )
}

fn parse_cursor(text: &str) -> Result<AuditCursor, ServiceError> {
    let invalid = || ServiceError::InvalidQuery(format!("not a log cursor: {text:?}"));
    let mut parts = text.splitn(3, '.');
    let (Some(at), Some(seq), Some(tenant_id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let at = at
        .parse()
        .ok()
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .ok_or_else(invalid)?;
    let seq = seq.parse().map_err(|_| invalid())?;
    if tenant_id.is_empty() {
        return Err(invalid());
    }
    Ok(AuditCursor {
        at,
        tenant_id: tenant_id.to_owned(),
        seq,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written_and_nonsense_is_refused() {
        let cursor = AuditCursor {
            at: Utc.timestamp_millis_opt(1_764_000_000_123).unwrap(),
            tenant_id: "t.with.dots".into(),
            seq: 42,
        };
        let text = cursor_string(&cursor);
        assert_eq!(text, "1764000000123.42.t.with.dots");
        assert_eq!(parse_cursor(&text).unwrap(), cursor);
        for nonsense in [
            "",
            "1.2",
            "x.1.t",
            "1.x.t",
            "1.2.",
            "99999999999999999999.1.t",
        ] {
            assert!(parse_cursor(nonsense).is_err(), "{nonsense:?}");
        }
    }
}
