//! The machine's ceiling for `bench/run.sh`: a bare axum server on the same HTTP stack as Signet
//! (axum, hyper, tokio's multi-threaded runtime) whose route `GET /` answers "hello", and, when
//! `HELLO_BODY_FILE` names a file, whose route `GET /body` answers that file's bytes as JSON:
//! the ceiling for a response as large as Signet's JWKS, without anything Signet does.
//!
//!   HELLO_ADDR=127.0.0.1:39519 cargo run --release -p server --example hello

use axum::{body::Bytes, http::header, routing::get};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("HELLO_ADDR").unwrap_or_else(|_| "127.0.0.1:39519".to_owned());
    let body = match std::env::var("HELLO_BODY_FILE") {
        Ok(path) => Bytes::from(std::fs::read(path)?),
        Err(_) => Bytes::new(),
    };
    let app = axum::Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/body",
            get(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}
