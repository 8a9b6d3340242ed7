//! Routing by tenant (SPEC §15): one application ([`super::app`]) serves every tenant, and a
//! request is its `Host`'s tenant's: that tenant's state (its keys, clients, JWKS, token
//! endpoint, Management API and pages) goes into the request's extensions before the
//! application sees it. A host that names no tenant is the default tenant's, so a
//! single-tenant deployment behaves exactly as before. Behind a proxy
//! in `SIGNET_TRUSTED_PROXIES`, the host is the proxy's `X-Forwarded-Host`; anyone else's
//! `X-Forwarded-Host` is ignored.
//!
//! The dashboard is the one exception: its pages and server functions answer as the tenant the
//! operator switched to ([`app::routes::TENANT_COOKIE`]), whatever the host, so one dashboard
//! manages every tenant. The cookie picks nothing else: JWKS, tokens and the Management API
//! are always the host's tenant's, and the dashboard still needs the operator's session.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, PoisonError, RwLock},
    task::{Context, Poll},
};

use super::AppState;
use app::routes::{TENANT_COOKIE, is_server_fn, is_tenant_page};
use axum::{
    Router,
    extract::{ConnectInfo, Request},
    http::header,
    response::Response,
};
use ipnet::IpNet;
use tower::{Service, ServiceExt, util::Oneshot};

/// Every tenant's state, by domain, in front of the one application. Cheap to clone; clones
/// share the table.
#[derive(Clone)]
pub struct TenantRouters<T = AppState> {
    app: Router,
    table: Arc<RwLock<Table<T>>>,
    /// The default tenant's domain, which the dashboard's tenant cookie may name too.
    default_domain: String,
    trusted_proxies: Arc<[IpNet]>,
}

struct Table<T> {
    /// Set once the default tenant is started; requests before that are refused.
    default: Option<T>,
    by_domain: HashMap<String, T>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            default: None,
            by_domain: HashMap::new(),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> std::fmt::Debug for TenantRouters<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.domains()).finish()
    }
}

impl<T: Clone + Send + Sync + 'static> TenantRouters<T> {
    /// Serves `app` for every tenant, the default one once [`set_default`](Self::set_default)
    /// names its state; takes the host from `X-Forwarded-Host` for requests from
    /// `trusted_proxies`.
    pub fn new(app: Router, default_domain: &str, trusted_proxies: &[IpNet]) -> Self {
        Self {
            app,
            table: Arc::default(),
            default_domain: default_domain.to_ascii_lowercase(),
            trusted_proxies: trusted_proxies.into(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table<T>> {
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table<T>> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The default tenant (and every host that names no tenant).
    pub fn set_default(&self, state: T) {
        self.write().default = Some(state);
    }

    /// Serves `state`'s tenant for requests to `domain`.
    pub fn insert(&self, domain: &str, state: T) {
        self.write()
            .by_domain
            .insert(domain.to_ascii_lowercase(), state);
    }

    /// Stops serving `domain`: its requests go to the default tenant again.
    pub fn remove(&self, domain: &str) {
        self.write().by_domain.remove(&domain.to_ascii_lowercase());
    }

    /// The domains served besides the default tenant's.
    pub fn domains(&self) -> Vec<String> {
        self.read().by_domain.keys().cloned().collect()
    }

    /// The host a request names: a trusted proxy's `X-Forwarded-Host` (the last value, the one
    /// that proxy set), else `Host`, else the URI's.
    fn host<'r>(&self, request: &'r Request) -> Option<&'r str> {
        let headers = request.headers();
        let forwarded = self
            .is_from_trusted_proxy(request)
            .then(|| last_value(request, "x-forwarded-host"))
            .flatten();
        forwarded
            .or_else(|| headers.get(header::HOST)?.to_str().ok())
            .or_else(|| request.uri().host())
    }

    /// Whether the request's TCP peer is one of the trusted proxies.
    fn is_from_trusted_proxy(&self, request: &Request) -> bool {
        // Nobody's, unless configured: the common case reads no extension.
        !self.trusted_proxies.is_empty()
            && request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_canonical())
                .is_some_and(|ip| self.trusted_proxies.iter().any(|net| net.contains(&ip)))
    }

    /// For a request from a trusted proxy, the client it names in `X-Forwarded-For` (the last
    /// address, the one that proxy added): the address the audit log and the sign-in throttle
    /// see, rather than the proxy's.
    fn forwarded_client(&self, request: &Request) -> Option<SocketAddr> {
        if !self.is_from_trusted_proxy(request) {
            return None;
        }
        let client: std::net::IpAddr = last_value(request, "x-forwarded-for")?.parse().ok()?;
        Some(SocketAddr::new(client, 0))
    }

    /// The tenant the operator switched the dashboard to, for a dashboard request.
    fn chosen_for_dashboard(request: &Request) -> Option<&str> {
        let path = request.uri().path();
        if !(is_tenant_page(path) || is_server_fn(path)) {
            return None;
        }
        request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|cookies| cookies.split(';'))
            .filter_map(|cookie| cookie.trim().split_once('='))
            .find(|(name, _)| *name == TENANT_COOKIE)
            .map(|(_, domain)| domain)
    }

    /// The tenant of a request: by host, else the default tenant.
    fn pick(&self, request: &Request) -> Option<T> {
        let table = self.read();
        if let Some(chosen) = Self::chosen_for_dashboard(request) {
            let chosen = chosen.to_ascii_lowercase();
            if chosen == self.default_domain {
                return table.default.clone();
            }
            if let Some(state) = table.by_domain.get(&chosen) {
                return Some(state.clone());
            }
        }
        let host = self.host(request).map(host_name);
        let state = match host {
            Some(host) if !table.by_domain.is_empty() => {
                table.by_domain.get(&host.to_ascii_lowercase())
            }
            _ => None,
        };
        state.or(table.default.as_ref()).cloned()
    }

    /// One router that dispatches to the tenants' ones.
    pub fn into_router(self) -> Router {
        Router::new().fallback_service(self)
    }
}

/// The last comma-separated value of a header: the one the nearest proxy set or appended.
fn last_value<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    let value = request.headers().get(name)?.to_str().ok()?;
    Some(value.rsplit(',').next()?.trim()).filter(|value| !value.is_empty())
}

/// `host[:port]` or `[v6]:port` without the port.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(name, _)| &name[1..]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

impl<T: Clone + Send + Sync + 'static> Service<Request> for TenantRouters<T> {
    type Response = Response;
    type Error = Infallible;
    type Future = Oneshot<Router, Request>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        if let Some(client) = self.forwarded_client(&request) {
            request.extensions_mut().insert(ConnectInfo(client));
        }
        match self.pick(&request) {
            Some(state) => {
                request.extensions_mut().insert(state);
                self.app.clone().oneshot(request)
            }
            // Only before the default tenant has started: nothing to answer as.
            None => starting().oneshot(request),
        }
    }
}

/// Answers 503 to everything: the server is not serving yet.
fn starting() -> Router {
    Router::new().fallback(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE })
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use axum::{body::Body, routing::get};

    use super::*;

    /// An application that answers with the name of the request's tenant.
    fn app() -> Router {
        let name = |axum::Extension(name): axum::Extension<&'static str>| async move { name };
        Router::new()
            .route("/", get(name))
            .route("/tenant/signing_keys", get(name))
            .route("/.well-known/jwks.json", get(name))
    }

    async fn served_by(
        routers: &TenantRouters<&'static str>,
        peer: [u8; 4],
        headers: &[(&str, &str)],
    ) -> String {
        let mut request = Request::builder().uri("/");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 40_000))));
        let response = routers.clone().call(request).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn only_a_trusted_proxy_names_the_tenant_with_x_forwarded_host() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let routers = TenantRouters::new(app(), "default.example", &trusted);
        routers.set_default("default");
        routers.insert("acme.example.com", "acme");
        let proxy = [10, 1, 2, 3];
        let stranger = [192, 0, 2, 7];
        let acme = [("x-forwarded-host", "acme.example.com")];
        assert_eq!(served_by(&routers, proxy, &acme).await, "acme");
        assert_eq!(served_by(&routers, stranger, &acme).await, "default");
        // The proxy's own value is the last one: what a client sent before it counts for nothing.
        let appended = [("x-forwarded-host", "acme.example.com, other.example")];
        assert_eq!(served_by(&routers, proxy, &appended).await, "default");
        let by_host = [("host", "ACME.example.com:8443")];
        assert_eq!(served_by(&routers, stranger, &by_host).await, "acme");
        let both = [
            ("host", "acme.example.com"),
            ("x-forwarded-host", "x.example"),
        ];
        assert_eq!(served_by(&routers, proxy, &both).await, "default");
        routers.remove("acme.example.com");
        assert_eq!(served_by(&routers, proxy, &acme).await, "default");
    }

    #[tokio::test]
    async fn a_trusted_proxy_names_the_client_address() {
        let peer =
            |ConnectInfo(addr): ConnectInfo<SocketAddr>| async move { addr.ip().to_string() };
        let app = Router::new().route("/", get(peer));
        let routers = TenantRouters::new(app, "default.example", &["10.0.0.0/8".parse().unwrap()]);
        routers.set_default("default");
        let forwarded = [("x-forwarded-for", "203.0.113.9, 198.51.100.4")];
        assert_eq!(
            served_by(&routers, [10, 0, 0, 1], &forwarded).await,
            "198.51.100.4"
        );
        assert_eq!(
            served_by(&routers, [192, 0, 2, 7], &forwarded).await,
            "192.0.2.7"
        );
        let garbage = [("x-forwarded-for", "not an address")];
        assert_eq!(
            served_by(&routers, [10, 0, 0, 1], &garbage).await,
            "10.0.0.1"
        );
    }

    #[tokio::test]
    async fn the_dashboard_answers_as_the_tenant_the_operator_chose() {
        let routers = TenantRouters::new(app(), "default.example", &[]);
        routers.set_default("default");
        routers.insert("acme.example.com", "acme");
        let ask = |path: &'static str, cookie: &'static str| {
            let routers = routers.clone();
            async move {
                let request = Request::builder()
                    .uri(path)
                    .header("host", "default.example")
                    .header("cookie", cookie)
                    .body(Body::empty())
                    .unwrap();
                let response = routers.clone().call(request).await.unwrap();
                let body = axum::body::to_bytes(response.into_body(), 1024)
                    .await
                    .unwrap();
                String::from_utf8(body.to_vec()).unwrap()
            }
        };
        let chose_acme = "session=x; signet_tenant=acme.example.com";
        assert_eq!(ask("/tenant/signing_keys", chose_acme).await, "acme");
        // Only the dashboard: the host's tenant keeps its JWKS.
        assert_eq!(ask("/.well-known/jwks.json", chose_acme).await, "default");
        let chose_default = "signet_tenant=default.example";
        assert_eq!(ask("/tenant/signing_keys", chose_default).await, "default");
        let chose_nobody = "signet_tenant=gone.example";
        assert_eq!(ask("/tenant/signing_keys", chose_nobody).await, "default");
    }

    #[test]
    fn ports_are_not_part_of_the_tenant() {
        assert_eq!(host_name("acme.example.com:3000"), "acme.example.com");
        assert_eq!(host_name("acme.example.com"), "acme.example.com");
        assert_eq!(host_name("[::1]:3000"), "::1");
    }
}
