//! The audit trail through the Management API (SPEC §14): `GET /api/v2/logs` in Auth0's two
//! shapes, and `GET /api/v2/logs/{id}`. Read only: every other method is a 405, and no route
//! anywhere edits or deletes an event.
//!
//! - **By checkpoint** (`from`, `take`): the events after log `from`, oldest first, with a
//!   `Link: <…>; rel="next"` to the following batch (the same URL when there is nothing newer) —
//!   what a log shipper polls.
//! - **By search** (`q`, `page`, `per_page`, or `take` alone): newest first; `q` filters on
//!   `type` (`type:rotate`, `type:"revoke"`, `type:(rotate OR revoke)`).

use app::audit::{LOG_TYPES, LogEntry, is_log_type};
use axum::{
    Extension, Json, Router,
    extract::{Path, RawQuery},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;

use super::{
    AppState,
    api_error::{ApiError, ErrorBody},
    management::{Caller, not_allowed},
};
use crate::{
    services::audit::{MAX_PAGE, entry},
    store::{AuditPage, AuditQuery, AuditTenants},
};

/// Reading the audit trail.
pub const READ_LOGS: &str = "read:logs";

/// Events per answer unless `take` or `per_page` says otherwise.
const DEFAULT_TAKE: usize = 50;

pub fn routes() -> Router {
    Router::new()
        .route("/logs", get(list_logs).fallback(not_allowed("GET,HEAD")))
        .route("/logs/{id}", get(get_log).fallback(not_allowed("GET,HEAD")))
}

/// A log event as the API returns it: Auth0's fields where they apply, Signet's beside them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogObject {
    /// The tenant's event number (increasing: a checkpoint for `from`).
    pub log_id: String,
    pub date: String,
    /// One of Signet's event types (see the README), e.g. `rotate`, `sign_in_failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub ip: Option<String>,
    /// The tenant's domain.
    pub hostname: String,
    /// `operator`, `cli:<user>`, `schedule`, or the client id of a Management API caller.
    pub actor: String,
    pub kid: Option<String>,
    pub details: LogDetails,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogDetails {
    pub detail: String,
}

impl From<LogEntry> for LogObject {
    fn from(entry: LogEntry) -> Self {
        Self {
            log_id: entry.log_id,
            date: entry.date,
            kind: entry.kind,
            description: entry.description,
            ip: entry.ip,
            hostname: entry.tenant,
            actor: entry.actor,
            kid: entry.kid,
            details: LogDetails {
                detail: entry.detail,
            },
        }
    }
}

/// What a `GET /logs` asked for.
#[derive(Debug, PartialEq, Eq)]
enum LogRequest {
    Checkpoint {
        from: i64,
        take: usize,
    },
    Search {
        types: Vec<String>,
        page: usize,
        per_page: usize,
    },
}

/// The audit trail: by checkpoint (`from`, `take`) or by search (`q`, `page`, `per_page`)
#[utoipa::path(get, path = "/api/v2/logs", tag = "logs",
    params(
        ("from" = Option<String>, Query, description = "Checkpoint: the events after this log_id, oldest first"),
        ("take" = Option<u32>, Query, description = "Events per answer, 1 to 100 (default 50)"),
        ("q" = Option<String>, Query, description = "type:rotate, type:\"revoke\" or type:(rotate OR revoke)"),
        ("page" = Option<u32>, Query, description = "Search: page from 0, newest first"),
        ("per_page" = Option<u32>, Query, description = "Search: events per page, 1 to 100"),
    ),
    security(("bearer" = ["read:logs"])),
    responses((status = 200, description = "The events; a Link header names the next batch", body = [LogObject]),
        (status = 400, description = "invalid_query_string", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody)))]
pub(super) async fn list_logs(
    state: AppState,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    caller.require_all(&[READ_LOGS])?;
    let request = parse_request(raw.as_deref().unwrap_or(""))?;
    let (page, actions, limit) = match &request {
        LogRequest::Checkpoint { from, take } => (AuditPage::AfterSeq(*from), Vec::new(), *take),
        LogRequest::Search {
            types,
            page,
            per_page,
        } => (
            AuditPage::Offset(page.saturating_mul(*per_page)),
            types.clone(),
            *per_page,
        ),
    };
    let query = AuditQuery {
        tenants: AuditTenants::Own,
        actions,
        actor: None,
        page,
        limit,
    };
    let events = state.audit.events(&query).await?;
    let next = match &request {
        LogRequest::Checkpoint { from, take } => {
            let last = events.last().map_or(*from, |event| event.seq);
            Some(format!("/api/v2/logs?from={last}&take={take}"))
        }
        LogRequest::Search { .. } if events.len() < limit => None,
        LogRequest::Search {
            types,
            page,
            per_page,
        } => {
            let q = types_query(types);
            Some(format!(
                "/api/v2/logs?{q}page={}&per_page={per_page}",
                page + 1
            ))
        }
    };
    let logs: Vec<LogObject> = events
        .iter()
        .map(|event| LogObject::from(entry(event)))
        .collect();
    let mut response = Json(logs).into_response();
    if let Some(next) = next
        && let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\""))
    {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// One event
#[utoipa::path(get, path = "/api/v2/logs/{id}", tag = "logs",
    params(("id" = String, Path, description = "The event's log_id")),
    security(("bearer" = ["read:logs"])),
    responses((status = 200, description = "The event", body = LogObject), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody),
        (status = 404, description = "inexistent_log", body = ErrorBody)))]
pub(super) async fn get_log(
    state: AppState,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<LogObject>, ApiError> {
    caller.require_all(&[READ_LOGS])?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "inexistent_log", "Log not found");
    let seq: i64 = id.parse().map_err(|_| not_found())?;
    let event = state.audit.event(seq).await?.ok_or_else(not_found)?;
    Ok(Json(LogObject::from(entry(&event))))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query_string",
        format!("Query validation error: {}", message.into()),
    )
}

/// A whole number in `1..=MAX_PAGE`.
fn page_size(name: &str, value: &str) -> Result<usize, ApiError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_PAGE).contains(n))
        .ok_or_else(|| {
            invalid(format!(
                "'{name}' must be a whole number from 1 to {MAX_PAGE}"
            ))
        })
}

fn parse_request(raw: &str) -> Result<LogRequest, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|_| invalid("the query string is not URL-encoded"))?;
    let get = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let take = get("take").map(|v| page_size("take", v)).transpose()?;
    if let Some(from) = get("from") {
        // Auth0: with `from`, every parameter but `take` is ignored.
        let from = from
            .parse::<i64>()
            .ok()
            .filter(|from| *from >= 0)
            .ok_or_else(|| invalid("'from' must be a log_id"))?;
        return Ok(LogRequest::Checkpoint {
            from,
            take: take.unwrap_or(DEFAULT_TAKE),
        });
    }
    if get("include_totals") == Some("true") {
        return Err(invalid(
            "include_totals is not supported; follow the Link header's next page instead",
        ));
    }
    let per_page = get("per_page")
        .map(|v| page_size("per_page", v))
        .transpose()?
        .or(take)
        .unwrap_or(DEFAULT_TAKE);
    let page = get("page")
        .map(|v| v.parse::<usize>())
        .transpose()
        .map_err(|_| invalid("'page' must be a whole number from 0"))?
        .unwrap_or(0);
    let types = get("q").map(parse_q).transpose()?.unwrap_or_default();
    Ok(LogRequest::Search {
        types,
        page,
        per_page,
    })
}

/// The event types a `q` names: `type:X`, `type:"X"` or `type:(X OR Y …)`.
fn parse_q(q: &str) -> Result<Vec<String>, ApiError> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let syntax = || {
        invalid("'q' filters on type only: type:rotate, type:\"revoke\" or type:(rotate OR revoke)")
    };
    let value = q.strip_prefix("type:").ok_or_else(syntax)?.trim();
    let names: Vec<&str> = match value.strip_prefix('(') {
        Some(group) => group
            .strip_suffix(')')
            .ok_or_else(syntax)?
            .split(" OR ")
            .map(str::trim)
            .collect(),
        None => vec![value],
    };
    names
        .into_iter()
        .map(|name| {
            let name = name.trim_matches('"');
            if is_log_type(name) {
                Ok(name.to_owned())
            } else {
                let known: Vec<&str> = LOG_TYPES.iter().map(|(kind, _)| *kind).collect();
                Err(invalid(format!(
                    "there is no log type {name:?}; the types are {}",
                    known.join(", ")
                )))
            }
        })
        .collect()
}

/// `q=…&` for a next-page link, or nothing.
fn types_query(types: &[String]) -> String {
    match types {
        [] => String::new(),
        [one] => format!("q=type%3A{one}&"),
        many => format!("q=type%3A%28{}%29&", many.join("%20OR%20")),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_ignores_everything_but_take() {
        assert_eq!(
            parse_request("from=12&take=3&q=type:nonsense").unwrap(),
            LogRequest::Checkpoint { from: 12, take: 3 }
        );
        assert_eq!(
            parse_request("from=0").unwrap(),
            LogRequest::Checkpoint { from: 0, take: 50 }
        );
        for bad in [
            "from=-1",
            "from=x",
            "from=1&take=0",
            "from=1&take=101",
            "take=ten",
        ] {
            assert!(parse_request(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_search_filters_on_type_and_pages() {
        assert_eq!(
            parse_request("q=type%3A(rotate%20OR%20%22revoke%22)&page=2&per_page=10").unwrap(),
            LogRequest::Search {
                types: vec!["rotate".into(), "revoke".into()],
                page: 2,
                per_page: 10
            }
        );
        assert_eq!(
            parse_request("").unwrap(),
            LogRequest::Search {
                types: vec![],
                page: 0,
                per_page: 50
            }
        );
        for bad in [
            "q=actor:operator",
            "q=type:drop_table",
            "q=type:(rotate",
            "page=-1",
            "per_page=1000",
            "include_totals=true",
        ] {
            assert!(parse_request(bad).is_err(), "{bad}");
        }
        assert_eq!(
            types_query(&["rotate".into(), "revoke".into()]),
            "q=type%3A%28rotate%20OR%20revoke%29&"
        );
    }
}
