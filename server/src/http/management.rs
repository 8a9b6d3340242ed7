//! The Auth0-compatible Management API for signing keys, under `/api/v2`.
//!
//! Every handler has the same shape: the caller is authenticated by middleware, the scope is
//! checked on the first line, input is validated, one service call, one response.

use std::{net::IpAddr, sync::Arc};

use app::keys::KeyState;
use axum::{
    Extension, Json, Router,
    body::{Bytes, HttpBody as _},
    extract::{ConnectInfo, RawQuery, Request},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use futures_util::StreamExt;
use serde::Serialize;

use super::{
    AppState,
    api_error::{ApiError, ErrorBody},
    clients_api,
    encoded::{self, Coding, Encoded, PerVersion},
    extractors::KidPath,
    logs_api, policy, signing,
};
use crate::{
    domain::Actor,
    services::{
        published::{Published, PublishedKey},
        tokens::{self, AccessClaims, TokenError},
    },
};

pub(super) const READ: &str = "read:signing_keys";
const CREATE: &str = "create:signing_keys";
pub(super) const UPDATE: &str = "update:signing_keys";

/// Longest bearer token accepted; real ones are under 1 KB.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// No endpoint here needs a body (Auth0's SDKs send at most `{}`): anything larger is refused.
const MAX_BODY: usize = 16 * 1024;

/// A body still arriving after this long is a slow-request attack, not a client.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub fn routes() -> Router {
    let keys = Router::new()
        .route(
            "/keys/signing",
            get(list_keys).fallback(not_allowed("GET,HEAD")),
        )
        .route(
            "/keys/signing/rotate",
            post(rotate_key).fallback(not_allowed("POST")),
        )
        .route(
            "/keys/signing/{kid}",
            get(get_key).fallback(not_allowed("GET,HEAD")),
        )
        .route(
            "/keys/signing/{kid}/revoke",
            put(revoke_key).fallback(not_allowed("PUT")),
        )
        .route(
            "/keys/signing/{kid}/usage",
            get(signing::key_usage).fallback(not_allowed("GET,HEAD")),
        )
        .merge(clients_api::routes())
        .merge(logs_api::routes())
        .merge(policy::routes())
        .route_layer(middleware::from_fn(authenticate))
        // Outermost: an oversized or dawdling body is refused before any token is verified.
        .layer(middleware::from_fn(bounded_api_body));
    // The signing service: larger bodies, and no per-client request limit (a login service
    // signs at the rate its users sign in).
    let jwt = signing::routes()
        .route_layer(middleware::from_fn(authenticate_signer))
        .layer(middleware::from_fn(bounded_sign_body));
    keys.merge(jwt)
        .fallback(|| async { ApiError::route_not_found() })
}

/// RFC 9110 §15.5.6: a 405 names the methods the route does allow.
pub(super) fn not_allowed(
    allow: &'static str,
) -> impl Fn() -> std::future::Ready<ApiError> + Clone + Send + Sync + 'static {
    move || std::future::ready(ApiError::method_not_allowed().with_header(header::ALLOW, allow))
}

async fn bounded_api_body(request: Request, next: Next) -> Response {
    bounded_body(MAX_BODY, request, next).await
}

async fn bounded_sign_body(request: Request, next: Next) -> Response {
    bounded_body(signing::MAX_BODY, request, next).await
}

/// Reads the body up to `limit` bytes within [`BODY_TIMEOUT`], refusing in Auth0's shape
/// (413, 408) rather than leaving the limit to whatever a handler might extract.
async fn bounded_body(limit: usize, request: Request, next: Next) -> Response {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The request body is larger than {limit} bytes"),
        )
        .into_response()
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large();
    }
    // Nothing to read (a GET; a POST without a body): no buffer to copy into, no timer to set
    // and cancel.
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let read = async {
        let mut chunks = body.into_data_stream();
        let mut buffered = Vec::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|_| None)?;
            if buffered.len() + chunk.len() > limit {
                return Err(Some(too_large()));
            }
            buffered.extend_from_slice(&chunk);
        }
        Ok(buffered)
    };
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(Ok(body)) => next.run(Request::from_parts(parts, body.into())).await,
        Ok(Err(Some(refusal))) => refusal,
        Ok(Err(None)) => {
            ApiError::bad_request("The request body could not be read").into_response()
        }
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request body did not arrive in time",
        )
        .into_response(),
    }
}

/// An authenticated Management API caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Shared with the key set's memory of verified tokens: cloning a caller copies no claim.
    claims: Arc<AccessClaims>,
    remote_addr: Option<IpAddr>,
}

impl Caller {
    fn has(&self, scope: &str) -> bool {
        self.claims.scopes().any(|s| s == scope)
    }

    /// The client the token was issued to.
    pub(super) fn client_id(&self) -> &str {
        self.claims.client_id()
    }

    /// Refuses unless the token carries every scope in `needed`.
    pub(super) fn require_all(&self, needed: &[&str]) -> Result<(), ApiError> {
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
    pub(super) fn actor(&self) -> Actor {
        Actor {
            name: self.claims.client_id().to_owned(),
            remote_addr: self.remote_addr.map(|addr| addr.to_string()),
            rate_limited: true,
        }
    }
}

/// Verifies the bearer token against the keys held right now (the signing service's routes:
/// no request limit).
async fn authenticate_signer(state: AppState, mut request: Request, next: Next) -> Response {
    match caller(&state, &request) {
        Ok(caller) => request.extensions_mut().insert(caller),
        Err(error) => return error.into_response(),
    };
    next.run(request).await
}

/// The caller of a request: its verified bearer token and where it came from.
fn caller(state: &AppState, request: &Request) -> Result<Caller, ApiError> {
    let claims = bearer_claims(state, request)?;
    let remote_addr = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    Ok(Caller {
        claims,
        remote_addr,
    })
}

/// Verifies the bearer token against the keys held right now, applies the per-client request
/// limit, and reports the limit's headers on every response.
async fn authenticate(state: AppState, mut request: Request, next: Next) -> Response {
    let caller = match caller(&state, &request) {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let quota = match state
        .api
        .limiter
        .check(caller.client_id(), state.clock.now())
    {
        Ok(quota) => quota,
        Err(quota) => {
            return ApiError::too_many_requests(
                "Too many requests from this client; slow down",
                &quota,
            )
            .into_response();
        }
    };
    request.extensions_mut().insert(caller);
    let mut response = next.run(request).await;
    // A rotation-limit refusal carries its own figures; every other response gets the client's.
    if !response.headers().contains_key("x-ratelimit-limit") {
        response.headers_mut().extend(quota.headers());
    }
    response
}

fn bearer_claims(state: &AppState, request: &Request) -> Result<Arc<AccessClaims>, ApiError> {
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
    let now = state.clock.now();
    tokens::verify(&published.verifiers, state.keys.tenant_domain(), token, now).map_err(|error| {
        tracing::debug!(%error, "bearer token refused");
        match error {
            TokenError::Expired => {
                ApiError::invalid_token("Expired token received for JSON Web Token validation")
            }
            _ => ApiError::invalid_token("Invalid token"),
        }
    })
}

/// A signing key in the Management API's shape.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
    /// What the key signs, and its size (SPEC §13); beyond Auth0's object.
    alg: &'static str,
    key_size: u32,
}

impl From<&PublishedKey> for SigningKeyObject {
    fn from(key: &PublishedKey) -> Self {
        let view = key.view();
        Self {
            current: view.state == KeyState::Current,
            next: view.state == KeyState::Next,
            previous: view.state == KeyState::Previous,
            revoked: view.state == KeyState::Revoked,
            kid: view.kid,
            cert: key.public.cert_pem(),
            pkcs7: key.public.pkcs7_pem(),
            current_since: view.current_since,
            current_until: view.current_until,
            revoked_at: view.revoked_at,
            fingerprint: view.fingerprint,
            thumbprint: view.thumbprint,
            alg: view.alg.as_str(),
            key_size: view.key_size,
        }
    }
}

/// Keys per page when the list is paged (`per_page`), at most.
const MAX_PER_PAGE: usize = 100;

/// The list's optional paging, Auth0's `page` (from 0) and `per_page` (1 to 100).
#[derive(Debug, Default, serde::Deserialize)]
struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
}

/// A page of the list (`page`, `per_page`), or the whole list (`None`).
type ListPage = Option<(usize, usize)>;

fn list_page(raw: Option<&str>) -> Result<ListPage, ApiError> {
    let invalid = |message: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query_string",
            format!("Query validation error: {message}"),
        )
    };
    let query: ListQuery = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|_| invalid("malformed query string"))?;
    let page = query
        .page
        .map(|page| page.parse::<usize>())
        .transpose()
        .map_err(|_| invalid("page must be a whole number from 0"))?;
    let per_page = query
        .per_page
        .map(|size| {
            size.parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PER_PAGE).contains(n))
        })
        .map(|size| size.ok_or_else(|| invalid("per_page must be a whole number from 1 to 100")))
        .transpose()?;
    Ok(match (page, per_page) {
        (None, None) => None,
        (page, per_page) => Some((page.unwrap_or(0), per_page.unwrap_or(50))),
    })
}

/// List the signing keys
///
/// Valid keys (current, next, previous newest first), then the three most recent revoked keys.
/// With `page` or `per_page`, one page of that list (`per_page` defaults to 50); without, the
/// whole list, as Auth0 answers. Offered gzip- and brotli-compressed.
#[utoipa::path(get, path = "/api/v2/keys/signing", tag = "signing keys",
    params(("page" = Option<u32>, Query, description = "Page of the list, from 0"),
        ("per_page" = Option<u32>, Query, description = "Keys per page, 1 to 100")),
    security(("bearer" = ["read:signing_keys"])),
    responses((status = 200, description = "The keys", body = [SigningKeyObject]), (status = 400, description = "invalid_query_string", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody)))]
pub(super) async fn list_keys(
    state: AppState,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    caller.require_all(&[READ])?;
    let page = list_page(query.as_deref())?;
    let published = state.keys.published();
    let list = state
        .api
        .key_list
        .get_or_make(published.version, page, || list_body(&published, page))?;
    let (body, coding) = list.get(Coding::negotiate(&headers));
    Ok(encoded::answer(body, coding, "application/json"))
}

/// The body of `GET /keys/signing` (a page of it) for the key set it was built from. Every
/// caller gets the same list until the keys change, so it is serialised once per change, not
/// once per request (with a thousand previous keys it is megabytes of certificates).
pub type KeyListCache = PerVersion<ListPage, Encoded>;

fn list_body(published: &Published, page: ListPage) -> Result<Encoded, ApiError> {
    let keys = match page {
        None => &published.keys[..],
        Some((page, per_page)) => {
            let start = page.saturating_mul(per_page).min(published.keys.len());
            let end = start.saturating_add(per_page).min(published.keys.len());
            &published.keys[start..end]
        }
    };
    let objects: Vec<SigningKeyObject> = keys.iter().map(SigningKeyObject::from).collect();
    let body = serde_json::to_vec(&objects).map_err(|e| ApiError::internal(&e))?;
    Ok(Encoded::new(Bytes::from(body)))
}

/// Get one signing key (revoked ones too)
#[utoipa::path(get, path = "/api/v2/keys/signing/{kid}", tag = "signing keys",
    params(("kid" = String, Path, description = "The key id")),
    security(("bearer" = ["read:signing_keys"])),
    responses((status = 200, description = "The key", body = SigningKeyObject),
        (status = 400, description = "Not a key id", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody)))]
pub(super) async fn get_key(
    state: AppState,
    Extension(caller): Extension<Caller>,
    kid: Result<KidPath, ApiError>,
) -> Result<Json<SigningKeyObject>, ApiError> {
    caller.require_all(&[READ])?;
    let KidPath(kid) = kid?;
    Ok(Json((&state.keys.find(kid.as_str()).await?).into()))
}

/// Rotate the signing key
///
/// Refused (409 `next_key_too_new`) while relying parties may not have the next key yet, unless
/// `?force=true`.
#[utoipa::path(post, path = "/api/v2/keys/signing/rotate", tag = "signing keys",
    params(("force" = Option<bool>, Query, description = "Rotate even inside the publication window")),
    security(("bearer" = ["create:signing_keys", "update:signing_keys"])),
    responses((status = 201, description = "The new current key", body = SigningKeyObject),
        (status = 400, description = "A query other than force", body = ErrorBody), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody),
        (status = 409, description = "next_key_too_new (with Retry-After), or a concurrent change", body = ErrorBody),
        (status = 429, description = "The tenant's rotation limit", body = ErrorBody)))]
pub(super) async fn rotate_key(
    state: AppState,
    Extension(caller): Extension<Caller>,
    query: RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_all(&[CREATE, UPDATE])?;
    let force = policy::force_requested(query)?;
    let (actor, now) = (caller.actor(), state.clock.now());
    let rotated = if force {
        state.keys.force_rotate(&actor, now).await?
    } else {
        state.keys.rotate(&actor, now).await?
    };
    Ok((
        StatusCode::CREATED,
        Json(SigningKeyObject::from(&rotated.current)),
    ))
}

/// Revoke a previously used key
#[utoipa::path(put, path = "/api/v2/keys/signing/{kid}/revoke", tag = "signing keys",
    params(("kid" = String, Path, description = "The key id")),
    security(("bearer" = ["update:signing_keys"])),
    responses((status = 200, description = "The revoked key", body = SigningKeyObject),
        (status = 400, description = "invalid_key_state: not a previously used key", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody), (status = 404, description = "No such key", body = ErrorBody)))]
pub(super) async fn revoke_key(
    state: AppState,
    Extension(caller): Extension<Caller>,
    kid: Result<KidPath, ApiError>,
) -> Result<Json<SigningKeyObject>, ApiError> {
    caller.require_all(&[UPDATE])?;
    let KidPath(kid) = kid?;
    let revoked = state
        .keys
        .revoke(kid.as_str(), &caller.actor(), state.clock.now())
        .await?;
    Ok(Json((&revoked).into()))
}
