//! What every handler can reach, and how the token endpoint and the Management API behave.

use std::{sync::Arc, time::Duration};

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use super::{
    management::KeyListCache, rate_limit::ClientRateLimiter, token_throttle::TokenThrottle,
};
use crate::services::{
    Services, clients::ClientService, clock::SharedClock, keys::KeyService,
    operator::OperatorService, signing::SigningService,
};

/// What every handler can reach. Cloned for every request (by each extractor and middleware
/// that takes it), so it is one shared pointer: a clone is one atomic increment, not one per
/// service and setting (measured: 2% of the CPU of a signing request).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

/// The state itself, reached through [`AppState`] (`state.keys`, …).
#[derive(Debug)]
pub struct Shared {
    pub keys: KeyService,
    pub clients: ClientService,
    pub operator: OperatorService,
    pub signing: SigningService,
    /// Read once per request, by the handler.
    pub clock: SharedClock,
    pub leptos: LeptosOptions,
    pub api: Arc<ApiSettings>,
    /// Set to `true` when the server starts shutting down: long-lived responses (the dashboard's
    /// event stream) end so that graceful shutdown does not wait on them.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(services: Services, leptos: LeptosOptions, api: ApiSettings) -> Self {
        let Services {
            keys,
            clients,
            operator,
            signing,
            clock,
        } = services;
        Self(Arc::new(Shared {
            keys,
            clients,
            operator,
            signing,
            clock,
            leptos,
            api: Arc::new(api),
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
}

impl ApiSettings {
    /// Tokens living `token_lifetime`; at most `requests_per_minute` per client.
    pub fn new(token_lifetime: Duration, requests_per_minute: u32) -> Self {
        Self {
            token_lifetime,
            limiter: ClientRateLimiter::new(requests_per_minute),
            token_throttle: TokenThrottle::default(),
            key_list: KeyListCache::default(),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
