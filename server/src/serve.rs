//! `signet serve`: take the database's serve lock, start the services, and serve HTTP(S) until
//! a shutdown signal.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use anyhow::Context;
use app::{error::DashboardError, routes::SIGNING_KEYS_PAGE, tenants::TenantSummary};
use futures_util::StreamExt;
use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;

use crate::{
    config::Config,
    domain::Actor,
    http::{AppState, app, metrics, server, tenants::TenantRouters, tls},
    services::{
        ServiceError, Services, published::iso, signing::SigningService, spare_keys::Refill,
    },
    startup::{self, Deployment},
    store::{DEFAULT_TENANT, StoreError, TenantRecord, TenantStore, TenantVersion},
};

/// How often a server looks for changes made by other processes (CLI, other servers): new and
/// deleted tenants and changed key sets, for every tenant in one query.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// How often every tenant's rotation schedule is looked at: a due rotation or revocation
/// happens within this of its time.
const SCHEDULE_INTERVAL: Duration = Duration::from_secs(1);

/// Runs the server until SIGINT or SIGTERM, then lets requests in flight finish.
pub async fn serve(config: &Config) -> anyhow::Result<()> {
    // A bad certificate stops Signet before it opens anything, rather than half-started.
    let tls = match &config.tls {
        Some(files) => Some(tls::acceptor(&files.cert, &files.key)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let _lock = startup::lock_embedded_database(config)?;
    let started = std::time::Instant::now();
    let deployment = Deployment::open(config, Refill::InTheBackground).await?;
    let services = deployment
        .start_default(&startup::command_line_actor())
        .await?;
    startup::ensure_operator_password(config, &services.operator).await?;
    let served = Served::new(config);
    let routers = TenantRouters::new(
        app(startup::leptos_options(config), config.metrics.enabled()),
        &deployment.default_tenant.domain,
        &config.trusted_proxies,
    );
    let directory = Directory {
        deployment: deployment.clone(),
        served: served.clone(),
        routers: routers.clone(),
    };
    let default = directory.start(&deployment.default_tenant, services);
    routers.set_default(default.clone());
    let mut follower = Follower {
        directory,
        failing: false,
    };
    follower.look().await?;
    deployment.spare_keys.spawn_refill();
    let flusher = SigningService::spawn_flusher_of({
        let served = served.clone();
        move || served.signing_services()
    });
    let scheduler = served.spawn_scheduler();
    let watcher = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(WATCH_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            // Failures are logged by the follower, when they start and when they end.
            let _ = follower.look().await;
        }
    });
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    tracing::info!(
        addr = %config.addr,
        tenant = deployment.default_tenant.domain,
        tenants = routers.domains().len() + 1,
        start_ms = started.elapsed().as_millis(),
        site_root = %default.leptos.site_root,
        "Signet is serving; dashboard at {scheme}://{}{SIGNING_KEYS_PAGE}",
        config.addr
    );
    let scrape = metrics_scrape(&deployment, &served, config);
    let (router, metrics_server) = with_metrics(routers.into_router(), scrape, config).await?;
    let stopping = served.clone();
    server::serve(listener, router, tls, async move {
        shutdown_signal().await;
        stopping.stop();
    })
    .await;
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    watcher.abort();
    scheduler.abort();
    flusher.abort();
    served.flush().await;
    // No thread may still be making a key pair while the process exits.
    let spares = deployment.spare_keys.clone();
    tokio::task::spawn_blocking(move || spares.close()).await?;
    Ok(())
}

/// What `GET /metrics` reads: every tenant served at the moment of the scrape.
fn metrics_scrape(deployment: &Deployment, served: &Served, config: &Config) -> metrics::Scrape {
    let served = served.clone();
    metrics::Scrape {
        metrics: deployment.metrics.clone(),
        tenants: Arc::new(move || {
            let tenants = served.tenants();
            tenants
                .values()
                .map(|tenant| tenant.state.keys.clone())
                .collect()
        }),
        spares: deployment.spare_keys.clone(),
        health: deployment.health.clone(),
        clock: Arc::clone(&deployment.clock),
        token: config
            .metrics
            .token
            .as_ref()
            .map(|token| zeroize::Zeroizing::new(token.expose().to_owned())),
    }
}

/// `router`, and `GET /metrics` where the configuration puts it: a listener of its own (never
/// the main port then), the main port behind the bearer token, or nowhere.
async fn with_metrics(
    router: axum::Router,
    scrape: metrics::Scrape,
    config: &Config,
) -> anyhow::Result<(axum::Router, Option<tokio::task::JoinHandle<()>>)> {
    Ok(match config.metrics.addr {
        Some(addr) => {
            let apart = metrics::listen_apart(addr, scrape).await;
            let apart =
                apart.with_context(|| format!("cannot listen on {addr} for the metrics"))?;
            (router, Some(apart))
        }
        None if config.metrics.token.is_some() => (router.merge(metrics::router(scrape)), None),
        None => (router, None),
    })
}

/// How many tenants the follower starts or reloads at once.
const FOLLOW_CONCURRENCY: usize = 8;

/// Every tenant this server serves, by tenant id.
#[derive(Clone)]
struct Served {
    tenants: Arc<Mutex<HashMap<String, ServedTenant>>>,
    leptos: LeptosOptions,
    config: Arc<Config>,
}

/// A tenant being served: what the database says of it, and its state.
struct ServedTenant {
    record: TenantRecord,
    state: AppState,
}

impl Served {
    fn new(config: &Config) -> Self {
        Self {
            tenants: Arc::default(),
            leptos: startup::leptos_options(config),
            config: Arc::new(config.clone()),
        }
    }

    fn tenants(&self) -> MutexGuard<'_, HashMap<String, ServedTenant>> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves a tenant's state, whose dashboard knows `tenants`; the process's one flusher
    /// writes its ledger's counts with every other tenant's.
    fn start(
        &self,
        tenant: &TenantRecord,
        services: Services,
        tenants: app::service::SharedTenants,
    ) -> AppState {
        let state = AppState::serving(
            services,
            self.leptos.clone(),
            startup::api_settings(&self.config),
            tenants,
        );
        self.tenants().insert(
            tenant.id.clone(),
            ServedTenant {
                record: tenant.clone(),
                state: state.clone(),
            },
        );
        state
    }

    fn state(&self, id: &str) -> Option<AppState> {
        self.tenants().get(id).map(|served| served.state.clone())
    }

    /// Stops serving the tenants not in `live` (the default tenant is always served).
    fn remove_all_but(&self, live: &[TenantVersion]) -> Vec<ServedTenant> {
        let mut tenants = self.tenants();
        let gone: Vec<String> = tenants
            .keys()
            .filter(|id| *id != DEFAULT_TENANT && !live.iter().any(|t| &t.tenant.id == *id))
            .cloned()
            .collect();
        gone.iter().filter_map(|id| tenants.remove(id)).collect()
    }

    /// Ends the long-lived responses of every tenant.
    fn stop(&self) {
        for served in self.tenants().values() {
            served.state.stop();
        }
    }

    /// Every tenant's signing service, for the process's ledger flusher.
    fn signing_services(&self) -> Vec<SigningService> {
        self.tenants()
            .values()
            .map(|served| served.state.signing.clone())
            .collect()
    }

    /// Ticks every tenant's schedule every [`SCHEDULE_INTERVAL`], the first tick at once: what
    /// came due while every process was down happens now.
    fn spawn_scheduler(&self) -> tokio::task::JoinHandle<()> {
        let served = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(SCHEDULE_INTERVAL);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                served.run_schedules().await;
            }
        })
    }

    /// Does what every tenant's schedule has due, a few tenants at a time.
    async fn run_schedules(&self) {
        let states: Vec<AppState> = self
            .tenants()
            .values()
            .map(|served| served.state.clone())
            .collect();
        futures_util::stream::iter(states)
            .for_each_concurrent(FOLLOW_CONCURRENCY, |state| async move {
                let now = state.clock.now();
                if let Err(error) = state.schedule.tick(now).await {
                    let tenant = state.keys.tenant_domain();
                    if error.is_unavailable() {
                        tracing::debug!(tenant, %error, "the schedule waits for the database");
                    } else {
                        tracing::warn!(tenant, %error, "the schedule could not run");
                    }
                }
            })
            .await;
    }

    /// The last counts of every tenant's ledger; the reservations already bound every token.
    async fn flush(&self) {
        if let Err(error) = SigningService::flush_together(&self.signing_services()).await {
            tracing::warn!(%error, "the usage ledger's last counts could not be written");
        }
    }
}

/// The tenants this server serves, as the dashboard lists and creates them.
#[derive(Clone)]
struct Directory {
    deployment: Deployment,
    served: Served,
    routers: TenantRouters,
}

impl Directory {
    /// A tenant's state, with a dashboard that lists and creates every tenant.
    fn start(&self, tenant: &TenantRecord, services: Services) -> AppState {
        self.served.start(tenant, services, Arc::new(self.clone()))
    }

    /// Serves `tenant` from now on, unless it is served already.
    fn serve(&self, tenant: &TenantRecord, services: Services) {
        if self.served.state(&tenant.id).is_some() {
            return;
        }
        let state = self.start(tenant, services);
        self.routers.insert(&tenant.domain, state);
        tracing::debug!(tenant = tenant.domain, "serving a tenant");
    }

    fn summary(&self, tenant: &TenantRecord) -> TenantSummary {
        TenantSummary {
            domain: tenant.domain.clone(),
            created_at: iso(tenant.created_at),
            is_default: tenant.id == DEFAULT_TENANT,
        }
    }
}

#[async_trait::async_trait]
impl app::service::Tenants for Directory {
    /// The tenants this server serves, oldest first, as the database listed them: read from
    /// memory, not the database, on every signed-in page (a tenant created or deleted by another
    /// process shows once the follower has picked it up, within half a second).
    async fn list_tenants(&self) -> Result<Vec<TenantSummary>, DashboardError> {
        let mut tenants: Vec<TenantRecord> = self
            .served
            .tenants()
            .values()
            .map(|served| served.record.clone())
            .collect();
        tenants.sort_unstable_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(tenants.iter().map(|tenant| self.summary(tenant)).collect())
    }

    async fn create_tenant(
        &self,
        domain: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<TenantSummary, DashboardError> {
        let actor = Actor::operator(from);
        match self.deployment.create_tenant(domain, &actor).await {
            Ok((tenant, services)) => {
                self.serve(&tenant, services);
                Ok(self.summary(&tenant))
            }
            Err(error) => Err(match error.downcast_ref::<StoreError>() {
                Some(StoreError::DuplicateTenant) => {
                    DashboardError::TenantExists(domain.to_owned())
                }
                _ if !app::tenants::is_domain(domain) => DashboardError::InvalidDomain,
                _ => {
                    tracing::warn!(error = format!("{error:#}"), "cannot create a tenant");
                    DashboardError::Unavailable
                }
            }),
        }
    }

    async fn delete_tenant(
        &self,
        domain: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<TenantSummary, DashboardError> {
        let actor = Actor::operator(from);
        match self.deployment.delete_tenant(domain, &actor).await {
            Ok((tenant, _)) => {
                // Stops serving it at once (the follower would within half a second).
                let gone = self.served.tenants().remove(&tenant.id);
                if let Some(gone) = gone {
                    self.routers.remove(&gone.record.domain);
                    gone.state.stop();
                }
                tracing::info!(
                    tenant = tenant.domain,
                    "deleted a tenant from the dashboard"
                );
                Ok(self.summary(&tenant))
            }
            Err(error) => {
                let refusal = self.refusal(domain).await;
                if refusal == DashboardError::Unavailable {
                    tracing::warn!(error = format!("{error:#}"), "cannot delete a tenant");
                }
                Err(refusal)
            }
        }
    }
}

impl Directory {
    /// The error the page shows for a deletion the deployment refused.
    async fn refusal(&self, domain: &str) -> DashboardError {
        match self.deployment.store.tenant_named(domain, false).await {
            Ok(None) => DashboardError::UnknownTenant(domain.to_owned()),
            Ok(Some(tenant)) if tenant.id == DEFAULT_TENANT => {
                DashboardError::DefaultTenant(tenant.domain)
            }
            _ => DashboardError::Unavailable,
        }
    }
}

/// Follows the database: one query per look, whatever the number of tenants.
struct Follower {
    directory: Directory,
    /// Whether the last look failed: an outage is logged when it starts and when it ends.
    failing: bool,
}

impl Follower {
    /// Serves the tenants created since the last look, stops serving the deleted ones, and
    /// reloads each key set whose version moved.
    async fn look(&mut self) -> anyhow::Result<()> {
        let Directory {
            deployment,
            served,
            routers,
        } = &self.directory;
        let listed = deployment.store.tenant_versions().await;
        let listed = listed.map_err(ServiceError::from);
        deployment.health.note(&listed);
        let listed = match listed {
            Ok(listed) => listed,
            Err(error) => {
                if !self.failing {
                    self.failing = true;
                    tracing::warn!(%error, "cannot follow the database; serving the last key sets");
                }
                return Err(error.into());
            }
        };
        if std::mem::take(&mut self.failing) {
            tracing::info!("the database is back; following key changes again");
        }
        for gone in served.remove_all_but(&listed) {
            routers.remove(&gone.record.domain);
            gone.state.stop();
            if let Err(error) = gone.state.signing.flush().await {
                tracing::debug!(%error, "a deleted tenant's last usage counts were not written");
            }
            tracing::info!(
                tenant = gone.record.domain,
                "stopped serving a deleted tenant"
            );
        }
        // A few at a time: a start with a thousand tenants keeps both the cores and the
        // database busy, and one slow tenant holds up no other.
        let follower: &Self = self;
        futures_util::stream::iter(listed)
            .for_each_concurrent(FOLLOW_CONCURRENCY, |listed| async move {
                match served.state(&listed.tenant.id) {
                    Some(state) if state.keys.published().version != listed.version => {
                        if let Err(error) = state.keys.refresh().await {
                            let tenant = &listed.tenant.domain;
                            tracing::warn!(tenant, %error, "cannot reload a key set");
                        }
                    }
                    Some(_) => {}
                    None => follower.start(&listed.tenant).await,
                }
            })
            .await;
        Ok(())
    }

    async fn start(&self, tenant: &TenantRecord) {
        let directory = &self.directory;
        let started = directory
            .deployment
            .start_tenant(tenant, &startup::command_line_actor())
            .await;
        match started {
            Ok(services) => directory.serve(tenant, services),
            Err(error) => tracing::warn!(
                tenant = tenant.domain,
                error = format!("{error:#}"),
                "cannot serve a tenant yet"
            ),
        }
    }
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
