//! Defence-in-depth response headers on every answer, and the per-response CSP nonce that lets
//! the dashboard's hydration scripts (and nothing injected) run.
//!
//! A page's Content-Security-Policy names a fresh nonce; the same nonce reaches Leptos through
//! the request's extensions ([`provide_page_nonce`]), so `<HydrationScripts>` stamps it on the
//! inline module script. Everything else the page loads comes from `/pkg` on Signet's own origin.

use std::sync::Arc;

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue, header},
    response::Response,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;

/// The nonce of one page response, carried from the middleware to the page's renderer.
#[derive(Debug, Clone)]
pub struct CspNonce(Arc<str>);

impl CspNonce {
    /// 128 random bits: unguessable, so an injected `<script>` cannot carry it.
    fn fresh() -> Self {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes).into())
    }
}

/// What any non-page answer may do in a browser: nothing (JSON, certificates, redirects).
const NON_PAGE_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// A page's policy: its own scripts only (the WASM and JS under `/pkg`, and inline scripts that
/// carry this response's nonce); `wasm-unsafe-eval` lets the browser compile the WASM, which is
/// not `eval` of text. The page has no inline styles, so none are allowed.
fn page_csp(nonce: &CspNonce) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        nonce.0
    )
}

/// Answers that carry tokens, keys or per-caller state: never kept by a browser or a proxy.
fn never_cached(path: &str) -> bool {
    path.starts_with("/api/") || path == "/oauth/token" || app::routes::is_server_fn(path)
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// Paths whose answers are never a page: no CSP nonce is made for them (a random value and an
/// allocation per request on the hottest paths).
fn never_a_page(path: &str) -> bool {
    path.starts_with("/api/")
        || matches!(
            path,
            "/.well-known/jwks.json"
                | "/.well-known/openid-configuration"
                | "/oauth/token"
                | "/healthz"
                | "/readyz"
        )
}

/// What a request's answer will carry, decided from the request before it is handled: the
/// page's CSP nonce (put into the request for the page to use), whether it must not be stored,
/// and whether it came over HTTPS.
#[derive(Debug)]
pub struct SecurityHeaders {
    nonce: Option<CspNonce>,
    no_store: bool,
    https: bool,
}

impl SecurityHeaders {
    pub fn for_request(request: &mut Request) -> Self {
        let path = request.uri().path();
        let no_store = never_cached(path);
        let nonce = (!never_a_page(path)).then(CspNonce::fresh);
        // Over HTTPS (built in, or a proxy in front that says so), browsers should never try
        // plain HTTP again; over plain HTTP the header would be ignored anyway, so it is left out.
        let https = request
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
        if let Some(nonce) = &nonce {
            request.extensions_mut().insert(nonce.clone());
        }
        Self {
            nonce,
            no_store,
            https,
        }
    }

    /// Sets the headers on the answer.
    pub fn apply(self, response: &mut Response) {
        let csp = match &self.nonce {
            Some(nonce) if is_html(response.headers()) => {
                HeaderValue::from_str(&page_csp(nonce)).ok()
            }
            _ => Some(HeaderValue::from_static(NON_PAGE_CSP)),
        };
        let headers = response.headers_mut();
        if let Some(csp) = csp {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        // Not `no-referrer`: under it browsers send `Origin: null` with same-origin form posts,
        // and the dashboard's cross-site check (which works without JavaScript) would refuse them.
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        if self.https {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            );
        }
        headers.insert(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
        if self.no_store {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
}

/// Gives the page being rendered the nonce its CSP names (Leptos would otherwise make its own).
/// Called in the Leptos context of every page and server function.
pub fn provide_page_nonce() {
    let nonce = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(nonce)) = nonce {
        leptos::prelude::provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_page_gets_its_own_nonce_in_its_policy() {
        let (a, b) = (CspNonce::fresh(), CspNonce::fresh());
        assert_ne!(a.0, b.0);
        assert_eq!(a.0.len(), 22, "128 bits in unpadded base64url");
        let policy = page_csp(&a);
        assert!(policy.contains(&format!("'nonce-{}'", a.0)));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-inline"));
    }
}
