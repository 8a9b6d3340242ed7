//! The machine's ceiling for `bench/run.sh`: a bare axum server on the same HTTP stack as Signet
//! (axum, hyper, tokio's multi-threaded runtime) whose one route answers `GET /` with "hello".
//!
//!   HELLO_ADDR=127.0.0.1:39519 cargo run --release -p server --example hello

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("HELLO_ADDR").unwrap_or_else(|_| "127.0.0.1:39519".to_owned());
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}
