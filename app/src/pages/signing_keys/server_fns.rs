//! The page's server functions: thin adapters over the server's key service (the same one the
//! Management API uses), each one call. `#[server]` takes its prefix as a literal: the test below
//! holds it to [`crate::routes::SERVER_FN_PREFIX`].

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::pages::sign_in::HOME;
use crate::{
    error::DashboardError,
    keys::{KeyActionDone, KeyList},
    schedule::RotationSchedule,
};

/// The tenant and its signing keys, with page `page` (from 1, default 1) of the previous keys.
#[server(prefix = "/_signet", endpoint = "list_signing_keys", output = crate::codec::JsonText)]
pub async fn list_signing_keys(
    #[server(default)] page: Option<u32>,
) -> Result<KeyList, DashboardError> {
    let service = crate::error::with_status(crate::service::signing_keys())?;
    crate::error::with_status(service.list_signing_keys(page.unwrap_or(1).max(1)).await)
}

/// Runs a key action on the operator's behalf and answers as [`crate::error::respond`] does.
#[cfg(feature = "ssr")]
async fn key_action<F, Fut>(act: F) -> Result<KeyActionDone, DashboardError>
where
    F: FnOnce(crate::service::SharedSigningKeys, Option<std::net::IpAddr>) -> Fut,
    Fut: std::future::Future<Output = Result<KeyActionDone, DashboardError>>,
{
    let from = crate::service::client_addr().await;
    let result = match crate::service::signing_keys() {
        Ok(service) => act(service, from).await,
        Err(error) => Err(error),
    };
    crate::error::respond(result, HOME, |done| Some(done.to_query()))
}

/// Rotates the signing key; `next_kid` is the key the operator confirmed would become current.
/// `force=true` is the second confirmation: rotate although relying parties may not have
/// fetched the next key yet.
#[server(prefix = "/_signet", endpoint = "rotate_signing_key", output = crate::codec::JsonText)]
pub async fn rotate_signing_key(
    next_kid: String,
    #[server(default)] force: Option<String>,
) -> Result<KeyActionDone, DashboardError> {
    let force = force.as_deref() == Some("true");
    key_action(|keys, from| async move { keys.rotate(&next_kid, force, from).await }).await
}

/// Replaces the rotation schedule: rotate every `rotate_every` `rotate_unit`s (unit `off`: no
/// schedule), revoke previous keys `revoke_after` `revoke_unit`s after their last token expired
/// (unit `off`: never).
#[server(prefix = "/_signet", endpoint = "set_rotation_schedule", output = crate::codec::JsonText)]
pub async fn set_rotation_schedule(
    rotate_every: String,
    rotate_unit: String,
    revoke_after: String,
    revoke_unit: String,
) -> Result<RotationSchedule, DashboardError> {
    use crate::schedule::parse_duration_field;
    let from = crate::service::client_addr().await;
    let parsed = parse_duration_field(&rotate_every, &rotate_unit)
        .and_then(|every| Ok((every, parse_duration_field(&revoke_after, &revoke_unit)?)))
        .map_err(DashboardError::InvalidSchedule);
    let result = match (parsed, crate::service::signing_keys()) {
        (Ok((every, grace)), Ok(keys)) => keys.set_rotation_schedule(every, grace, from).await,
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    crate::error::respond(result, HOME, |_| Some(format!("done={SCHEDULE_SAVED}")))
}

/// The `done` a plain form post of the schedule dialog comes back with.
pub const SCHEDULE_SAVED: &str = "schedule";

/// Makes `signing_alg` with `key_size` (for RSA; ignored otherwise) the type of the tenant's
/// new keys: the next key is replaced at once, the current key stays until the next rotation.
#[server(prefix = "/_signet", endpoint = "set_signing_algorithm", output = crate::codec::JsonText)]
pub async fn set_signing_algorithm(
    signing_alg: String,
    #[server(default)] key_size: Option<String>,
) -> Result<RotationSchedule, DashboardError> {
    use crate::algorithm::{KeySpec, SigningAlg};
    let from = crate::service::client_addr().await;
    // A disabled size select sends nothing: ES256 and EdDSA have one size.
    let rsa = SigningAlg::parse(&signing_alg).is_some_and(SigningAlg::is_rsa);
    let size = key_size
        .filter(|_| rsa)
        .map(|size| size.trim().parse::<u32>().unwrap_or(0));
    let spec = KeySpec::parse(&signing_alg, size).map_err(|_| DashboardError::UnsupportedAlgorithm);
    let result = match (spec, crate::service::signing_keys()) {
        (Ok(spec), Ok(keys)) => keys.set_signing_algorithm(spec, from).await,
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    crate::error::respond(result, HOME, |_| Some(format!("done={ALGORITHM_SAVED}")))
}

/// The `done` a plain form post of the algorithm dialog comes back with.
pub const ALGORITHM_SAVED: &str = "algorithm";

/// Rotates and revokes the key that was current; `current_kid` is the key the operator
/// confirmed would be revoked.
#[server(prefix = "/_signet", endpoint = "rotate_and_revoke_signing_key", output = crate::codec::JsonText)]
pub async fn rotate_and_revoke_signing_key(
    current_kid: String,
) -> Result<KeyActionDone, DashboardError> {
    key_action(|keys, from| async move { keys.rotate_and_revoke(&current_kid, from).await }).await
}

/// Revokes a previously used key.
#[server(prefix = "/_signet", endpoint = "revoke_signing_key", output = crate::codec::JsonText)]
pub async fn revoke_signing_key(kid: String) -> Result<KeyActionDone, DashboardError> {
    key_action(|keys, from| async move { keys.revoke(&kid, from).await }).await
}

#[cfg(test)]
mod tests {
    use leptos::server_fn::ServerFn;

    use super::*;
    use crate::routes::is_server_fn;

    #[test]
    fn the_page_calls_its_server_functions_under_the_shared_prefix() {
        for path in [
            <ListSigningKeys as ServerFn>::PATH,
            <RotateSigningKey as ServerFn>::PATH,
            <RotateAndRevokeSigningKey as ServerFn>::PATH,
            <RevokeSigningKey as ServerFn>::PATH,
            <SetRotationSchedule as ServerFn>::PATH,
            <crate::pages::sign_in::SignIn as ServerFn>::PATH,
            <crate::pages::tenants::ListTenants as ServerFn>::PATH,
            <crate::pages::tenants::CreateTenant as ServerFn>::PATH,
            <crate::pages::tenants::SwitchTenant as ServerFn>::PATH,
        ] {
            assert!(is_server_fn(path), "{path}");
        }
        assert_eq!(
            <crate::pages::sign_in::SignIn as ServerFn>::PATH,
            crate::routes::SIGN_IN_FN
        );
        assert_eq!(
            <crate::pages::tenants::SwitchTenant as ServerFn>::PATH,
            crate::routes::SWITCH_TENANT_FN
        );
    }
}
