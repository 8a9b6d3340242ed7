//! Machine clients through the Management API (SPEC §11): `POST/GET /api/v2/clients` and
//! `DELETE /api/v2/clients/{id}`, so a deployment pipeline provisions its signers without a
//! shell. The secret is in the creation's answer only.

use axum::{
    Extension, Json, Router,
    body::Bytes,
    extract::Path,
    http::StatusCode,
    response::IntoResponse,
    routing::{delete, get},
};
use serde::{Deserialize, Serialize};

use super::{
    AppState,
    api_error::{ApiError, ErrorBody},
    management::{Caller, not_allowed},
};
use crate::domain::{client_secret::ClientRecord, signing_policy::SigningPolicy};

const CREATE: &str = "create:clients";
const READ: &str = "read:clients";
const DELETE: &str = "delete:clients";

pub fn routes() -> Router {
    Router::new()
        .route(
            "/clients",
            get(list_clients)
                .post(create_client)
                .fallback(not_allowed("GET,HEAD,POST")),
        )
        .route(
            "/clients/{client_id}",
            delete(delete_client).fallback(not_allowed("DELETE")),
        )
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewClientRequest {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    signing_policy: Option<SigningPolicy>,
}

/// A client as listed: never its secret.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ClientObject {
    client_id: String,
    name: String,
    scopes: Vec<String>,
    signing_policy: SigningPolicy,
    created_at: String,
}

impl From<ClientRecord> for ClientObject {
    fn from(client: ClientRecord) -> Self {
        Self {
            client_id: client.client_id,
            name: client.name,
            scopes: client.scopes,
            signing_policy: client.signing_policy,
            created_at: crate::services::published::iso(client.created_at),
        }
    }
}

/// Create a machine client (its secret is in this answer only)
#[utoipa::path(post, path = "/api/v2/clients", tag = "clients",
    request_body = NewClientRequest,
    security(("bearer" = ["create:clients"])),
    responses((status = 201, description = "The client and its secret", body = crate::domain::client_secret::NewClient),
        (status = 400, description = "An unknown scope or a bad signing policy", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody), (status = 409, description = "client_exists", body = ErrorBody)))]
pub(super) async fn create_client(
    state: AppState,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_all(&[CREATE])?;
    let request: NewClientRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", format!("{e}")))?;
    if let Some(scope) = request
        .scopes
        .iter()
        .find(|s| s.split_whitespace().count() != 1)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("{scope:?} is not one scope"),
        ));
    }
    let created = state
        .clients
        .create(
            &request.name,
            &request.scopes.join(" "),
            request.signing_policy.unwrap_or_default(),
            &caller.actor(),
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Every client, without secrets
#[utoipa::path(get, path = "/api/v2/clients", tag = "clients",
    security(("bearer" = ["read:clients"])),
    responses((status = 200, description = "The clients", body = [ClientObject]), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody)))]
pub(super) async fn list_clients(
    state: AppState,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<ClientObject>>, ApiError> {
    caller.require_all(&[READ])?;
    let clients = state.clients.list().await?;
    Ok(Json(clients.into_iter().map(ClientObject::from).collect()))
}

/// Delete a client
#[utoipa::path(delete, path = "/api/v2/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "The client's id")),
    security(("bearer" = ["delete:clients"])),
    responses((status = 204, description = "Deleted"), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody),
        (status = 404, description = "inexistent_client", body = ErrorBody)))]
pub(super) async fn delete_client(
    state: AppState,
    Extension(caller): Extension<Caller>,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_all(&[DELETE])?;
    let (actor, now) = (caller.actor(), state.clock.now());
    if state.clients.delete(&client_id, &actor, now).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "inexistent_client",
            "Client not found",
        ))
    }
}
