//! The interface the dashboard needs from the server's key service.
//!
//! `app` cannot depend on `server`, so it names what it needs here and the server provides an
//! implementation as Leptos context: server functions stay thin adapters over the same service
//! the REST API uses.

use std::sync::Arc;

use crate::{error::DashboardError, keys::KeyView};

/// The key operations the dashboard performs.
#[async_trait::async_trait]
pub trait SigningKeys: Send + Sync + 'static {
    /// Valid keys (current, next, previous newest first), then the most recent revoked keys.
    async fn list_signing_keys(&self) -> Result<Vec<KeyView>, DashboardError>;
}

/// How the service travels through Leptos context.
pub type SharedSigningKeys = Arc<dyn SigningKeys>;

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
