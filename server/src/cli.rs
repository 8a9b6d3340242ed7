//! The `signet` command line: `serve`, and `keys …` for scripts and break-glass use.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use app::keys::KeyView;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::{
    api::{ApiSettings, AppState, router},
    config::Settings,
    keys::service::KeyService,
    startup,
    store::Actor,
};

/// How often a server looks for changes made by other processes (CLI, other servers).
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// Signet owns your identity tenant's token-signing keys.
#[derive(Debug, Parser)]
#[command(name = "signet", version, about)]
pub struct Cli {
    /// Settings file; SIGNET_* environment variables override it.
    #[arg(
        long,
        env = "SIGNET_CONFIG",
        default_value = "signet.toml",
        global = true
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// List, rotate and revoke signing keys on the configured database.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show the audit log of key changes.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Create, list and delete machine clients of the Management API.
    #[command(subcommand)]
    Clients(ClientsCommand),
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create a client; prints {"client_id","client_secret","scopes"} once.
    Create {
        /// A name to recognise the client by.
        #[arg(long)]
        name: String,
        /// Space-separated scopes, e.g. "read:signing_keys create:signing_keys update:signing_keys".
        #[arg(long)]
        scopes: String,
    },
    /// Every client (never their secrets).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a client: it can get no new tokens.
    Delete {
        /// The client id.
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Valid keys, then the most recent revoked keys.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make the next key current and queue a fresh next key.
    Rotate,
    /// Revoke a previously used key: it leaves the JWKS and its tokens stop verifying.
    Revoke {
        /// The key id.
        kid: String,
    },
    /// Rotate, then revoke the key that was current (for a compromised key).
    RotateAndRevoke,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The newest audit events first.
    List {
        /// How many events.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
}

impl Cli {
    /// Runs the command; errors are reported by the caller as one line.
    pub async fn run(self) -> anyhow::Result<()> {
        let explicit_config = std::env::var_os("SIGNET_CONFIG").is_some()
            || std::env::args().any(|a| a == "--config" || a.starts_with("--config="));
        let settings = Settings::load(&self.config, explicit_config)?;
        match self.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(&settings).await,
            Command::Keys(command) => keys(&settings, command).await,
            Command::Audit(AuditCommand::List { limit, json }) => {
                audit(&settings, limit, json).await
            }
            Command::Clients(command) => clients(&settings, command).await,
        }
    }
}

fn cli_actor() -> Actor {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    Actor {
        name: format!("cli:{user}"),
        remote_addr: None,
        // The command line is the break-glass path: the rotation limit does not apply.
        rate_limited: false,
    }
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let _lock = startup::lock_embedded_database(settings)?;
    let (keys, operator) = startup::open(settings, &cli_actor()).await?;
    startup::ensure_operator_password(settings, &operator).await?;
    keys.spawn_watcher(WATCH_INTERVAL);
    keys.spawn_spare_key();
    let state = AppState::new(
        keys.clone(),
        operator,
        startup::leptos_options(settings),
        ApiSettings::from(settings),
    );
    let listener = TcpListener::bind(settings.addr)
        .await
        .with_context(|| format!("cannot listen on {}", settings.addr))?;
    tracing::info!(
        addr = %settings.addr,
        tenant = keys.tenant_domain(),
        site_root = %state.leptos.site_root,
        "Signet is serving; dashboard at http://{}/tenant/signing_keys",
        settings.addr
    );
    let stopping = state.clone();
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        stopping.stop();
    })
    .await
    .context("server error")
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

async fn keys(settings: &Settings, command: KeysCommand) -> anyhow::Result<()> {
    let actor = cli_actor();
    let service = startup::open_key_service(settings, &actor).await?;
    match command {
        KeysCommand::List { json } => {
            let views = list_views(&service);
            if json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else {
                print!("{}", key_table(&views));
            }
        }
        KeysCommand::Rotate => {
            let rotated = service.rotate(&actor).await?;
            let next = service.published();
            let next = next
                .keys
                .iter()
                .find(|k| k.record.state == app::keys::KeyState::Next);
            println!(
                "rotated: {} is now current; {} is next",
                rotated.current.record.kid,
                next.map_or("?", |k| k.record.kid.as_str())
            );
        }
        KeysCommand::Revoke { kid } => {
            let revoked = service.revoke(&kid, &actor).await?;
            println!("revoked: {}", revoked.record.kid);
        }
        KeysCommand::RotateAndRevoke => {
            let rotated = service.rotate_and_revoke(&actor).await?;
            println!(
                "rotated and revoked: {} is now current; {} is revoked",
                rotated.current.record.kid,
                rotated.revoked.as_deref().unwrap_or("?")
            );
        }
    }
    Ok(())
}

fn list_views(service: &KeyService) -> Vec<KeyView> {
    service.published().keys.iter().map(|k| k.view()).collect()
}

/// A fixed-width table of keys for people.
pub fn key_table(views: &[KeyView]) -> String {
    let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    let mut out = format!(
        "{:<16} {:<21}  {:<24}  {:<24}  {:<24}  {}\n",
        "STATUS", "KID", "CURRENT SINCE", "CURRENT UNTIL", "REVOKED AT", "FINGERPRINT"
    );
    for view in views {
        out.push_str(&format!(
            "{:<16} {:<21}  {:<24}  {:<24}  {:<24}  {}\n",
            view.state.label(),
            view.kid,
            dash(&view.current_since),
            dash(&view.current_until),
            dash(&view.revoked_at),
            view.fingerprint
        ));
    }
    out
}

async fn clients(settings: &Settings, command: ClientsCommand) -> anyhow::Result<()> {
    let service = startup::open_key_service(settings, &cli_actor()).await?;
    match command {
        ClientsCommand::Create { name, scopes } => {
            let client = service.create_client(&name, &scopes).await?;
            println!("{}", serde_json::to_string_pretty(&client)?);
        }
        ClientsCommand::List { json } => {
            let clients = service.list_clients().await?;
            if json {
                let clients: Vec<_> = clients
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "client_id": c.client_id, "name": c.name, "scopes": c.scopes,
                            "created_at": c.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&clients)?);
            } else {
                println!("{:<32}  {:<24}  SCOPES", "CLIENT ID", "NAME");
                for client in clients {
                    println!(
                        "{:<32}  {:<24}  {}",
                        client.client_id,
                        client.name,
                        client.scopes.join(" ")
                    );
                }
            }
        }
        ClientsCommand::Delete { client_id } => {
            if !service.delete_client(&client_id).await? {
                anyhow::bail!("no client with id {client_id}");
            }
            println!("deleted: {client_id}");
        }
    }
    Ok(())
}

async fn audit(settings: &Settings, limit: usize, json: bool) -> anyhow::Result<()> {
    let url = settings.database_url();
    let store = crate::store::SqlStore::connect(&url).await?;
    let events = crate::store::KeyStore::audit_events(&store, limit).await?;
    for event in events {
        let at = event
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "seq": event.seq, "at": at, "actor": event.actor, "action": event.action,
                    "kid": event.kid, "remote_addr": event.remote_addr, "detail": event.detail,
                })
            );
        } else {
            println!(
                "{at}  {:<18} {:<20} {}  {}",
                event.action,
                event.actor,
                event.remote_addr.as_deref().unwrap_or("-"),
                event.detail
            );
        }
    }
    Ok(())
}
