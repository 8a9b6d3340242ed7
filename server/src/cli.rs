//! The `signet` command line: `serve`, `keys …` for scripts and break-glass use, and the
//! operator's `master-key rotate`, `backup` and `restore`.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use app::keys::KeyView;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::{
    api::{ApiSettings, AppState, router},
    backup,
    config::Settings,
    keys::{master_key::MasterKey, service::KeyService},
    startup,
    store::{Actor, MasterKeyRotation, SqlStore},
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
    /// Re-encrypt every private key under a new master key.
    #[command(subcommand)]
    MasterKey(MasterKeyCommand),
    /// Write a consistent snapshot of the embedded database to FILE while servers keep running.
    Backup {
        /// Where to write the snapshot; must not exist.
        file: PathBuf,
    },
    /// Replace the embedded database with a backup (stop the servers first).
    Restore {
        /// A file written by `signet backup`.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum MasterKeyCommand {
    /// Re-encrypt every private key and client hashing key under the key in --new-key-file, in
    /// one transaction; then restart the servers with SIGNET_MASTER_KEY_FILE set to that file.
    Rotate {
        /// The new master key: 32 random bytes in base64, made with
        /// `openssl rand -base64 32 > FILE; chmod 600 FILE`.
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
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
        /// The key id. Kids are base64url, so one may begin with `-`: it is still a kid here.
        #[arg(allow_hyphen_values = true)]
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
            Command::MasterKey(MasterKeyCommand::Rotate { new_key_file }) => {
                rotate_master_key(&settings, &new_key_file).await
            }
            Command::Backup { file } => {
                println!("{}", backup::backup(&settings, &file).await?);
                Ok(())
            }
            Command::Restore { file } => {
                println!("{}", backup::restore(&settings, &file).await?);
                Ok(())
            }
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
    // A bad certificate stops Signet before it opens anything, rather than half-started.
    let tls = match (&settings.tls_cert_file, &settings.tls_key_file) {
        (Some(cert), Some(key)) => Some(crate::http::tls::acceptor(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
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
        "Signet is serving; dashboard at {scheme}://{}/tenant/signing_keys",
        settings.addr
    );
    let stopping = state.clone();
    crate::http_server::serve(listener, router(state), tls, async move {
        shutdown_signal().await;
        stopping.stop();
    })
    .await;
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

async fn rotate_master_key(settings: &Settings, new_key_file: &Path) -> anyhow::Result<()> {
    let current = MasterKey::load(&settings.master_key_path())
        .context("cannot load the current master key (SIGNET_MASTER_KEY_FILE)")?;
    let new = MasterKey::load(new_key_file).context("cannot load the new master key")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(new_key_file)?.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "signet: warning: {} is readable by other users; chmod 600 it",
                new_key_file.display()
            );
        }
    }
    // Printed as given to the servers, so it must not depend on this command's directory.
    let new_key_file = std::path::absolute(new_key_file)?;
    let store = SqlStore::connect(&settings.database_url())
        .await
        .context("cannot open the database")?;
    match store
        .rotate_master_key(&current, &new, &cli_actor(), chrono::Utc::now())
        .await?
    {
        MasterKeyRotation::Rotated {
            from,
            to,
            private_keys,
            client_hash_keys,
        } => {
            println!(
                "re-encrypted {private_keys} private signing keys and {client_hash_keys} client                  hashing keys from master key {from} to {to}"
            );
            println!(
                "now restart every Signet server with SIGNET_MASTER_KEY_FILE={}",
                new_key_file.display()
            );
        }
        MasterKeyRotation::AlreadyDone { to } => {
            println!(
                "nothing to do: every key is already encrypted under master key {to}; servers                  must run with SIGNET_MASTER_KEY_FILE={}",
                new_key_file.display()
            );
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

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command, KeysCommand};

    fn revoked_kid(args: &[&str]) -> Option<String> {
        match Cli::try_parse_from(args).ok()?.command {
            Some(Command::Keys(KeysCommand::Revoke { kid })) => Some(kid),
            _ => None,
        }
    }

    /// One kid in 64 begins with `-` (the crash test found it): it must not read as an option.
    #[test]
    fn a_kid_beginning_with_a_hyphen_is_a_kid() {
        let kid = "-AaYE1I-cKsKayIu5zihY";
        assert_eq!(
            revoked_kid(&["signet", "keys", "revoke", kid]).as_deref(),
            Some(kid)
        );
        assert_eq!(
            revoked_kid(&["signet", "keys", "revoke", "--", kid]).as_deref(),
            Some(kid)
        );
        assert_eq!(
            revoked_kid(&["signet", "keys", "revoke", "AaYE1I-cKsKayIu5zihY"]).as_deref(),
            Some("AaYE1I-cKsKayIu5zihY")
        );
        // Help is still help.
        let help = Cli::try_parse_from(["signet", "keys", "revoke", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    }
}
