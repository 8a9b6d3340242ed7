//! `signet serve`: take the database's serve lock, start the services, and serve HTTP(S) until
//! a shutdown signal.

use std::time::Duration;

use anyhow::Context;
use app::routes::SIGNING_KEYS_PAGE;
use tokio::net::TcpListener;

use crate::{
    config::Config,
    http::{AppState, router, server, tls},
    startup,
};

/// How often a server looks for changes made by other processes (CLI, other servers).
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// Runs the server until SIGINT or SIGTERM, then lets requests in flight finish.
pub async fn serve(config: &Config) -> anyhow::Result<()> {
    // A bad certificate stops Signet before it opens anything, rather than half-started.
    let tls = match &config.tls {
        Some(files) => Some(tls::acceptor(&files.cert, &files.key)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let _lock = startup::lock_embedded_database(config)?;
    let services = startup::start_services(config, &startup::command_line_actor()).await?;
    startup::ensure_operator_password(config, &services.operator).await?;
    services.keys.spawn_watcher(WATCH_INTERVAL);
    services.keys.spawn_spare_keys();
    let signing = services.signing.clone();
    let flusher = signing.spawn_flusher();
    let tenant = services.keys.tenant_domain().to_owned();
    let state = AppState::new(
        services,
        startup::leptos_options(config),
        startup::api_settings(config),
    );
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    tracing::info!(
        addr = %config.addr,
        tenant,
        site_root = %state.leptos.site_root,
        "Signet is serving; dashboard at {scheme}://{}{SIGNING_KEYS_PAGE}",
        config.addr
    );
    let stopping = state.clone();
    server::serve(listener, router(state), tls, async move {
        shutdown_signal().await;
        stopping.stop();
    })
    .await;
    // The last counts reach the ledger; the reservations already bound every token signed.
    flusher.abort();
    if let Err(error) = signing.flush().await {
        tracing::warn!(%error, "the usage ledger's last counts could not be written");
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
    tracing::info!("shutting down");
}
