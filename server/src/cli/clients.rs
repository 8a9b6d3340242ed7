//! `signet clients …`: machine clients of the Management API.

use chrono::SecondsFormat;

use super::ClientsCommand;
use crate::{config::Config, domain::signing_policy::SigningPolicy, startup};

/// Runs a `signet clients` command.
pub async fn run(
    config: &Config,
    tenant: Option<&str>,
    command: ClientsCommand,
) -> anyhow::Result<()> {
    let actor = startup::command_line_actor();
    let services = startup::start_services_of(config, tenant, &actor).await?;
    let clients = services.clients;
    match command {
        ClientsCommand::Create {
            name,
            scopes,
            audiences,
            max_lifetime,
        } => {
            let policy = SigningPolicy::parse(&audiences, max_lifetime)?;
            let client = clients
                .create(&name, &scopes, policy, &actor, services.clock.now())
                .await?;
            println!("{}", serde_json::to_string_pretty(&client)?);
        }
        ClientsCommand::List { json } => {
            let listed = clients.list().await?;
            if json {
                let listed: Vec<_> = listed
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "client_id": c.client_id, "name": c.name, "scopes": c.scopes,
                            "signing_policy": c.signing_policy,
                            "created_at": c.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&listed)?);
            } else {
                println!(
                    "{:<32}  {:<24}  {:<12}  {:<40}  AUDIENCES",
                    "CLIENT ID", "NAME", "MAX LIFETIME", "SCOPES"
                );
                for client in listed {
                    let policy = &client.signing_policy;
                    let audiences = if policy.audiences.is_empty() {
                        "-".to_owned()
                    } else {
                        policy.audiences.join(" ")
                    };
                    println!(
                        "{:<32}  {:<24}  {:<12}  {:<40}  {audiences}",
                        client.client_id,
                        client.name,
                        format!("{}s", policy.max_lifetime_seconds),
                        client.scopes.join(" "),
                    );
                }
            }
        }
        ClientsCommand::Delete { client_id } => {
            if !clients
                .delete(&client_id, &actor, services.clock.now())
                .await?
            {
                anyhow::bail!("no client with id {client_id}");
            }
            println!("deleted: {client_id}");
        }
    }
    Ok(())
}
