//! The interface the dashboard needs from the server's key service.
//!
//! `app` cannot depend on `server`, so it names what it needs here and the server provides an
//! implementation as Leptos context: server functions stay thin adapters over the same service
//! the REST API uses.

use std::sync::Arc;

use crate::{
    error::DashboardError,
    keys::{KeyActionDone, KeyList},
    tenants::TenantSummary,
};

/// The key operations the dashboard performs, on the operator's behalf. `from` is the caller's
/// address, for the audit log. Each action names the key the operator confirmed, so a change
/// made elsewhere in the meantime refuses the action ([`DashboardError::KeysChanged`]) instead
/// of acting on keys the operator never saw.
#[async_trait::async_trait]
pub trait SigningKeys: Send + Sync + 'static {
    /// The tenant and its keys: current, next, page `previous_page` (from 1; past the last page,
    /// the last) of the previous keys newest first, then the most recent revoked ones.
    async fn list_signing_keys(&self, previous_page: u32) -> Result<KeyList, DashboardError>;
    /// Rotates; `next_kid` is the key the dialog said would become current. Unless `force`d,
    /// refused while relying parties may not have fetched the next key
    /// ([`DashboardError::NextKeyTooNew`]).
    async fn rotate(
        &self,
        next_kid: &str,
        force: bool,
        from: Option<std::net::IpAddr>,
    ) -> Result<KeyActionDone, DashboardError>;
    /// Rotates and revokes the key that was current; `current_kid` is the key the dialog said
    /// would be revoked.
    async fn rotate_and_revoke(
        &self,
        current_kid: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<KeyActionDone, DashboardError>;
    /// Revokes a previously used key.
    async fn revoke(
        &self,
        kid: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<KeyActionDone, DashboardError>;
    /// Replaces the rotation policy: rotate every `rotate_every_seconds` (`None`: no schedule),
    /// revoke previous keys `revoke_previous_after_seconds` after their last token expired
    /// (`None`: never).
    async fn set_rotation_schedule(
        &self,
        rotate_every_seconds: Option<i64>,
        revoke_previous_after_seconds: Option<i64>,
        from: Option<std::net::IpAddr>,
    ) -> Result<crate::schedule::RotationSchedule, DashboardError>;
    /// Makes `key` the type of the tenant's new keys: the next key is replaced by one of it at
    /// once, the current key stays until the next rotation (SPEC §13).
    async fn set_signing_algorithm(
        &self,
        key: crate::algorithm::KeySpec,
        from: Option<std::net::IpAddr>,
    ) -> Result<crate::schedule::RotationSchedule, DashboardError>;
}

/// How the service travels through Leptos context.
pub type SharedSigningKeys = Arc<dyn SigningKeys>;

/// The deployment's tenants, for the switcher and the Tenants page.
#[async_trait::async_trait]
pub trait Tenants: Send + Sync + 'static {
    /// Every tenant, the default one first.
    async fn list_tenants(&self) -> Result<Vec<TenantSummary>, DashboardError>;
    /// Creates the tenant named `domain`, with its current and next key, and serves it at once.
    async fn create_tenant(
        &self,
        domain: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<TenantSummary, DashboardError>;
    /// Deletes the tenant named `domain` (never the default one): its keys and clients are
    /// destroyed, its audit trail stays, and it is no longer served.
    async fn delete_tenant(
        &self,
        domain: &str,
        from: Option<std::net::IpAddr>,
    ) -> Result<TenantSummary, DashboardError>;
}

/// The audit trail, for the Logs page.
#[async_trait::async_trait]
pub trait Logs: Send + Sync + 'static {
    /// One page of the events `filter` selects (its tenant defaulting to the dashboard's):
    /// newest first from just older than `before`, or, with `after`, every event newer than it
    /// (oldest first, for live updates).
    async fn logs(
        &self,
        filter: &crate::audit::LogFilter,
        before: Option<&str>,
        after: Option<&str>,
    ) -> Result<crate::audit::LogPage, DashboardError>;
}

/// How the audit trail travels through Leptos context.
pub type SharedLogs = Arc<dyn Logs>;

/// How the tenants travel through Leptos context.
pub type SharedTenants = Arc<dyn Tenants>;

/// The tenant whose application serves the request (by host, or the operator's choice), in
/// Leptos context.
#[derive(Debug, Clone)]
pub struct CurrentTenant(pub String);

/// The tenants from context; absent when the server serves one tenant only (tests).
pub fn tenants() -> Option<SharedTenants> {
    leptos::prelude::use_context::<SharedTenants>()
}

/// Signing the operator in and out; returns `Set-Cookie` values.
#[async_trait::async_trait]
pub trait Operator: Send + Sync + 'static {
    /// Checks the password and opens a session.
    async fn sign_in(
        &self,
        password: &str,
        addr: Option<std::net::IpAddr>,
        secure: bool,
    ) -> Result<String, DashboardError>;
    /// Ends the session in `cookie_header`, if any.
    async fn sign_out(&self, cookie_header: Option<&str>, secure: bool) -> String;
}

/// How the operator service travels through Leptos context.
pub type SharedOperator = Arc<dyn Operator>;

/// The operator service from context.
pub fn operator() -> Result<SharedOperator, DashboardError> {
    leptos::prelude::use_context::<SharedOperator>().ok_or(DashboardError::Unavailable)
}

/// The service from context; absent only if the server forgot to provide it.
pub fn signing_keys() -> Result<SharedSigningKeys, DashboardError> {
    leptos::prelude::use_context::<SharedSigningKeys>().ok_or(DashboardError::Unavailable)
}

/// The address the current request came from, for the audit log and sign-in throttling.
pub async fn client_addr() -> Option<std::net::IpAddr> {
    use axum::extract::ConnectInfo;
    leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|ConnectInfo(addr)| addr.ip())
}
