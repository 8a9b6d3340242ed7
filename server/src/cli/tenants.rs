//! `signet tenants …`: the tenants of this deployment (SPEC §15).

use anyhow::bail;
use app::keys::KeyState;

use super::TenantsCommand;
use crate::{
    config::Config,
    services::{Services, published::iso, spare_keys::Refill},
    startup::{self, Deployment},
    store::{TenantRecord, TenantStore},
};

/// Runs a `signet tenants` command.
pub async fn run(config: &Config, command: TenantsCommand) -> anyhow::Result<()> {
    let actor = startup::command_line_actor();
    // The default tenant is named and provisioned as at any start.
    let deployment = Deployment::open(config, Refill::Never).await?;
    deployment.start_default(&actor).await?;
    let store = &deployment.store;
    match command {
        TenantsCommand::Create { domains } => {
            let mut created = Vec::with_capacity(domains.len());
            for domain in &domains {
                let (tenant, services) = deployment.create_tenant(domain, &actor).await?;
                created.push(created_json(&tenant, &services));
            }
            let printed = match <[_; 1]>::try_from(created) {
                Ok([one]) => one,
                Err(many) => serde_json::Value::Array(many),
            };
            println!("{}", serde_json::to_string_pretty(&printed)?);
        }
        TenantsCommand::Delete { domain, yes } => {
            if !yes {
                bail!(
                    "deleting {domain} revokes and destroys every key it has and removes its \
                     clients; tokens it issued stop verifying. Run again with --yes to do it"
                );
            }
            let (tenant, deleted) = deployment.delete_tenant(&domain, &actor).await?;
            println!(
                "Deleted the tenant {}: destroyed {} keys and removed {} clients; its audit \
                 events stay.",
                tenant.domain,
                deleted.kids.len(),
                deleted.clients
            );
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

/// A created tenant as `tenants create` prints it.
fn created_json(tenant: &TenantRecord, services: &Services) -> serde_json::Value {
    let published = services.keys.published();
    let kid = |state: KeyState| {
        published
            .keys
            .iter()
            .find(|k| k.record.state == state)
            .map(|k| k.record.kid.clone())
    };
    serde_json::json!({
        "id": tenant.id,
        "domain": tenant.domain,
        "issuer": format!("https://{}/", tenant.domain),
        "created_at": iso(tenant.created_at),
        "current_kid": kid(KeyState::Current),
        "next_kid": kid(KeyState::Next),
    })
}
