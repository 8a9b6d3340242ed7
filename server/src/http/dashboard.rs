//! What the dashboard needs beside its pages and server functions: the live stream of key-set
//! changes, and certificate downloads. Both sit behind the session guard (under
//! [`app::routes::SERVER_FN_PREFIX`] and [`app::routes::TENANT_PAGES`]).

use leptos::prelude::LeptosOptions;
use std::{convert::Infallible, time::Duration};

use axum::{
    Router,
    extract::Path,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::get,
};
use futures_util::stream::{self, Stream};

use app::routes::{KEY_DOWNLOAD, KEY_EVENTS};

use super::{
    AppState,
    api_error::ApiError,
    well_known::{Format, attachment},
};

/// A stream ends after this long; the browser reconnects at once, and the session guard checks
/// the session again. A signed-out browser stops hearing about changes within this time.
const STREAM_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// How long the browser waits before reconnecting a closed stream.
const RETRY: Duration = Duration::from_secs(2);

pub fn routes() -> Router<LeptosOptions> {
    Router::new()
        .route(KEY_EVENTS, get(key_events))
        .route(KEY_DOWNLOAD, get(download))
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
