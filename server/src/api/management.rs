//! The Auth0-compatible Management API for signing keys, under `/api/v2`.
//!
//! Every handler has the same shape: the caller is authenticated by middleware, the scope is
//! checked on the first line, input is validated, one service call, one response.

use app::keys::{KeyState, KeyView};
use axum::{
    Extension, Json, Router,
    extract::{ConnectInfo, Path, Request, State, rejection::PathRejection},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use chrono::Utc;
use serde::Serialize;

use super::{AppState, error::ApiError};
use crate::{
    store::Actor,
    tokens::{self, AccessClaims, TokenError},
};

const READ: &str = "read:signing_keys";
const CREATE: &str = "create:signing_keys";
const UPDATE: &str = "update:signing_keys";

/// Longest bearer token accepted; real ones are under 1 KB.
const MAX_TOKEN_LEN: usize = 8 * 1024;

pub fn routes(state: AppState) -> Router<AppState> {
    let not_allowed = || async { ApiError::method_not_allowed() };
    Router::new()
        .route("/keys/signing", get(list_keys).fallback(not_allowed))
        .route(
            "/keys/signing/rotate",
            post(rotate_key).fallback(not_allowed),
        )
        .route("/keys/signing/{kid}", get(get_key).fallback(not_allowed))
        .route(
            "/keys/signing/{kid}/revoke",
            put(revoke_key).fallback(not_allowed),
        )
        .route_layer(middleware::from_fn_with_state(state, authenticate))
        .fallback(|| async { ApiError::route_not_found() })
}

/// An authenticated Management API caller.
#[derive(Debug, Clone)]
pub struct Caller {
    claims: AccessClaims,
    remote_addr: Option<String>,
}

impl Caller {
    fn has(&self, scope: &str) -> bool {
        self.claims.scopes().any(|s| s == scope)
    }

    /// Refuses unless the token carries every scope in `needed`.
    fn require_all(&self, needed: &[&str]) -> Result<(), ApiError> {
        if needed.iter().all(|scope| self.has(scope)) {
            return Ok(());
        }
        let expected = if needed.len() == 1 {
            format!("any of: {}", needed[0])
        } else {
            format!("all of: {}", needed.join(","))
        };
        Err(ApiError::insufficient_scope(&expected))
    }

    /// The audit log's actor for this caller.
    fn actor(&self) -> Actor {
        Actor {
            name: self.claims.client_id().to_owned(),
            remote_addr: self.remote_addr.clone(),
            rate_limited: true,
        }
    }
}

/// Verifies the bearer token against the keys held right now, applies the per-client request
/// limit, and reports the limit's headers on every response.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let claims = match bearer_claims(&state, &request) {
        Ok(claims) => claims,
        Err(error) => return error.into_response(),
    };
    let quota = match state.api.limiter.check(claims.client_id(), Utc::now()) {
        Ok(quota) => quota,
        Err(quota) => {
            return ApiError::too_many_requests(
                "Too many requests from this client; slow down",
                &quota,
            )
            .into_response();
        }
    };
    let remote_addr = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    request.extensions_mut().insert(Caller {
        claims,
        remote_addr,
    });
    let mut response = next.run(request).await;
    // A rotation-limit refusal carries its own figures; every other response gets the client's.
    if !response.headers().contains_key("x-ratelimit-limit") {
        for (name, value) in quota.headers() {
            if let Ok(value) = value.parse() {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
}

fn bearer_claims(state: &AppState, request: &Request) -> Result<AccessClaims, ApiError> {
    let mut values = request.headers().get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(ApiError::invalid_token(
            "Missing or duplicated authentication",
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::invalid_token("Bad HTTP authentication header format"))?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(ApiError::invalid_token(
                "Bad HTTP authentication header format",
            ));
        }
    };
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::invalid_token("Invalid token"));
    }
    let published = state.keys.published();
    tokens::verify(&published.verifiers, state.keys.tenant_domain(), token).map_err(|error| {
        tracing::debug!(%error, "bearer token refused");
        match error {
            TokenError::Invalid(reason) if reason.contains("ExpiredSignature") => {
                ApiError::invalid_token("Expired token received for JSON Web Token validation")
            }
            _ => ApiError::invalid_token("Invalid token"),
        }
    })
}

/// A signing key in the Management API's shape.
#[derive(Debug, Serialize)]
pub struct SigningKeyObject {
    kid: String,
    cert: String,
    pkcs7: String,
    current: bool,
    next: bool,
    previous: bool,
    revoked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
    fingerprint: String,
    thumbprint: String,
}

impl From<KeyView> for SigningKeyObject {
    fn from(view: KeyView) -> Self {
        Self {
            current: view.state == KeyState::Current,
            next: view.state == KeyState::Next,
            previous: view.state == KeyState::Previous,
            revoked: view.state == KeyState::Revoked,
            kid: view.kid,
            cert: view.cert,
            pkcs7: view.pkcs7,
            current_since: view.current_since,
            current_until: view.current_until,
            revoked_at: view.revoked_at,
            fingerprint: view.fingerprint,
            thumbprint: view.thumbprint,
        }
    }
}

/// The `{kid}` path segment: a key id's characters only, else 400 in Auth0's words.
fn kid_from_path(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_uri",
            "Path validation error: 'String does not match pattern ^[A-Za-z0-9_-]+$' on property kid (The key id of the signing key)",
        )
    };
    let Path(kid) = path.map_err(|_| invalid())?;
    let well_formed = !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if well_formed { Ok(kid) } else { Err(invalid()) }
}

async fn list_keys(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<SigningKeyObject>>, ApiError> {
    caller.require_all(&[READ])?;
    let published = state.keys.published();
    Ok(Json(
        published.keys.iter().map(|k| k.view().into()).collect(),
    ))
}

async fn get_key(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<SigningKeyObject>, ApiError> {
    caller.require_all(&[READ])?;
    let kid = kid_from_path(path)?;
    Ok(Json(state.keys.find(&kid).await?.view().into()))
}

async fn rotate_key(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_all(&[CREATE, UPDATE])?;
    let rotated = state.keys.rotate(&caller.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(SigningKeyObject::from(rotated.current.view())),
    ))
}

async fn revoke_key(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<SigningKeyObject>, ApiError> {
    caller.require_all(&[UPDATE])?;
    let kid = kid_from_path(path)?;
    let revoked = state.keys.revoke(&kid, &caller.actor()).await?;
    Ok(Json(revoked.view().into()))
}
