//! Signet's HTTP surface: public endpoints, probes, the dashboard, and (under `/api/v2`) the
//! Management API.

mod dashboard;
pub mod error;
mod health;
mod management;
mod oauth;
pub mod rate_limit;
mod security_headers;
mod session;
mod token_throttle;
mod well_known;

use axum::{Router, extract::FromRef, response::Redirect, routing::get};
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::{
    LatencyUnit,
    trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use std::{sync::Arc, time::Duration};

use self::rate_limit::ClientRateLimiter;
use crate::{config::Settings, keys::service::KeyService, operator::OperatorService};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub keys: KeyService,
    pub operator: OperatorService,
    pub leptos: LeptosOptions,
    pub api: Arc<ApiSettings>,
    /// Set to `true` when the server starts shutting down: long-lived responses (the dashboard's
    /// event stream) end so that graceful shutdown does not wait on them.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    pub fn new(
        keys: KeyService,
        operator: OperatorService,
        leptos: LeptosOptions,
        api: ApiSettings,
    ) -> Self {
        Self {
            keys,
            operator,
            leptos,
            api: Arc::new(api),
            stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// Ends the long-lived responses; called when shutdown begins.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }
}

/// How the token endpoint and the Management API behave.
#[derive(Debug)]
pub struct ApiSettings {
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// The per-client request limit.
    pub limiter: ClientRateLimiter,
    /// Failed client authentications at the token endpoint.
    pub token_throttle: token_throttle::TokenThrottle,
    /// The Management API's key list, serialised once per key change.
    pub key_list: management::KeyListCache,
}

impl From<&Settings> for ApiSettings {
    fn from(settings: &Settings) -> Self {
        Self {
            token_lifetime: Duration::from_secs(settings.token_lifetime_secs),
            limiter: ClientRateLimiter::new(settings.api_rate_limit_per_minute),
            token_throttle: token_throttle::TokenThrottle::default(),
            key_list: management::KeyListCache::default(),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// The whole application, ready to serve or to drive with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    let service: app::service::SharedSigningKeys = Arc::new(state.keys.clone());
    let operator: app::service::SharedOperator = Arc::new(state.operator.clone());
    let leptos_options = state.leptos.clone();
    Router::new()
        .route("/", get(|| async { Redirect::to("/tenant/signing_keys") }))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(well_known::routes())
        .merge(oauth::routes())
        .nest("/api/v2", management::routes(state.clone()))
        .merge(dashboard::routes())
        .leptos_routes_with_context(
            &state,
            generate_route_list(app::App),
            move || {
                provide_context(service.clone());
                provide_context(operator.clone());
                security_headers::provide_page_nonce();
            },
            move || app::shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(security_headers::provide_page_nonce, app::shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::guard,
        ))
        // Outside the guard, so its refusals and redirects carry the headers too.
        .layer(axum::middleware::from_fn(security_headers::add))
        // One line per request at info (SPEC §10): method, path and status with its latency.
        // Headers are left out, so neither bearer tokens nor session cookies reach the log.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Micros),
                ),
        )
        .with_state(state)
}
