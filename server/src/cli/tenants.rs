//! `signet tenants …`: the tenants of this deployment (SPEC §15).

use anyhow::{Context, bail};
use app::keys::KeyState;

use super::TenantsCommand;
use crate::{
    config::{Config, is_valid_domain},
    domain::material::new_kid,
    services::published::iso,
    startup,
    store::{TenantRecord, TenantStore},
};

/// Runs a `signet tenants` command.
pub async fn run(config: &Config, command: TenantsCommand) -> anyhow::Result<()> {
    let actor = startup::command_line_actor();
    // The default tenant first: it is named and provisioned as at any start.
    let store = startup::connect_store(config).await?;
    let default = startup::start_default_tenant(config, &store, &actor).await?;
    match command {
        TenantsCommand::Create { domain } => {
            let domain = domain.trim().to_ascii_lowercase();
            if !is_valid_domain(&domain) {
                bail!(
                    "{domain:?} is not a DNS name (letters, digits, '-' and '.', at most 64 characters)"
                );
            }
            let tenant = TenantRecord {
                id: format!("t-{}", new_kid()),
                domain: domain.clone(),
                created_at: default.clock.now(),
            };
            store
                .create_tenant(&tenant)
                .await
                .with_context(|| format!("cannot create the tenant {domain}"))?;
            let services = startup::start_tenant_services(config, &store, &tenant, &actor).await?;
            let published = services.keys.published();
            let kid = |state: KeyState| {
                published
                    .keys
                    .iter()
                    .find(|k| k.record.state == state)
                    .map(|k| k.record.kid.clone())
            };
            let created = serde_json::json!({
                "id": tenant.id,
                "domain": tenant.domain,
                "issuer": format!("https://{}/", tenant.domain),
                "created_at": iso(tenant.created_at),
                "current_kid": kid(KeyState::Current),
                "next_kid": kid(KeyState::Next),
            });
            println!("{}", serde_json::to_string_pretty(&created)?);
        }
        TenantsCommand::List { json } => {
            let tenants = store.list_tenants().await?;
            if json {
                let listed: Vec<_> = tenants
                    .iter()
                    .map(|t| {
                        serde_json::json!({
                            "id": t.id, "domain": t.domain, "created_at": iso(t.created_at),
                            "default": t.id == crate::store::DEFAULT_TENANT,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&listed)?);
            } else {
                println!("{:<24}  {:<40}  CREATED", "ID", "DOMAIN");
                for t in tenants {
                    println!("{:<24}  {:<40}  {}", t.id, t.domain, iso(t.created_at));
                }
            }
        }
    }
    Ok(())
}
