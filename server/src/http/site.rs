//! The site's files: the hydrate WASM, its JS, the style sheet and the icon, from the site root
//! that `cargo leptos build` wrote; the not-found page for any other path.
//!
//! - **Compressed.** `make build` writes a brotli (`.br`) and a gzip (`.gz`) copy beside every
//!   file, and the one the request accepts is sent: the Signing Keys page's WASM crosses the
//!   network as about 265 KB of brotli instead of 874 KB.
//! - **Revalidated, never stale.** The files keep their names from one build to the next, so a
//!   browser must not reuse one it has without asking: a WASM of the last version beside a page
//!   of this one cannot hydrate it. Every file says `Cache-Control: no-cache`, and the file
//!   server is given the browser's own request, `If-Modified-Since` included, so asking costs a
//!   304 and no body. (Leptos's `file_and_error_handler` passed on only the path and
//!   `Accept-Encoding`: every visit downloaded the WASM again once the browser's heuristic
//!   freshness ran out. Its parts, `site_pkg_dir_service` and `ErrorHandler`, are composed here
//!   instead, so a missing file is looked up once, not twice.)
//! - **Cacheable by encoding.** Every file says `Vary: Accept-Encoding`, so a cache in between
//!   never hands a brotli body to a client that did not ask for it.

use std::convert::Infallible;

use axum::{
    body::Body,
    http::{HeaderValue, Request, Response, StatusCode, header},
    response::IntoResponse,
};
use leptos::prelude::LeptosOptions;
use leptos_axum::{ErrorHandler, site_pkg_dir_service};
use tower::{Service, ServiceExt};

use super::security_headers;

/// The router's fallback service: a file under the site root (GET and HEAD), else the
/// dashboard's not-found page.
pub fn files(
    options: &LeptosOptions,
) -> impl Service<
    Request<Body>,
    Response = impl IntoResponse,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    let not_found = ErrorHandler::new_with_context(
        security_headers::provide_page_nonce,
        app::shell,
        options.clone(),
    );
    let files = site_pkg_dir_service(options)
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found);
    ServiceExt::<Request<Body>>::map_response(files, revalidated_by_encoding)
}

/// A file's headers: revalidate before every reuse, and one copy per `Accept-Encoding`.
fn revalidated_by_encoding<B>(mut response: Response<B>) -> Response<B> {
    if matches!(
        response.status(),
        StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
    ) {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}
