//! `signet clients …`: machine clients of the Management API.

use chrono::{SecondsFormat, Utc};

use super::ClientsCommand;
use crate::{config::Config, startup};

/// Runs a `signet clients` command.
pub async fn run(config: &Config, command: ClientsCommand) -> anyhow::Result<()> {
    let clients = startup::start_services(config, &startup::command_line_actor())
        .await?
        .clients;
    match command {
        ClientsCommand::Create { name, scopes } => {
            let client = clients.create(&name, &scopes, Utc::now()).await?;
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
                            "created_at": c.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&listed)?);
            } else {
                println!("{:<32}  {:<24}  SCOPES", "CLIENT ID", "NAME");
                for client in listed {
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
            if !clients.delete(&client_id).await? {
                anyhow::bail!("no client with id {client_id}");
            }
            println!("deleted: {client_id}");
        }
    }
    Ok(())
}
