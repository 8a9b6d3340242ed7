//! Public endpoints: the JWKS, OpenID discovery, and certificate downloads.

use std::convert::Infallible;

use axum::{
    Json, Router,
    extract::Query,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;

use super::{
    AppState,
    api_error::ApiError,
    encoded::{self, Coding, Encoded},
};
use crate::{domain::schedule::cache_lifetimes, services::published::PublishedKey};

/// Caches may keep the JWKS briefly, and serve a stale copy for a day if Signet is unreachable.
const JWKS_CACHE_CONTROL: &str =
    "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400";
/// The `max-age` and `stale-while-revalidate` of [`JWKS_CACHE_CONTROL`].
const JWKS_MAX_AGE: i64 = 15;
const JWKS_STALE_WHILE_REVALIDATE: i64 = 15;

/// The JWKS `Cache-Control` at `now`: shortened as a scheduled change of the key set
/// approaches, so no cache holds the key set past the moment it changes.
fn jwks_cache_control(state: &AppState) -> HeaderValue {
    let Some(change_at) = state.keys.next_change() else {
        return HeaderValue::from_static(JWKS_CACHE_CONTROL);
    };
    let (max_age, stale) = cache_lifetimes(
        JWKS_MAX_AGE,
        JWKS_STALE_WHILE_REVALIDATE,
        Some(change_at),
        state.clock.now(),
    );
    if (max_age, stale) == (JWKS_MAX_AGE, JWKS_STALE_WHILE_REVALIDATE) {
        return HeaderValue::from_static(JWKS_CACHE_CONTROL);
    }
    HeaderValue::from_str(&format!(
        "public, max-age={max_age}, stale-while-revalidate={stale}, stale-if-error=86400"
    ))
    .unwrap_or(HeaderValue::from_static("no-cache"))
}

pub fn routes() -> Router {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/pem", get(|s, q| download(s, q, Format::Pem)))
        .route("/rawpem", get(|s, q| download(s, q, Format::RawPem)))
        .route("/cer", get(|s, q| download(s, q, Format::Cer)))
        .route("/pb7", get(|s, q| download(s, q, Format::Pkcs7)))
        .route(
            "/fingerprint",
            get(|s, q| download(s, q, Format::Fingerprint)),
        )
}

/// Whether an `If-None-Match` header matches `etag` (a list, or `*`).
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| {
            candidate == "*" || candidate == etag || candidate.strip_prefix("W/") == Some(etag)
        })
}

async fn jwks(state: AppState, headers: HeaderMap) -> Response {
    let published = state.keys.published();
    let document = state
        .api
        .jwks
        .get_or_make(published.version, (), || {
            Ok::<_, Infallible>(Encoded::with_etag(published.jwks(), &published.etag))
        })
        .unwrap_or_else(|never| match never {});
    let (body, coding) = document.get(Coding::negotiate(&headers));
    let etag = document
        .etag(coding)
        .cloned()
        .unwrap_or(HeaderValue::from_static("\"\""));
    let not_modified = etag.to_str().is_ok_and(|etag| matches_etag(&headers, etag));
    let mut response = if not_modified {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        response
    } else {
        encoded::answer(body, coding, "application/json; charset=utf-8")
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, jwks_cache_control(&state));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(header::ETAG, etag);
    response
}

async fn openid_configuration(state: AppState) -> Response {
    let issuer = crate::services::tokens::issuer(state.keys.tenant_domain());
    // The algorithms of the keys a token may be signed with now, current first.
    let published = state.keys.published();
    let mut algs: Vec<&str> = Vec::new();
    for key in published.keys.iter().filter(|k| k.record.state.is_valid()) {
        if !algs.contains(&key.public.alg.as_str()) {
            algs.push(key.public.alg.as_str());
        }
    }
    (
        [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")],
        Json(serde_json::json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}.well-known/jwks.json"),
            "token_endpoint": format!("{issuer}oauth/token"),
            "id_token_signing_alg_values_supported": algs,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        })),
    )
        .into_response()
}

/// The certificate encodings offered for download.
#[derive(Debug, Clone, Copy)]
pub(super) enum Format {
    Pem,
    RawPem,
    Cer,
    Pkcs7,
    Fingerprint,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Pem => "application/x-pem-file",
            Format::RawPem | Format::Fingerprint => "text/plain; charset=utf-8",
            Format::Cer => "application/pkix-cert",
            Format::Pkcs7 => "application/x-pkcs7-certificates",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Pem => "pem",
            Format::RawPem => "rawpem",
            Format::Cer => "cer",
            Format::Pkcs7 => "pb7",
            Format::Fingerprint => "fingerprint.txt",
        }
    }

    fn body(self, key: &PublishedKey) -> Vec<u8> {
        let public = &key.public;
        match self {
            Format::Pem => public.cert_pem().into_bytes(),
            Format::RawPem => public.raw_pem().into_bytes(),
            Format::Cer => public.cert_der.clone(),
            Format::Pkcs7 => public.pkcs7_pem().into_bytes(),
            Format::Fingerprint => public.fingerprint.clone().into_bytes(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct DownloadQuery {
    /// A valid key other than the current one.
    kid: Option<String>,
}

async fn download(
    state: AppState,
    query: Result<Query<DownloadQuery>, axum::extract::rejection::QueryRejection>,
    format: Format,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| ApiError::bad_request("Malformed query string"))?;
    let published = state.keys.published();
    let key = match &query.kid {
        // Revoked keys are not offered: their certificates must not be trusted again.
        Some(kid) => published
            .find(kid)
            .filter(|k| k.record.state.is_valid())
            .ok_or_else(ApiError::key_not_found)?,
        None => published
            .current()
            .ok_or_else(|| ApiError::internal(&"no current signing key is published"))?,
    };
    Ok(attachment(&state, key, format))
}

/// `key`'s certificate in `format`, as a file download named `<tenant>-<kid>.<ext>`.
pub(super) fn attachment(state: &AppState, key: &PublishedKey, format: Format) -> Response {
    let filename = format!(
        "{}-{}.{}",
        state.keys.tenant_domain(),
        key.record.kid,
        format.extension()
    );
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".to_owned()),
        ],
        format.body(key),
    )
        .into_response()
}
