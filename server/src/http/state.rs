//! What every handler can reach, and how the token endpoint and the Management API behave.
//!
//! One router serves every tenant: the tenant of a request is an [`AppState`] that
//! [`super::tenants::TenantRouters`] puts into the request's extensions, and handlers take it as
//! an extractor. Nothing reads a tenant from anywhere else.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
};
use leptos::prelude::LeptosOptions;
use tokio::sync::watch;

use super::{
    encoded::{Encoded, PerVersion},
    management::KeyListCache,
    rate_limit::ClientRateLimiter,
    token_throttle::TokenThrottle,
};
use crate::services::{
    Services, audit::AuditTrail, clients::ClientService, clock::SharedClock, keys::KeyService,
    operator::OperatorService, published::Published, schedule::ScheduleService,
    signing::SigningService,
};

/// What every handler can reach. Cloned for every request (by each extractor and middleware
/// that takes it), so it is one shared pointer: a clone is one atomic increment, not one per
/// service and setting (measured: 2% of the CPU of a signing request).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

/// The state itself, reached through [`AppState`] (`state.keys`, …).
pub struct Shared {
    pub keys: KeyService,
    pub clients: ClientService,
    pub operator: OperatorService,
    pub signing: SigningService,
    pub schedule: ScheduleService,
    pub audit: AuditTrail,
    /// Read once per request, by the handler.
    pub clock: SharedClock,
    pub leptos: LeptosOptions,
    pub api: Arc<ApiSettings>,
    /// The deployment's tenants, for the dashboard's switcher and Tenants page; `None` when
    /// the server serves one tenant only.
    pub tenants: Option<app::service::SharedTenants>,
    /// Set to `true` when the server starts shutting down: long-lived responses (the dashboard's
    /// event stream) end so that graceful shutdown does not wait on them.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("keys", &self.keys)
            .field("deployment", &self.tenants.is_some())
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(services: Services, leptos: LeptosOptions, api: ApiSettings) -> Self {
        Self::in_deployment(services, leptos, api, None)
    }

    /// The state of a tenant this process serves, in a deployment whose dashboard lists and
    /// creates `tenants`: its shared bodies follow its key set
    /// ([`ApiSettings::forget_old_bodies`], a task of the runtime this is called in).
    pub fn serving(
        services: Services,
        leptos: LeptosOptions,
        api: ApiSettings,
        tenants: app::service::SharedTenants,
    ) -> Self {
        let state = Self::in_deployment(services, leptos, api, Some(tenants));
        tokio::spawn(Arc::clone(&state.api).forget_old_bodies(state.keys.subscribe()));
        state
    }

    /// The state of one tenant of a deployment whose dashboard lists and creates `tenants`.
    fn in_deployment(
        services: Services,
        leptos: LeptosOptions,
        api: ApiSettings,
        tenants: Option<app::service::SharedTenants>,
    ) -> Self {
        let Services {
            keys,
            clients,
            operator,
            signing,
            schedule,
            audit,
            clock,
        } = services;
        Self(Arc::new(Shared {
            keys,
            clients,
            operator,
            signing,
            schedule,
            audit,
            clock,
            leptos,
            api: Arc::new(api),
            tenants,
            stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
        }))
    }

    /// Ends the long-lived responses; called when shutdown begins.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }
}

/// How the token endpoint and the Management API behave.
#[derive(Debug)]
pub struct ApiSettings {
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// The per-client request limit.
    pub limiter: ClientRateLimiter,
    /// Failed client authentications at the token endpoint.
    pub token_throttle: TokenThrottle,
    /// The Management API's key list, serialised once per key change.
    pub key_list: KeyListCache,
    /// The JWKS in each encoding, compressed once per key change.
    pub jwks: PerVersion<(), Encoded>,
}

impl ApiSettings {
    /// Tokens living `token_lifetime`; at most `requests_per_minute` per client.
    pub fn new(token_lifetime: Duration, requests_per_minute: u32) -> Self {
        Self {
            token_lifetime,
            limiter: ClientRateLimiter::new(requests_per_minute),
            token_throttle: TokenThrottle::default(),
            key_list: KeyListCache::default(),
            jwks: PerVersion::default(),
        }
    }

    /// Drops the JWKS and key list made from a key set as soon as `key_set` changes, instead of
    /// holding them until the next request asks for the new ones: after 50 rotations at a
    /// thousand keys, that was 6.6 MB of bodies nobody would be sent again. Ends when the
    /// tenant's key service is gone (the receiver holds the tenant's settings, not its state).
    pub async fn forget_old_bodies(self: Arc<Self>, mut key_set: watch::Receiver<Arc<Published>>) {
        while key_set.changed().await.is_ok() {
            let version = key_set.borrow_and_update().version;
            self.jwks.forget_before(version);
            self.key_list.forget_before(version);
        }
    }
}

/// The request's tenant, as the tenant router (or [`super::router`]'s layer) put it there.
impl<S: Send + Sync> FromRequestParts<S> for AppState {
    type Rejection = super::api_error::ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only a wiring mistake gets here: every router puts the tenant in first.
        parts
            .extensions
            .get::<AppState>()
            .cloned()
            .ok_or_else(|| super::api_error::ApiError::internal(&"a request without its tenant"))
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
