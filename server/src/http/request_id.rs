//! A request id for every request (SPEC §14): taken from the caller's `X-Request-Id` when it is
//! a plain token, made up otherwise; echoed in the response's `X-Request-Id`, named by every log
//! line written while the request is handled ([`super::log_line`]), and written into the body of
//! every 5xx answer (whose cause is only in the log; a 4xx body keeps Auth0's exact shape and says
//! itself what was wrong), so an operator can go from a failed request to its log line.

use std::sync::Arc;

use axum::{
    extract::Request,
    http::{HeaderName, Method, Uri},
};
use rand::RngCore;

/// The header both ways.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id accepted from a caller.
const MAX_LEN: usize = 64;

/// The request being handled, as its log lines name it.
#[derive(Debug)]
pub struct RequestContext {
    pub id: Arc<str>,
    pub method: Method,
    /// Path and query as the caller sent them (cloning a `Uri` shares its bytes).
    pub uri: Uri,
}

impl RequestContext {
    /// The path and query, or just the path.
    pub fn path_and_query(&self) -> &str {
        self.uri
            .path_and_query()
            .map_or(self.uri.path(), |p| p.as_str())
    }
}

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// The id of the request being handled, for an error body; `None` outside a request.
pub fn current() -> Option<Arc<str>> {
    REQUEST.try_with(|request| Arc::clone(&request.id)).ok()
}

/// Calls `f` with the request being handled, if any (a task-local: a task spawned by the
/// handler is outside it, as it was outside a span).
pub fn with_current<R>(mut f: impl FnMut(Option<&RequestContext>) -> R) -> R {
    match REQUEST.try_with(|request| f(Some(request))) {
        Ok(answer) => answer,
        Err(_) => f(None),
    }
}

/// The caller's id when it is 1 to 64 letters, digits, `-`, `_`, `.` or `:` (anything else
/// could forge or garble a log line); a new random one otherwise.
pub(super) fn id_of(request: &Request) -> Arc<str> {
    request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(new_id, Arc::from)
}

/// 128 random bits as 32 hex digits (by table: every request makes one, and 16 `write!`s were
/// 2 % of a Management API request's CPU).
fn new_id() -> Arc<str> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut id = [0u8; 32];
    for (digits, byte) in id.chunks_exact_mut(2).zip(bytes) {
        digits.copy_from_slice(&[
            DIGITS[usize::from(byte >> 4)],
            DIGITS[usize::from(byte & 0x0f)],
        ]);
    }
    // Hex digits are ASCII, so this never falls back.
    Arc::from(std::str::from_utf8(&id).unwrap_or_default())
}

/// Runs `handling` as `request` (what [`current`] and [`with_current`] see inside it).
pub async fn scope<F: Future>(request: RequestContext, handling: F) -> F::Output {
    REQUEST.scope(request, handling).await
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with_header(value: &str) -> Request {
        Request::builder()
            .header(X_REQUEST_ID, value)
            .body(axum::body::Body::empty())
            .unwrap()
    }

    #[test]
    fn a_plain_caller_id_is_kept_and_anything_else_replaced() {
        assert_eq!(&*id_of(&with_header("lb-7f3a.42:x_1")), "lb-7f3a.42:x_1");
        for odd in ["", "two words", "a\"b", &"x".repeat(65), "ünï"] {
            let id = id_of(&with_header(odd));
            assert_eq!(id.len(), 32, "{odd:?}");
            assert!(id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        }
        assert_ne!(new_id(), new_id());
    }
}
