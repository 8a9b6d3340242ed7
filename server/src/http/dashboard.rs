//! What the dashboard needs beside its pages and server functions: the live stream of key-set
//! changes, certificate downloads, and the audit trail's exports. All sit behind the session
//! guard (under [`app::routes::SERVER_FN_PREFIX`] and [`app::routes::TENANT_PAGES`]).

use std::{convert::Infallible, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{Path, RawQuery},
    http::{StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::get,
};
use futures_util::stream::{self, Stream};

use app::{
    audit::{LogEntry, LogFilter},
    routes::{KEY_DOWNLOAD, KEY_EVENTS, LOG_EXPORT},
};

use super::{
    AppState,
    api_error::ApiError,
    well_known::{Format, attachment},
};
use crate::services::audit::{MAX_PAGE, Position};

/// A stream ends after this long; the browser reconnects at once, and the session guard checks
/// the session again. A signed-out browser stops hearing about changes within this time.
const STREAM_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// How long the browser waits before reconnecting a closed stream.
const RETRY: Duration = Duration::from_secs(2);

pub fn routes() -> Router {
    Router::new()
        .route(KEY_EVENTS, get(key_events))
        .route(KEY_DOWNLOAD, get(download))
        .route(LOG_EXPORT, get(export_logs))
}

/// Server-sent events: `keys` with the key set's version, once on connect and after every
/// change (this process's, or one the watcher picked up from another process or the CLI).
async fn key_events(state: AppState) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let published = state.keys.subscribe();
    let stopping = state.stopping.subscribe();
    let deadline = tokio::time::Instant::now() + STREAM_LIFETIME;
    let events = stream::unfold(
        (published, stopping, true),
        move |(mut published, mut stopping, first)| async move {
            if !first {
                tokio::select! {
                    changed = published.changed() => changed.ok()?,
                    _ = stopping.wait_for(|stop| *stop) => return None,
                    () = tokio::time::sleep_until(deadline) => return None,
                }
            }
            let version = published.borrow_and_update().version;
            let event = Event::default()
                .event("keys")
                .retry(RETRY)
                .data(version.to_string());
            Some((Ok(event), (published, stopping, false)))
        },
    );
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// `/tenant/signing_keys/{kid}/certificate.{pem,cer,p7b}`: a valid key's certificate.
async fn download(
    state: AppState,
    Path((kid, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let format = match file.as_str() {
        "certificate.pem" => Format::Pem,
        "certificate.cer" => Format::Cer,
        "certificate.p7b" => Format::Pkcs7,
        _ => return Err(ApiError::route_not_found()),
    };
    let published = state.keys.published();
    // Revoked keys are not offered: their certificates must not be trusted again.
    let key = published
        .find(&kid)
        .filter(|key| key.record.state.is_valid())
        .ok_or_else(ApiError::key_not_found)?;
    Ok(attachment(&state, key, format).into_response())
}

/// The columns of a CSV export, in order.
const CSV_HEADER: &str = "log_id,date,type,description,actor,ip,kid,tenant,detail\r\n";

/// `/tenant/logs/export.{csv,ndjson}?tenant=…&type=…&actor=…`: every event the Logs page's
/// filter selects, newest first, streamed a page at a time (an export of any size holds one
/// page in memory).
async fn export_logs(
    state: AppState,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (csv, content_type) = match file.as_str() {
        "export.csv" => (true, "text/csv; charset=utf-8"),
        "export.ndjson" => (false, "application/x-ndjson"),
        _ => return Err(ApiError::route_not_found()),
    };
    let filter: LogFilter = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|_| ApiError::bad_request("The filter is not URL-encoded"))?;
    let filter = filter.normalized();
    let current = state.keys.tenant_domain().to_owned();
    let audit = state.audit.clone();
    let pages = stream::try_unfold(Some(None::<String>), move |next| {
        let (audit, filter, current) = (audit.clone(), filter.clone(), current.clone());
        async move {
            let Some(before) = next else {
                return Ok(None);
            };
            let position = before.as_deref().map_or(Position::Newest, Position::Before);
            let (entries, older) = audit.page(&filter, position, MAX_PAGE, &current).await?;
            let mut chunk = String::new();
            if csv && before.is_none() {
                chunk.push_str(CSV_HEADER);
            }
            for entry in &entries {
                if csv {
                    csv_line(&mut chunk, entry);
                } else {
                    chunk.push_str(&serde_json::to_string(&export_object(entry))?);
                    chunk.push('\n');
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Some((chunk, older.map(Some))))
        }
    });
    let stamp = state.clock.now().format("%Y%m%dT%H%M%SZ");
    let name = format!(
        "signet-logs-{}-{stamp}.{}",
        state.keys.tenant_domain(),
        if csv { "csv" } else { "ndjson" }
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(pages),
    )
        .into_response())
}

/// An event as one NDJSON line: the Management API's fields, and the tenant by name.
fn export_object(entry: &LogEntry) -> serde_json::Value {
    serde_json::json!({
        "log_id": entry.log_id, "date": entry.date, "type": entry.kind,
        "description": entry.description, "actor": entry.actor, "ip": entry.ip,
        "kid": entry.kid, "tenant": entry.tenant, "detail": entry.detail,
    })
}

/// Appends `entry` as one CSV record (RFC 4180).
fn csv_line(out: &mut String, entry: &LogEntry) {
    let fields = [
        entry.log_id.as_str(),
        &entry.date,
        &entry.kind,
        &entry.description,
        &entry.actor,
        entry.ip.as_deref().unwrap_or(""),
        entry.kid.as_deref().unwrap_or(""),
        &entry.tenant,
        &entry.detail,
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, field);
    }
    out.push_str("\r\n");
}

/// One CSV field: quoted when it must be, and never read as a formula by a spreadsheet (a
/// leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'` before it).
fn csv_field(out: &mut String, field: &str) {
    let formula = field.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = formula || field.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    out.push_str(&field.replace('"', "\"\""));
    if quoted {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_field_is_quoted_when_needed_and_never_a_formula() {
        let field = |text: &str| {
            let mut out = String::new();
            csv_field(&mut out, text);
            out
        };
        assert_eq!(field("operator"), "operator");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(field("-1"), "\"'-1\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
    }
}
