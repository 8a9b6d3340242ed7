//! `signet keys …` and `signet audit list`: the key lifecycle for scripts and break-glass use,
//! on the configured database, beside running servers.

use anyhow::Context;
use app::keys::{KeyState, KeyUsage, KeyView};
use chrono::SecondsFormat;

use super::{KeysCommand, PolicyCommand};
use crate::{
    config::Config,
    domain::Actor,
    services::{
        key_change::PolicyUpdate, keys::KeyService, schedule::ScheduleService,
        signing::SigningService,
    },
    startup,
    store::{AuditLog, AuditQuery, TenantStore},
};

/// Runs a `signet keys` command.
pub async fn run(
    config: &Config,
    tenant: Option<&str>,
    command: KeysCommand,
) -> anyhow::Result<()> {
    let actor = startup::command_line_actor();
    let services = startup::start_services_of(config, tenant, &actor).await?;
    let keys = services.keys;
    let now = services.clock.now();
    match command {
        KeysCommand::List { json } => {
            let views = list_views(&keys);
            let usage = list_usage(&services.signing, &views, now).await?;
            if json {
                let listed: Vec<_> = views
                    .iter()
                    .map(|view| {
                        let mut item = serde_json::to_value(view)?;
                        if let (Some(object), Some(usage)) = (
                            item.as_object_mut(),
                            usage.iter().find(|u| u.kid == view.kid),
                        ) {
                            object.insert("usage".into(), serde_json::to_value(usage)?);
                        }
                        Ok(item)
                    })
                    .collect::<Result<_, serde_json::Error>>()?;
                println!("{}", serde_json::to_string_pretty(&listed)?);
            } else {
                print!("{}", key_table(&views, &usage));
                print!("{}", schedule_lines(&services.schedule.view().await?));
            }
        }
        KeysCommand::Rotate { force } => {
            let rotated = if force {
                keys.force_rotate(&actor, now).await?
            } else {
                keys.rotate(&actor, now).await?
            };
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
        KeysCommand::Policy(PolicyCommand::Show) => {
            let view = services.schedule.view().await?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        KeysCommand::Policy(PolicyCommand::Set {
            rotate_every,
            revoke_previous_after,
            alg,
            key_size,
        }) => {
            let update = PolicyUpdate {
                rotate_every_seconds: rotate_every.map(|d| d.0),
                revoke_previous_after_seconds: revoke_previous_after.map(|d| d.0),
                signing_alg: alg,
                key_size,
            };
            set_policy(&services.schedule, update, &actor, now).await?;
        }
    }
    Ok(())
}

/// `signet keys policy set`: the fields given, and the new policy printed as JSON.
async fn set_policy(
    schedule: &ScheduleService,
    update: PolicyUpdate,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        update != PolicyUpdate::default(),
        "nothing to set: give --rotate-every, --revoke-previous-after, --alg or --key-size"
    );
    let view = schedule.set_policy(update, actor, now).await?;
    println!("{}", serde_json::to_string_pretty(&view)?);
    Ok(())
}

fn list_views(keys: &KeyService) -> Vec<KeyView> {
    keys.published().keys.iter().map(|k| k.view()).collect()
}

/// Every listed key's usage (revoked ones too: what they signed stays on record).
async fn list_usage(
    signing: &SigningService,
    views: &[KeyView],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<KeyUsage>> {
    let keys: Vec<_> = views.iter().map(|v| (v.kid.clone(), v.state)).collect();
    Ok(signing.usage_of(&keys, now).await?)
}

/// What a key's usage means for revoking it, in a few words.
pub fn usage_summary(state: KeyState, usage: Option<&KeyUsage>) -> String {
    let Some(usage) = usage else {
        return "-".to_owned();
    };
    let signed = match usage.tokens_signed {
        0 => "never signed".to_owned(),
        1 => "1 token".to_owned(),
        n => format!("{n} tokens"),
    };
    match (state, &usage.live_tokens_until) {
        (KeyState::Previous, _) if usage.safe_to_revoke => format!("{signed}; safe to revoke"),
        (KeyState::Previous | KeyState::Current, Some(until)) => {
            format!("{signed}; tokens valid until {until}")
        }
        _ => signed,
    }
}

/// The schedule under the table: what it does and when it next acts; nothing without one.
pub fn schedule_lines(schedule: &app::schedule::RotationSchedule) -> String {
    use app::schedule::duration_words;
    let mut out = String::new();
    if let Ok(spec) = app::algorithm::KeySpec::parse(&schedule.signing_alg, Some(schedule.key_size))
    {
        out.push_str(&format!("\nnew keys: {spec}\n"));
    }
    if let Some(every) = schedule.rotate_every_seconds {
        out.push_str(&format!(
            "schedule: rotate every {}; next rotation {}\n",
            duration_words(every),
            schedule.next_rotation_at.as_deref().unwrap_or("-")
        ));
    }
    if let Some(grace) = schedule.revoke_previous_after_seconds {
        out.push_str(&format!(
            "schedule: revoke previous keys {} after their last token expires; next revocation {}\n",
            duration_words(grace),
            schedule.next_revocation_at.as_deref().unwrap_or("-")
        ));
    }
    out
}

/// A fixed-width table of keys for people.
pub fn key_table(views: &[KeyView], usage: &[KeyUsage]) -> String {
    let dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    let mut out = format!(
        "{:<16} {:<21}  {:<16}  {:<24}  {:<24}  {:<24}  {:<59}  {}\n",
        "STATUS",
        "KID",
        "ALGORITHM",
        "CURRENT SINCE",
        "CURRENT UNTIL",
        "REVOKED AT",
        "FINGERPRINT",
        "USAGE"
    );
    for view in views {
        let used = usage.iter().find(|u| u.kid == view.kid);
        out.push_str(&format!(
            "{:<16} {:<21}  {:<16}  {:<24}  {:<24}  {:<24}  {:<59}  {}\n",
            view.state.label(),
            view.kid,
            view.spec().label(),
            dash(&view.current_since),
            dash(&view.current_until),
            dash(&view.revoked_at),
            view.fingerprint,
            usage_summary(view.state, used),
        ));
    }
    out
}

/// `signet audit list`: the newest events first.
pub async fn audit(
    config: &Config,
    tenant: Option<&str>,
    limit: usize,
    json: bool,
) -> anyhow::Result<()> {
    let store = startup::connect_store(config).await?;
    let store = match tenant {
        // A deleted tenant's audit events stay: they are listed by its domain too.
        Some(domain) => {
            let tenant = store.tenant_named(domain, true).await?.with_context(|| {
                format!("there is no tenant {domain} (signet tenants list shows them)")
            })?;
            store.for_tenant(&tenant.id)
        }
        None => store.as_ref().clone(),
    };
    for event in store.audit_events(&AuditQuery::newest(limit)).await? {
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
