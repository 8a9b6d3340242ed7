//! The site's files: the hydrate WASM, its JS, the style sheet and the icon, from the site root
//! that `cargo leptos build` wrote; the not-found page for any other path.
//!
//! - **Compressed.** `make build` writes a brotli (`.br`) and a gzip (`.gz`) copy beside every
//!   file, and the one the request accepts is sent: the WASM crosses the network as about 324 KB
//!   of brotli instead of 1.15 MB.
//! - **Revalidated, never stale.** The files keep their names from one build to the next, so a
//!   browser must not reuse one it has without asking: a WASM of the last version beside a page
//!   of this one cannot hydrate it. Every file says `Cache-Control: no-cache`, and the file
//!   server is given the browser's own request, `If-Modified-Since` included, so asking costs a
//!   304 and no body. (Leptos's own handler passed on only the path and `Accept-Encoding`: every
//!   visit downloaded the WASM again once the browser's heuristic freshness ran out.)
//! - **Cacheable by encoding.** Every file says `Vary: Accept-Encoding`, so a cache in between
//!   never hands a brotli body to a client that did not ask for it.

use std::convert::Infallible;

use axum::{
    body::Body,
    handler::HandlerWithoutStateExt as _,
    http::{HeaderValue, Request, Response, StatusCode, header},
};
use leptos::prelude::LeptosOptions;
use tower::{Service, ServiceExt};
use tower_http::services::{ServeDir, fs::ServeFileSystemResponseBody};

use super::security_headers;

/// The router's fallback service: a file under the site root, else the dashboard's not-found
/// page (any method other than GET and HEAD goes to Leptos's handler, as before).
pub fn files(
    options: &LeptosOptions,
) -> impl Service<
    Request<Body>,
    Response = Response<ServeFileSystemResponseBody>,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    let not_found = leptos_axum::file_and_error_handler_with_context::<LeptosOptions, _>(
        security_headers::provide_page_nonce,
        app::shell,
    );
    let not_found = {
        let options = options.clone();
        move |request: Request<Body>| {
            not_found(
                request.uri().clone(),
                axum::extract::State(options.clone()),
                request,
            )
        }
    };
    let files = ServeDir::new(&*options.site_root)
        .precompressed_br()
        .precompressed_gzip()
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found.into_service());
    ServiceExt::<Request<Body>>::map_response(files, revalidated_by_encoding)
}

/// A file's headers: revalidate before every reuse, and one copy per `Accept-Encoding`.
fn revalidated_by_encoding(
    mut response: Response<ServeFileSystemResponseBody>,
) -> Response<ServeFileSystemResponseBody> {
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
