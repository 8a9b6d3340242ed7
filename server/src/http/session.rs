//! The dashboard's guard: pages and server functions need an operator session, and server
//! function posts must come from Signet's own pages. Also the session cookie's format.

use app::{
    error::DashboardError,
    routes::{LOGIN_PAGE, SIGN_IN_FN, is_server_fn, is_tenant_page},
};
use axum::{
    extract::Request,
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

use super::AppState;
use crate::services::operator::SESSION_IDLE;

/// Server functions anyone may call: signing in needs no session.
const PUBLIC_SERVER_FNS: [&str; 1] = [SIGN_IN_FN];

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "signet_session";

/// A cross-site request: its `Origin` is another site, or the browser says it is.
fn is_cross_site(request: &Request) -> bool {
    let headers = request.headers();
    // HTTP/1.1 names the site in `Host`; HTTP/2 (browsers over HTTPS) in the `:authority`
    // pseudo-header, which arrives as the URI's authority.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    let origin_mismatch = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|origin| {
            let origin_host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            origin_host != host
        });
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site" || site == "same-site");
    origin_mismatch || fetch_site
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        message.to_owned(),
    )
        .into_response()
}

/// Lets a request through only when its session (if it needs one) is live.
pub async fn guard(state: AppState, request: Request, next: Next) -> Response {
    // Decided on the borrowed path: the JWKS and API hot paths pass through without allocating.
    let path = request.uri().path();
    let (page, server_fn) = (is_tenant_page(path), is_server_fn(path));
    if !page && !server_fn {
        return next.run(request).await;
    }
    if server_fn && request.method() == Method::POST && is_cross_site(&request) {
        return refuse(StatusCode::FORBIDDEN, "Cross-site requests are refused.");
    }
    if server_fn && PUBLIC_SERVER_FNS.contains(&path) {
        return framework_errors_are_bad_requests(next.run(request).await);
    }
    let session = request
        .headers()
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(session_from_cookies);
    let live = match session {
        Some(id) => state.operator.check(id, state.clock.now()).await,
        None => Ok(false),
    };
    let plain_form = accepts_html(request.headers());
    match live {
        Ok(true) => {
            let mut response = next.run(request).await;
            if server_fn {
                response = framework_errors_are_bad_requests(response);
            }
            // Authenticated pages are never cached by browsers or proxies.
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            response
        }
        Ok(false) if page => Redirect::to(LOGIN_PAGE).into_response(),
        // A form posted without JavaScript: back to the sign-in page, which says why.
        Ok(false) if plain_form => {
            Redirect::to(&format!("{LOGIN_PAGE}?failed=signed_out")).into_response()
        }
        Ok(false) => server_fn_error(&DashboardError::SignedOut),
        Err(error) => {
            tracing::warn!(%error, "cannot check the operator session");
            if page {
                refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Signet cannot reach its database. Try again in a moment.",
                )
            } else {
                server_fn_error(&DashboardError::Unavailable)
            }
        }
    }
}

/// Signet's own server-function errors carry their status (never 500); a 500 from a server
/// function is the framework refusing the request itself (arguments that do not decode, sent
/// as `DashboardError::Transport`): the caller's fault, so a 400.
fn framework_errors_are_bad_requests(mut response: Response) -> Response {
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// The browser asked for a page: a navigation or a plain form post.
fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// A refusal in the server functions' own error encoding, so the page shows it in words.
fn server_fn_error(error: &DashboardError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = serde_json::to_string(error).unwrap_or_default();
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_TYPE, "application/json"),
        ],
        body,
    )
        .into_response()
}

/// The `Set-Cookie` value for a session id (`None` clears the cookie).
pub fn session_cookie(session_id: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match session_id {
        Some(id) => format!(
            "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
            SESSION_IDLE.as_secs()
        ),
        None => format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
    }
}

/// The session id in a `Cookie` header, if any.
pub fn session_from_cookies(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty() && value.len() <= 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_strict_and_parse_back() {
        let cookie = session_cookie(Some("abc"), true);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(cookie.ends_with("; Secure"));
        assert!(!session_cookie(Some("abc"), false).contains("Secure"));
        assert_eq!(
            session_from_cookies("a=1; signet_session=xyz; b=2"),
            Some("xyz")
        );
        assert_eq!(session_from_cookies("signet_session="), None);
        assert_eq!(session_from_cookies("other=1"), None);
    }
}
