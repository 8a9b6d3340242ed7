//! Routing by tenant (SPEC §15): each tenant has its own application (its keys, clients, JWKS,
//! token endpoint, Management API and pages, built by [`super::router`] on that tenant's
//! services), and a request goes to the one its `Host` names. A host that names no tenant is
//! the default tenant's, so a single-tenant deployment behaves exactly as before.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, PoisonError, RwLock},
    task::{Context, Poll},
};

use axum::{Router, extract::Request, http::header, response::Response};
use tower::{Service, ServiceExt, util::Oneshot};

/// The applications of every tenant, by domain. Cheap to clone; clones share the table.
#[derive(Clone)]
pub struct TenantRouters {
    default: Router,
    by_domain: Arc<RwLock<HashMap<String, Router>>>,
}

impl std::fmt::Debug for TenantRouters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.domains()).finish()
    }
}

impl TenantRouters {
    /// Serves the default tenant's application for every host until others are added.
    pub fn new(default: Router) -> Self {
        Self {
            default,
            by_domain: Arc::default(),
        }
    }

    /// Serves `router` for requests to `domain`.
    pub fn insert(&self, domain: &str, router: Router) {
        self.by_domain
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(domain.to_ascii_lowercase(), router);
    }

    /// Stops serving `domain`: its requests go to the default tenant again.
    pub fn remove(&self, domain: &str) {
        self.by_domain
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&domain.to_ascii_lowercase());
    }

    /// The domains served besides the default tenant's.
    pub fn domains(&self) -> Vec<String> {
        self.by_domain
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// The application for a request: its tenant's by host, else the default tenant's.
    fn pick(&self, request: &Request) -> Router {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| request.uri().host());
        let Some(host) = host else {
            return self.default.clone();
        };
        let domain = host_name(host).to_ascii_lowercase();
        self.by_domain
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&domain)
            .cloned()
            .unwrap_or_else(|| self.default.clone())
    }

    /// One router that dispatches to the tenants' ones.
    pub fn into_router(self) -> Router {
        Router::new().fallback_service(self)
    }
}

/// `host[:port]` or `[v6]:port` without the port.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(name, _)| &name[1..]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

impl Service<Request> for TenantRouters {
    type Response = Response;
    type Error = Infallible;
    type Future = Oneshot<Router, Request>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        self.pick(&request).oneshot(request)
    }
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn ports_are_not_part_of_the_tenant() {
        assert_eq!(host_name("acme.example.com:3000"), "acme.example.com");
        assert_eq!(host_name("acme.example.com"), "acme.example.com");
        assert_eq!(host_name("[::1]:3000"), "::1");
    }
}
