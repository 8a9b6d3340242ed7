//! `POST /oauth/token`: the client-credentials grant, with RFC 6749 request and error shapes.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use super::{AppState, errors::oauth_error, extractors::PeerAddr};
use crate::{domain::client_secret::ClientRecord, services::tokens};

/// Token requests are a few hundred bytes; anything much larger is refused unread.
const MAX_BODY: usize = 16 * 1024;

pub fn routes() -> Router {
    Router::new()
        .route(
            "/oauth/token",
            post(token).fallback(|| async {
                OAuthError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "invalid_request",
                    "Use POST",
                )
            }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// An RFC 6749 §5.2 error response.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Seconds to wait, sent as `Retry-After`.
    retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    /// Too many failed authentications of this client from this address (Auth0's error code).
    fn too_many_attempts(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many failed attempts to authenticate this client; try again later",
            )
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Signet failed; the cause is in the log.
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal error",
        )
    }

    fn invalid_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client or wrong client secret",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        // As for the API's errors: only a 5xx, whose cause is only in the log, names its request.
        if let Some(id) = super::request_id::current().filter(|_| self.status.is_server_error()) {
            body["request_id"] = serde_json::Value::from(&*id);
        }
        let mut response = (
            self.status,
            [(header::CACHE_CONTROL, "no-store")],
            Json(body),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"signet\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

/// The parameters of a token request; unknown parameters are ignored (RFC 6749 §3.2).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(super) struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    audience: Option<String>,
    scope: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
}

fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("The form body is malformed")),
        "application/json" => serde_json::from_slice(body)
            .map_err(|_| OAuthError::invalid_request("The JSON body is malformed")),
        _ => Err(OAuthError::invalid_request(
            "Send the request as application/x-www-form-urlencoded or application/json",
        )),
    }
}

/// Credentials from `Authorization: Basic` (client_secret_basic), if present.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthError::invalid_client();
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((id.to_owned(), secret.to_owned())))
}

/// The body's own rejections (too large, unreadable), in OAuth's shape too.
fn body_error(rejection: &BytesRejection) -> OAuthError {
    OAuthError::new(
        rejection.status(),
        "invalid_request",
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            format!("The request body is larger than {MAX_BODY} bytes")
        } else {
            "The request body could not be read".to_owned()
        },
    )
}

/// Only the client-credentials grant is offered.
fn check_grant_type(request: &TokenRequest) -> Result<(), OAuthError> {
    match request.grant_type.as_deref() {
        None => Err(OAuthError::invalid_request("grant_type is required")),
        Some("client_credentials") => Ok(()),
        Some(_) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only the client_credentials grant is supported",
        )),
    }
}

/// The client id and secret, from HTTP Basic or from the body (not both).
fn client_credentials(
    headers: &HeaderMap,
    request: &mut TokenRequest,
) -> Result<(String, String), OAuthError> {
    match (
        basic_credentials(headers)?,
        request.client_id.take(),
        request.client_secret.take(),
    ) {
        (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
            "Authenticate with HTTP Basic or with client_secret in the body, not both",
        )),
        (Some(basic), None, None) => Ok(basic),
        (Some((id, secret)), Some(body_id), None) if id == body_id => Ok((id, secret)),
        (None, Some(id), Some(secret)) => Ok((id, secret)),
        _ => Err(OAuthError::invalid_client()),
    }
}

/// The client behind the credentials, counting failures against the throttle.
async fn authenticated_client(
    state: &AppState,
    (client_id, secret): (String, String),
    addr: Option<std::net::IpAddr>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ClientRecord, OAuthError> {
    let throttle = &state.api.token_throttle;
    if let Some(seconds) = throttle.locked(&client_id, addr, now) {
        // The client id is not logged: a confused caller may have pasted a secret into it.
        tracing::warn!(
            ?addr,
            "token request throttled after failed authentications"
        );
        return Err(OAuthError::too_many_attempts(seconds));
    }
    let client = state
        .clients
        .authenticate(&client_id, &secret)
        .await
        .map_err(oauth_error)?
        .ok_or_else(|| {
            throttle.fail(&client_id, addr, now);
            OAuthError::invalid_client()
        })?;
    throttle.succeed(&client_id, addr);
    Ok(client)
}

/// The scopes to grant: those requested, if the client holds them all; else all it holds.
fn granted_scopes(
    request: &TokenRequest,
    client: &ClientRecord,
) -> Result<Vec<String>, OAuthError> {
    match request.scope.as_deref().map(str::trim) {
        None | Some("") => Ok(client.scopes.clone()),
        Some(requested) => {
            let requested: Vec<String> = requested.split_whitespace().map(str::to_owned).collect();
            if let Some(extra) = requested.iter().find(|s| !client.scopes.contains(s)) {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    format!("The client is not granted the scope {extra}"),
                ));
            }
            Ok(requested)
        }
    }
}

/// An RFC 6749 error body.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "a schema only: the body is written by OAuthError")]
pub(super) struct OAuthErrorBody {
    error: String,
    error_description: String,
    /// On a 5xx only: the request's id, as in `X-Request-Id`.
    request_id: Option<String>,
}

/// An access token for a machine client (client credentials)
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded",
        description = "Also as JSON; client_id and client_secret may come by HTTP Basic instead"),
    responses((status = 200, description = "The token", body = TokenResponse),
        (status = 400, description = "invalid_request, unsupported_grant_type, invalid_scope", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
        (status = 403, description = "access_denied: another audience", body = OAuthErrorBody)))]
pub(super) async fn token(
    state: AppState,
    PeerAddr(addr): PeerAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OAuthError> {
    let body = body.map_err(|rejection| body_error(&rejection))?;
    let now = state.clock.now();
    let mut request = parse_request(&headers, &body)?;
    check_grant_type(&request)?;
    let credentials = client_credentials(&headers, &mut request)?;
    let client = authenticated_client(&state, credentials, addr, now).await?;
    let expected_audience = tokens::management_audience(state.keys.tenant_domain());
    if let Some(audience) = request.audience.as_deref()
        && audience != expected_audience
    {
        // Auth0's answer for an audience it does not serve.
        return Err(OAuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("Service not found: {audience}"),
        ));
    }
    let scopes = granted_scopes(&request, &client)?;
    let lifetime = state.api.token_lifetime;
    let (access_token, claims) = state
        .signing
        .issue_access_token(&client.client_id, &scopes, lifetime, now)
        .await
        .map_err(oauth_error)?;
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: lifetime.as_secs(),
            scope: claims.scope,
        }),
    )
        .into_response())
}
