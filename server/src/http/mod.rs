//! Signet's HTTP surface: the router, its state and extractors, the one error map per boundary
//! (`errors.rs`), the dashboard's port adapters, and the server loop with optional TLS.
//!
//! Handlers read the clock once and hand `now` to one service call.

pub mod api_error;
mod clients_api;
mod dashboard;
mod dashboard_adapters;
pub mod errors;
mod extractors;
mod health;
mod management;
mod oauth;
pub mod rate_limit;
mod security_headers;
pub mod server;
mod session;
mod signing;
pub mod state;
pub mod tenants;
pub mod tls;
mod token_throttle;
mod well_known;

use std::sync::Arc;

use app::routes::SIGNING_KEYS_PAGE;
use axum::{Router, response::Redirect, routing::get};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::{
    LatencyUnit,
    trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use self::dashboard_adapters::{DashboardKeys, DashboardOperator};
pub use self::state::{ApiSettings, AppState};

/// The dashboard's page routes, listed once per process: listing them renders the app, which
/// every tenant's application would otherwise pay for again.
fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

/// The whole application of one tenant, ready to serve or to drive with
/// `tower::ServiceExt::oneshot`; its dashboard knows no other tenant.
pub fn router(state: AppState) -> Router {
    router_in(state, None)
}

/// The application of one tenant of a deployment whose dashboard lists and creates `tenants`.
pub fn router_in(state: AppState, tenants: Option<app::service::SharedTenants>) -> Router {
    let current = app::service::CurrentTenant(state.keys.tenant_domain().to_owned());
    let service: app::service::SharedSigningKeys = Arc::new(DashboardKeys {
        keys: state.keys.clone(),
        signing: state.signing.clone(),
        clock: state.clock.clone(),
    });
    let operator: app::service::SharedOperator = Arc::new(DashboardOperator {
        operator: state.operator.clone(),
        clock: state.clock.clone(),
    });
    let leptos_options = state.leptos.clone();
    Router::new()
        .route("/", get(|| async { Redirect::to(SIGNING_KEYS_PAGE) }))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(well_known::routes())
        .merge(oauth::routes())
        .nest("/api/v2", management::routes(state.clone()))
        .merge(dashboard::routes())
        .leptos_routes_with_context(
            &state,
            page_routes(),
            move || {
                provide_context(service.clone());
                provide_context(operator.clone());
                provide_context(current.clone());
                if let Some(tenants) = &tenants {
                    provide_context(tenants.clone());
                }
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
        // One line per request at info (docs/design.md §10): method, path and status with its
        // latency. Headers are left out, so neither bearer tokens nor session cookies reach the log.
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
