//! `GET /metrics` (SPEC §14): the Prometheus scrape, on its own listener
//! (`SIGNET_METRICS_ADDR`) or on the main port behind a bearer token (`SIGNET_METRICS_TOKEN`);
//! and the layer that counts and times every HTTP request by its route template.

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use subtle::ConstantTimeEq as _;

use super::AppState;
use crate::services::{
    clock::SharedClock,
    database_health::DatabaseHealth,
    keys::KeyService,
    metrics::{CONTENT_TYPE, Metrics},
    spare_keys::SpareKeys,
};

/// Counts and times the request under its route template (`/api/v2/keys/signing/{kid}`, never
/// the path itself, so a series per kid is impossible); requests no route matched count as
/// `unmatched`.
pub async fn track(request: Request, next: Next) -> Response {
    let metrics = request
        .extensions()
        .get::<AppState>()
        .map(|state| state.keys.metrics().clone());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = bounded_method(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    if let Some(metrics) = metrics {
        let seconds = started.elapsed().as_secs_f64();
        metrics.request(&route, method, response.status().as_u16(), seconds);
    }
    response
}

/// The method's name, for the few methods Signet answers; any other is `other`.
fn bounded_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// What a scrape reads: the process's metrics, the tenants it serves now, and what they share.
#[derive(Clone)]
pub struct Scrape {
    pub metrics: Metrics,
    /// The key services of every tenant served at the moment of the scrape.
    pub tenants: Arc<dyn Fn() -> Vec<KeyService> + Send + Sync>,
    pub spares: SpareKeys,
    pub health: DatabaseHealth,
    pub clock: SharedClock,
    /// Required as `Authorization: Bearer …` when set.
    pub token: Option<zeroize::Zeroizing<String>>,
}

/// `GET /metrics` alone.
pub fn router(scrape: Scrape) -> Router {
    Router::new()
        .route("/metrics", get(scrape_metrics))
        .with_state(scrape)
}

async fn scrape_metrics(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(token) = &scrape.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"signet-metrics\""),
                )],
                "The metrics need the bearer token SIGNET_METRICS_TOKEN\n",
            )
                .into_response();
        }
    }
    let tenants = (scrape.tenants)();
    let up = !scrape.health.is_down();
    let text = scrape
        .metrics
        .render(&tenants, &scrape.spares, up, scrape.clock.now());
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        text,
    )
        .into_response()
}

/// Serves `GET /metrics` alone on `addr`, in plain HTTP (a scrape stays inside the network),
/// until the task is aborted.
pub async fn listen_apart(
    addr: std::net::SocketAddr,
    scrape: Scrape,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics at http://{addr}/metrics");
    Ok(tokio::spawn(super::server::serve(
        listener,
        router(scrape),
        None,
        std::future::pending(),
    )))
}
