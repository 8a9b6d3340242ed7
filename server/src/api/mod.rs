//! Signet's HTTP surface: public endpoints, probes, the dashboard, and (under `/api/v2`) the
//! Management API.

pub mod error;
mod health;
mod well_known;

use axum::{
    Router,
    extract::FromRef,
    response::Redirect,
    routing::{any, get},
};
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;

use self::error::ApiError;
use crate::keys::service::KeyService;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub keys: KeyService,
    pub leptos: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

async fn api_not_found() -> ApiError {
    ApiError::route_not_found()
}

/// The whole application, ready to serve or to drive with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    let service: app::service::SharedSigningKeys = std::sync::Arc::new(state.keys.clone());
    let leptos_options = state.leptos.clone();
    Router::new()
        .route("/", get(|| async { Redirect::to("/tenant/signing_keys") }))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(well_known::routes())
        .route("/api/v2", any(api_not_found))
        .route("/api/v2/{*rest}", any(api_not_found))
        .leptos_routes_with_context(
            &state,
            generate_route_list(app::App),
            move || provide_context(service.clone()),
            move || app::shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
