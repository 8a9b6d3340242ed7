//! `signet serve`: take the database's serve lock, start the services, and serve HTTP(S) until
//! a shutdown signal.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use anyhow::Context;
use app::routes::SIGNING_KEYS_PAGE;
use tokio::{net::TcpListener, task::JoinHandle};

use crate::{
    config::Config,
    http::{AppState, router, server, tenants::TenantRouters, tls},
    services::Services,
    startup,
    store::{DEFAULT_TENANT, SqlStore, TenantStore},
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
    let store = startup::connect_store(config).await?;
    let services =
        startup::start_default_tenant(config, &store, &startup::command_line_actor()).await?;
    startup::ensure_operator_password(config, &services.operator).await?;
    let tenant = services.keys.tenant_domain().to_owned();
    let served = Served::default();
    let default = served.start(config, services);
    let routers = TenantRouters::new(router(default.clone()));
    add_new_tenants(config, &store, &routers, &served).await?;
    let watcher = tokio::spawn({
        let (config, routers, served) = (config.clone(), routers.clone(), served.clone());
        async move {
            loop {
                tokio::time::sleep(TENANTS_INTERVAL).await;
                if let Err(error) = add_new_tenants(&config, &store, &routers, &served).await {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "cannot serve the new tenants yet"
                    );
                }
            }
        }
    });
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    tracing::info!(
        addr = %config.addr,
        tenant,
        tenants = routers.domains().len() + 1,
        site_root = %default.leptos.site_root,
        "Signet is serving; dashboard at {scheme}://{}{SIGNING_KEYS_PAGE}",
        config.addr
    );
    let stopping = served.clone();
    server::serve(listener, routers.into_router(), tls, async move {
        shutdown_signal().await;
        stopping.stop();
    })
    .await;
    watcher.abort();
    served.flush().await;
    Ok(())
}

/// How often a server looks for tenants created by other processes (the CLI, other servers).
const TENANTS_INTERVAL: Duration = Duration::from_secs(2);

/// Every tenant this server serves.
#[derive(Clone, Default)]
struct Served(Arc<Mutex<Vec<ServedTenant>>>);

/// A tenant being served: its domain, its state, and its ledger's flusher.
struct ServedTenant {
    domain: String,
    state: AppState,
    flusher: JoinHandle<()>,
}

impl Served {
    /// Starts a tenant's background work (watcher, spare keys, ledger flusher) and its state.
    fn start(&self, config: &Config, services: Services) -> AppState {
        services.keys.spawn_watcher(WATCH_INTERVAL);
        services.keys.spawn_spare_keys();
        let flusher = services.signing.spawn_flusher();
        let domain = services.keys.tenant_domain().to_owned();
        let state = AppState::new(
            services,
            startup::leptos_options(config),
            startup::api_settings(config),
        );
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ServedTenant {
                domain,
                state: state.clone(),
                flusher,
            });
        state
    }

    fn serves(&self, domain: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|served| served.domain.eq_ignore_ascii_case(domain))
    }

    /// Ends the long-lived responses of every tenant.
    fn stop(&self) {
        for served in self.0.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            served.state.stop();
        }
    }

    /// The last counts of every tenant's ledger; the reservations already bound every token.
    async fn flush(&self) {
        let states: Vec<_> = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|served| {
                served.flusher.abort();
                served.state.clone()
            })
            .collect();
        for state in states {
            if let Err(error) = state.signing.flush().await {
                tracing::warn!(%error, "the usage ledger's last counts could not be written");
            }
        }
    }
}

/// Starts serving every tenant of the database that is not served yet.
async fn add_new_tenants(
    config: &Config,
    store: &SqlStore,
    routers: &TenantRouters,
    served: &Served,
) -> anyhow::Result<()> {
    for tenant in store.list_tenants().await? {
        if tenant.id == DEFAULT_TENANT || served.serves(&tenant.domain) {
            continue;
        }
        let services =
            startup::start_tenant_services(config, store, &tenant, &startup::command_line_actor())
                .await?;
        let state = served.start(config, services);
        routers.insert(&tenant.domain, router(state));
        tracing::info!(tenant = tenant.domain, "serving a tenant");
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
