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
use leptos::prelude::LeptosOptions;
use serde::{Deserialize, Serialize};

use super::{
    AppState,
    api_error::ApiError,
    management::{Caller, not_allowed},
};
use crate::domain::{client_secret::ClientRecord, signing_policy::SigningPolicy};

const CREATE: &str = "create:clients";
const READ: &str = "read:clients";
const DELETE: &str = "delete:clients";

pub fn routes() -> Router<LeptosOptions> {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClientRequest {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    signing_policy: Option<SigningPolicy>,
}

/// A client as listed: never its secret.
#[derive(Serialize)]
struct ClientObject {
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

async fn create_client(
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
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list_clients(
    state: AppState,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<ClientObject>>, ApiError> {
    caller.require_all(&[READ])?;
    let clients = state.clients.list().await?;
    Ok(Json(clients.into_iter().map(ClientObject::from).collect()))
}

async fn delete_client(
    state: AppState,
    Extension(caller): Extension<Caller>,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_all(&[DELETE])?;
    if state.clients.delete(&client_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "inexistent_client",
            "Client not found",
        ))
    }
}
