//! `signet keys …` and `signet audit list`: the key lifecycle for scripts and break-glass use,
//! on the configured database, beside running servers.

use app::keys::{KeyState, KeyView};
use chrono::{SecondsFormat, Utc};

use super::KeysCommand;
use crate::{config::Config, services::keys::KeyService, startup, store::AuditLog};

/// Runs a `signet keys` command.
pub async fn run(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    let actor = startup::command_line_actor();
    let keys = startup::start_services(config, &actor).await?.keys;
    let now = Utc::now();
    match command {
        KeysCommand::List { json } => {
            let views = list_views(&keys);
            if json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else {
                print!("{}", key_table(&views));
            }
        }
        KeysCommand::Rotate => {
            let rotated = keys.rotate(&actor, now).await?;
            let published = keys.published();
            let next = published
                .keys
                .iter()
                .find(|k| k.record.state == KeyState::Next);
            println!(
                "rotated: {} is now current; {} is next",
                rotated.current.record.kid,
                next.map_or("?", |k| k.record.kid.as_str())
            );
        }
        KeysCommand::Revoke { kid } => {
            let revoked = keys.revoke(&kid, &actor, now).await?;
            println!("revoked: {}", revoked.record.kid);
        }
        KeysCommand::RotateAndRevoke => {
            let rotated = keys.rotate_and_revoke(&actor, now).await?;
            println!(
                "rotated and revoked: {} is now current; {} is revoked",
                rotated.current.record.kid,
                rotated.revoked.as_deref().unwrap_or("?")
            );
        }
    }
    Ok(())
}

fn list_views(keys: &KeyService) -> Vec<KeyView> {
    keys.published().keys.iter().map(|k| k.view()).collect()
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

/// `signet audit list`: the newest events first.
pub async fn audit(config: &Config, limit: usize, json: bool) -> anyhow::Result<()> {
    let store = startup::connect_store(config).await?;
    for event in store.audit_events(limit).await? {
        let at = event.at.to_rfc3339_opts(SecondsFormat::Millis, true);
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
