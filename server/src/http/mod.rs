//! Signet's HTTP surface: the router, its state and extractors, the one error map per boundary
//! (`errors.rs`), the dashboard's port adapters, and the server loop with optional TLS.
//!
//! Handlers read the clock once and hand `now` to one service call.

pub mod api_error;
mod clients_api;
mod dashboard;
mod dashboard_adapters;
mod edge;
pub mod encoded;
pub mod errors;
mod extractors;
mod health;
pub mod log_line;
mod logs_api;
mod management;
pub mod metrics;
mod oauth;
mod openapi;
mod policy;
pub mod rate_limit;
pub mod request_id;
pub mod request_log;
mod security_headers;
pub mod server;
mod session;
mod signing;
mod site;
pub mod state;
pub mod tenants;
pub mod tls;
mod token_throttle;
mod well_known;

use std::sync::{Arc, OnceLock};

use app::routes::SIGNING_KEYS_PAGE;
use axum::{Router, response::Redirect, routing::get};
use leptos::prelude::{LeptosOptions, provide_context, use_context};
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};

use self::dashboard_adapters::{DashboardKeys, DashboardLogs, DashboardOperator};
pub use self::state::{ApiSettings, AppState};

/// The whole application of one tenant, ready to serve or to drive with
/// `tower::ServiceExt::oneshot`; its dashboard knows no other tenant.
pub fn router(state: AppState) -> Router {
    app(state.leptos.clone(), true).layer(axum::Extension(state))
}

/// The application of every tenant: one router, whose handlers take the request's tenant
/// ([`AppState`]) from its extensions, where [`tenants::TenantRouters`] (or [`router`]) put it.
/// `metered`: every request is counted and timed for `/metrics` (a deployment that serves no
/// metrics pays nothing for them).
pub fn app(leptos_options: LeptosOptions, metered: bool) -> Router {
    let router = routes(leptos_options.clone());
    let router = if metered {
        // Outermost: every request counts, refused ones too, under its route template.
        router.layer(axum::middleware::from_fn(metrics::track))
    } else {
        router
    };
    router.with_state(leptos_options)
}

fn routes(leptos_options: LeptosOptions) -> Router<LeptosOptions> {
    let shell_options = leptos_options.clone();
    // Every route but the pages' is stateless (handlers take their tenant from the request):
    // bound to `()`, a request does not clone the Leptos options on its way to the handler.
    let api = Router::new()
        .route("/", get(|| async { Redirect::to(SIGNING_KEYS_PAGE) }))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(well_known::routes())
        .merge(oauth::routes())
        .route("/api/v2/openapi.json", get(openapi::openapi_json))
        .nest("/api/v2", management::routes())
        .merge(dashboard::routes());
    Router::new()
        .merge(api.with_state(()))
        .leptos_routes_with_context(
            &leptos_options,
            page_routes().to_vec(),
            provide_dashboard_context,
            move || app::shell(shell_options.clone()),
        )
        .fallback_service(site::files(&leptos_options))
        .layer(axum::middleware::from_fn(session::guard))
        // Outside the guard, so its refusals and redirects carry the headers, the id and a log
        // line too.
        .layer(axum::middleware::from_fn(edge::edge))
}

/// The dashboard's page routes, listed once per process.
///
/// Listing them runs the whole app with resources suppressed by a process-global flag of
/// `leptos_server` (leptos#4773): a page whose resource was first polled on another thread while
/// the flag was up waited forever (a test's router built beside another test's page render hung
/// that render). Listed once, before the first router exists, no render can overlap it.
fn page_routes() -> &'static [AxumRouteListing] {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App))
}

/// What the dashboard's pages and server functions reach, for the request's tenant.
fn provide_dashboard_context() {
    security_headers::provide_page_nonce();
    let state = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<AppState>().cloned());
    let Some(state) = state else {
        // Without its tenant a page finds no service and says Signet is unavailable.
        tracing::error!("a dashboard request without its tenant");
        return;
    };
    let service: app::service::SharedSigningKeys = Arc::new(DashboardKeys {
        keys: state.keys.clone(),
        signing: state.signing.clone(),
        schedule: state.schedule.clone(),
        clock: state.clock.clone(),
    });
    let operator: app::service::SharedOperator = Arc::new(DashboardOperator {
        operator: state.operator.clone(),
        clock: state.clock.clone(),
    });
    let logs: app::service::SharedLogs = Arc::new(DashboardLogs {
        audit: state.audit.clone(),
        tenants: state.tenants.clone(),
        current: state.keys.tenant_domain().to_owned(),
    });
    provide_context(service);
    provide_context(operator);
    provide_context(logs);
    provide_context(app::service::CurrentTenant(
        state.keys.tenant_domain().to_owned(),
    ));
    if let Some(tenants) = &state.tenants {
        provide_context(tenants.clone());
    }
}
