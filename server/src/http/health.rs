//! Liveness and readiness probes for load balancers and orchestrators.

use axum::{Json, http::StatusCode, response::IntoResponse};

use super::{AppState, api_error::ApiError};

/// The process is up.
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The database answers and a current key is loaded.
pub async fn readyz(state: AppState) -> Result<impl IntoResponse, ApiError> {
    let not_ready = |message: &str| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            message.to_owned(),
        )
    };
    if let Err(error) = state.keys.ping().await {
        tracing::warn!(%error, "readiness check: database unreachable");
        return Err(not_ready("The database is unreachable"));
    }
    let published = state.keys.published();
    if published.current().is_none() {
        return Err(not_ready("No current signing key is loaded"));
    }
    Ok(Json(serde_json::json!({
        "status": "ready",
        "keys_version": published.version,
    })))
}
