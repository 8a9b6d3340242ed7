//! `signet master-key rotate`: every secret re-sealed under a new master key.

use std::path::Path;

use anyhow::Context;

use crate::{
    config::Config,
    services::master_key_rotation::{MasterKeyRotation, rotate_master_key},
    startup,
    store::master_key_file::read_master_key,
};

/// Re-seals everything under the key in `new_key_file` and says how to restart the servers.
pub async fn rotate(config: &Config, new_key_file: &Path) -> anyhow::Result<()> {
    let current = read_master_key(&config.master_key_file)
        .context("cannot load the current master key (SIGNET_MASTER_KEY_FILE)")?;
    let new = read_master_key(new_key_file).context("cannot load the new master key")?;
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
    let store = startup::connect_store(config)
        .await
        .context("cannot open the database")?;
    let actor = startup::command_line_actor();
    match rotate_master_key(
        store.as_ref(),
        &current,
        &new,
        &actor,
        startup::clock(config).now(),
    )
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
