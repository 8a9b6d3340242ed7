//! The `signet` command line: `serve`, `keys …` for scripts and break-glass use, and the
//! operator's `master-key rotate`, `backup` and `restore`.

mod backup;
mod clients;
mod keys;
mod master_key;
mod tenants;

use std::path::PathBuf;

use app::algorithm::SigningAlg;
use clap::{Parser, Subcommand};

use crate::{config::Config, serve::serve};

pub use self::keys::key_table;

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
    /// The tenant `keys`, `clients` and `audit` act on, by domain (default: the default tenant).
    #[arg(long, global = true, value_name = "DOMAIN")]
    pub tenant: Option<String>,
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
    /// Create and list the tenants this deployment serves, each routed by its domain.
    #[command(subcommand)]
    Tenants(TenantsCommand),
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
    /// Create a client; prints {"client_id","client_secret","scopes","signing_policy",…} once.
    Create {
        /// A name to recognise the client by.
        #[arg(long)]
        name: String,
        /// Space-separated scopes, e.g. "read:signing_keys create:signing_keys update:signing_keys",
        /// or "sign:tokens" for a login service that signs through Signet.
        #[arg(long)]
        scopes: String,
        /// Space-separated audiences the client may sign tokens for (sign:tokens).
        #[arg(long, default_value = "")]
        audiences: String,
        /// Longest lifetime (exp - iat) of a token it may sign, in seconds; at most 30 days.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
        max_lifetime: u64,
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
pub enum TenantsCommand {
    /// Add a tenant named by DOMAIN (or one per DOMAIN given), with its current and next key;
    /// running servers serve it within a second for requests whose Host is DOMAIN. Prints the
    /// tenant as JSON (an array of them when several domains are given).
    Create {
        /// The tenant's domain: its issuer is https://DOMAIN/ and its certificates' CN is DOMAIN.
        #[arg(required = true)]
        domains: Vec<String>,
    },
    /// Every tenant, the default one first.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete the tenant named by DOMAIN: revoke and destroy every key it has and remove its
    /// clients (its audit events stay); running servers stop serving it within two seconds.
    Delete {
        domain: String,
        /// Confirm: nothing is deleted without it.
        #[arg(long)]
        yes: bool,
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
    /// Make the next key current and queue a fresh next key. Refused while the next key is
    /// newer than the publication window, unless forced.
    Rotate {
        /// Rotate even if relying parties may not have fetched the next key yet.
        #[arg(long)]
        force: bool,
    },
    /// Revoke a previously used key: it leaves the JWKS and its tokens stop verifying.
    Revoke {
        /// The key id. Kids are base64url, so one may begin with `-`: it is still a kid here.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Rotate, then revoke the key that was current (for a compromised key).
    RotateAndRevoke,
    /// The rotation schedule.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// The policy, the next scheduled rotation and the scheduled revocations, as JSON.
    Show,
    /// Changes the policy; what is not given stays as it is.
    Set {
        /// Rotate the current key once it has been current this long: `30d`, `12h`, `90m`,
        /// `3600s` or `3600` (seconds); `off` for no schedule. At least one hour.
        #[arg(long, value_parser = parse_duration)]
        rotate_every: Option<Duration>,
        /// Revoke a previous key this long after its last token expired (same forms; `0` at
        /// once); `never` to keep previous keys until revoked by hand.
        #[arg(long, value_parser = parse_duration)]
        revoke_previous_after: Option<Duration>,
        /// The algorithm new keys sign with: RS256, PS256, ES256 or EdDSA. The next key is
        /// replaced by one of this type at once; it becomes current at the next rotation.
        #[arg(long, value_parser = parse_alg)]
        alg: Option<SigningAlg>,
        /// The RSA key size for RS256 and PS256: 2048, 3072 or 4096.
        #[arg(long)]
        key_size: Option<u32>,
    },
}

/// An algorithm name, exactly as JWS spells it.
pub fn parse_alg(text: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(text.trim()).ok_or_else(|| {
        app::algorithm::AlgorithmRefusal::UnknownAlgorithm(text.to_owned()).to_string()
    })
}

/// A duration on the command line: seconds, or `off`/`never` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub Option<i64>);

/// `30d`, `12h`, `90m`, `3600s`, `3600`, `off`, `never`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if matches!(text, "off" | "never" | "none") {
        return Ok(Duration(None));
    }
    let (number, unit) = match text.char_indices().last() {
        Some((at, unit @ ('s' | 'm' | 'h' | 'd' | 'w'))) => (&text[..at], unit),
        _ => (text, 's'),
    };
    let size = match unit {
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => 1,
    };
    number
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .and_then(|n| n.checked_mul(size))
        .map(|seconds| Duration(Some(seconds)))
        .ok_or_else(|| {
            format!("{text:?} is not a duration: use 30d, 12h, 90m, 3600s, 3600 or off/never")
        })
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
        let config = Config::load(&self.config, explicit_config)?;
        let command = self.command.unwrap_or(Command::Serve);
        let tenant = self.tenant.as_deref();
        if tenant.is_some()
            && !matches!(
                command,
                Command::Keys(_) | Command::Audit(_) | Command::Clients(_)
            )
        {
            anyhow::bail!("--tenant applies to the keys, clients and audit commands only");
        }
        match command {
            Command::Serve => serve(&config).await,
            Command::Keys(command) => keys::run(&config, tenant, command).await,
            Command::Audit(AuditCommand::List { limit, json }) => {
                keys::audit(&config, tenant, limit, json).await
            }
            Command::Clients(command) => clients::run(&config, tenant, command).await,
            Command::Tenants(command) => tenants::run(&config, command).await,
            Command::MasterKey(MasterKeyCommand::Rotate { new_key_file }) => {
                master_key::rotate(&config, &new_key_file).await
            }
            Command::Backup { file } => {
                println!("{}", backup::backup(&config, &file).await?);
                Ok(())
            }
            Command::Restore { file } => {
                println!("{}", backup::restore(&config, &file).await?);
                Ok(())
            }
        }
    }
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
