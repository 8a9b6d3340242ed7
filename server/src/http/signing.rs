//! The signing service's routes (SPEC §11): `POST /api/v2/jwt/sign`, `POST /api/v2/jwt/sign-batch`
//! and `GET /api/v2/keys/signing/{kid}/usage`. Each handler: scope first, then the body is
//! checked against the rules and the client's policy, then one service call.

use axum::{
    Extension, Json, Router, body::Bytes, http::StatusCode, response::IntoResponse, routing::post,
};
use serde::Serialize;

use super::{
    AppState,
    api_error::{ApiError, ErrorBody},
    extractors::KidPath,
    management::{Caller, not_allowed},
};
use crate::{
    domain::signing_policy::{self, BatchRequest, SignRequest, SigningPolicy},
    services::{ServiceError, published::iso, signing::SignedBatch, tokens},
};

const SIGN: &str = "sign:tokens";
const READ: &str = "read:signing_keys";

/// A batch of a hundred claim sets of up to 16 KiB each, and their JSON around them.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

pub fn routes() -> Router {
    Router::new()
        .route("/jwt/sign", post(sign).fallback(not_allowed("POST")))
        .route(
            "/jwt/sign-batch",
            post(sign_batch).fallback(not_allowed("POST")),
        )
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SignedJwt {
    jwt: String,
    kid: String,
    alg: &'static str,
    expires_at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct BatchToken {
    jwt: String,
    expires_at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SignedJwts {
    kid: String,
    alg: &'static str,
    tokens: Vec<BatchToken>,
}

/// The caller's signing policy; a client deleted since its token was issued signs nothing.
async fn policy_of(state: &AppState, caller: &Caller) -> Result<SigningPolicy, ApiError> {
    caller.require_all(&[SIGN])?;
    state
        .clients
        .signing_policy(caller.client_id())
        .await?
        .ok_or_else(|| ApiError::invalid_token("The client of this token no longer exists"))
}

/// Sign one JWT with the current key
#[utoipa::path(post, path = "/api/v2/jwt/sign", tag = "signing service",
    request_body = SignRequest,
    security(("bearer" = ["sign:tokens"])),
    responses((status = 201, description = "The signed JWT", body = SignedJwt),
        (status = 400, description = "A claim broke a signing rule; nothing was signed", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody)))]
pub(super) async fn sign(
    state: AppState,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let policy = policy_of(&state, &caller).await?;
    let request: SignRequest = signing_policy::parse_body(&body).map_err(ServiceError::from)?;
    let now = state.clock.now();
    let issuer = tokens::issuer(state.keys.tenant_domain());
    let approved = signing_policy::approve(request, &policy, &issuer, now.timestamp())
        .map_err(ServiceError::from)?;
    let (kid, alg, token) = state.signing.sign(approved, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(SignedJwt {
            jwt: token.jwt,
            kid,
            alg: alg.as_str(),
            expires_at: iso(token.expires_at),
        }),
    ))
}

/// Sign 1 to 100 JWTs with one key
#[utoipa::path(post, path = "/api/v2/jwt/sign-batch", tag = "signing service",
    request_body = BatchRequest,
    security(("bearer" = ["sign:tokens"])),
    responses((status = 201, description = "The signed JWTs", body = SignedJwts),
        (status = 400, description = "A claim broke a signing rule; nothing was signed", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody)))]
pub(super) async fn sign_batch(
    state: AppState,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let policy = policy_of(&state, &caller).await?;
    let batch: BatchRequest = signing_policy::parse_body(&body).map_err(ServiceError::from)?;
    let now = state.clock.now();
    let issuer = tokens::issuer(state.keys.tenant_domain());
    let approved = signing_policy::approve_batch(batch, &policy, &issuer, now.timestamp())
        .map_err(ServiceError::from)?;
    let SignedBatch { kid, alg, tokens } = state.signing.sign_batch(approved, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(SignedJwts {
            kid,
            alg: alg.as_str(),
            tokens: tokens
                .into_iter()
                .map(|t| BatchToken {
                    jwt: t.jwt,
                    expires_at: iso(t.expires_at),
                })
                .collect(),
        }),
    ))
}

/// `GET /keys/signing/{kid}/usage`: the key's usage ledger.
/// What a key signed, and whether it is safe to revoke
#[utoipa::path(get, path = "/api/v2/keys/signing/{kid}/usage", tag = "signing keys",
    params(("kid" = String, Path, description = "The key id")),
    security(("bearer" = ["read:signing_keys"])),
    responses((status = 200, description = "The key's usage", body = app::keys::KeyUsage),
        (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody), (status = 404, description = "No such key", body = ErrorBody)))]
pub async fn key_usage(
    state: AppState,
    Extension(caller): Extension<Caller>,
    kid: Result<KidPath, ApiError>,
) -> Result<Json<app::keys::KeyUsage>, ApiError> {
    caller.require_all(&[READ])?;
    let KidPath(kid) = kid?;
    let usage = state.signing.usage(kid.as_str(), state.clock.now()).await?;
    Ok(Json(usage))
}
