//! The process's Prometheus metrics (SPEC §14): counters the services and the HTTP layer bump as
//! things happen, and gauges read off the served key sets when `/metrics` is scraped.
//!
//! One [`Metrics`] per process, passed to every tenant's services like the spare-key pool; there
//! is no global registry. Label values are bounded: a tenant's domain, an action, an actor kind,
//! an algorithm, a route template, a status — never a kid, a client id or a raw path.

use std::sync::{Arc, atomic::AtomicU64};

use app::{algorithm::SigningAlg, keys::KeyState};
use chrono::{DateTime, Utc};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use super::{keys::KeyService, spare_keys::SpareKeys};
use crate::domain::{Actor, material::KeyKind};

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    tenant: String,
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabels {
    tenant: String,
    action: String,
    actor: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    tenant: String,
    alg: String,
    path: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

type Seconds = Gauge<f64, AtomicU64>;
type Latency = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The metrics of one process; cheap to clone, every clone the same metrics.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    /// Held while a scrape sets the gauges and encodes them: two scrapes at once must not
    /// clear each other's gauges halfway.
    scraping: std::sync::Mutex<()>,
    key_changes: Family<ChangeLabels, Counter>,
    tokens_signed: Family<TokenLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    current_key_age: Family<TenantLabels, Seconds>,
    next_rotation: Family<TenantLabels, Seconds>,
    keys: Family<StateLabels, Gauge>,
    version: Family<TenantLabels, Gauge>,
    database_up: Gauge,
    spare_keys: Family<KindLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 4 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

impl Metrics {
    /// Every metric Signet exports, registered once.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("signet");
        let key_changes = Family::<ChangeLabels, Counter>::default();
        registry.register(
            "key_changes",
            "Changes to a tenant's key set (rotate, revoke, rotate_and_revoke, replace_next), by \
             actor kind (api, operator, cli, schedule)",
            key_changes.clone(),
        );
        let tokens_signed = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens_signed",
            "Tokens signed, by algorithm and path (oauth_token, sign, sign_batch)",
            tokens_signed.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            latency.clone(),
        );
        let current_key_age = Family::<TenantLabels, Seconds>::default();
        registry.register(
            "current_key_age_seconds",
            "How long the tenant's current key has been current",
            current_key_age.clone(),
        );
        let next_rotation = Family::<TenantLabels, Seconds>::default();
        registry.register(
            "next_scheduled_rotation_seconds",
            "Seconds until the tenant's next scheduled rotation (only with a schedule; negative \
             while one is overdue)",
            next_rotation.clone(),
        );
        let keys = Family::<StateLabels, Gauge>::default();
        registry.register(
            "keys",
            "The tenant's valid keys by state (current, next, previous)",
            keys.clone(),
        );
        let version = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "key_set_version",
            "The key-set version this process serves for the tenant: a process behind the others \
             has stopped following changes",
            version.clone(),
        );
        let database_up = Gauge::default();
        registry.register(
            "database_up",
            "Whether the database answered the last time this process asked (1) or not (0)",
            database_up.clone(),
        );
        let spare_keys = Family::<KindLabels, Gauge>::default();
        registry.register(
            "spare_keys",
            "Key pairs generated ahead and ready, by key kind",
            spare_keys.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                scraping: std::sync::Mutex::default(),
                key_changes,
                tokens_signed,
                requests,
                latency,
                current_key_age,
                next_rotation,
                keys,
                version,
                database_up,
                spare_keys,
            }),
        }
    }

    /// A change to `tenant`'s key set, made by `actor`.
    pub fn key_changed(&self, tenant: &str, action: &str, actor: &Actor) {
        let labels = ChangeLabels {
            tenant: tenant.to_owned(),
            action: action.to_owned(),
            actor: actor_kind(actor).to_owned(),
        };
        self.inner.key_changes.get_or_create(&labels).inc();
    }

    /// `count` tokens signed for `tenant` with `alg`, through `path`.
    pub fn tokens_signed(&self, tenant: &str, alg: SigningAlg, path: &str, count: u64) {
        let labels = TokenLabels {
            tenant: tenant.to_owned(),
            alg: alg.as_str().to_owned(),
            path: path.to_owned(),
        };
        self.inner
            .tokens_signed
            .get_or_create(&labels)
            .inc_by(count);
    }

    /// One HTTP request answered: `route` is the matched route's template.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            route: route.to_owned(),
            method: method.to_owned(),
            status: status.to_string(),
        };
        self.inner.requests.get_or_create(&labels).inc();
        let route = RouteLabels {
            route: route.to_owned(),
        };
        self.inner.latency.get_or_create(&route).observe(seconds);
    }

    /// The exposition text, with the gauges read off `tenants` (their key services) at `now`.
    pub fn render(
        &self,
        tenants: &[KeyService],
        spares: &SpareKeys,
        database_up: bool,
        now: DateTime<Utc>,
    ) -> String {
        let inner = &self.inner;
        let _scraping = inner
            .scraping
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Deleted tenants leave no series behind.
        inner.current_key_age.clear();
        inner.next_rotation.clear();
        inner.keys.clear();
        inner.version.clear();
        for keys in tenants {
            self.read_tenant(keys, now);
        }
        inner.database_up.set(i64::from(database_up));
        inner.spare_keys.clear();
        for (kind, count) in spares.counts() {
            let labels = KindLabels {
                kind: kind_name(kind),
            };
            inner
                .spare_keys
                .get_or_create(&labels)
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &inner.registry);
        text
    }

    fn read_tenant(&self, keys: &KeyService, now: DateTime<Utc>) {
        let inner = &self.inner;
        let tenant = keys.tenant_domain().to_owned();
        let published = keys.published();
        let labels = TenantLabels {
            tenant: tenant.clone(),
        };
        inner.version.get_or_create(&labels).set(published.version);
        if let Some(since) = published.current().and_then(|k| k.record.current_since) {
            let age = (now - since).num_milliseconds() as f64 / 1000.0;
            inner.current_key_age.get_or_create(&labels).set(age);
        }
        if let Some(at) = super::schedule::rotation_at(&published, &keys.schedule()) {
            let seconds = (at - now).num_milliseconds() as f64 / 1000.0;
            inner.next_rotation.get_or_create(&labels).set(seconds);
        }
        for state in [KeyState::Current, KeyState::Next, KeyState::Previous] {
            let count = published
                .keys
                .iter()
                .filter(|k| k.record.state == state)
                .count();
            let labels = StateLabels {
                tenant: tenant.clone(),
                state: state.as_str().to_owned(),
            };
            inner
                .keys
                .get_or_create(&labels)
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }
}

/// The bounded kind of an actor: `operator`, `cli`, `schedule`, or `api` (a client id).
fn actor_kind(actor: &Actor) -> &'static str {
    match actor.name.as_str() {
        "operator" => "operator",
        "schedule" => "schedule",
        name if name.starts_with("cli:") => "cli",
        _ => "api",
    }
}

fn kind_name(kind: KeyKind) -> String {
    match kind {
        KeyKind::Rsa(bits) => format!("rsa{bits}"),
        KeyKind::P256 => "p256".to_owned(),
        KeyKind::Ed25519 => "ed25519".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_labelled_by_bounded_values_only() {
        let metrics = Metrics::new();
        metrics.key_changed("a.test", "rotate", &Actor::command_line("root"));
        metrics.key_changed("a.test", "rotate", &Actor::schedule());
        metrics.key_changed("a.test", "rotate", &Actor::schedule());
        metrics.tokens_signed("a.test", SigningAlg::ES256, "sign_batch", 100);
        metrics.request("/api/v2/keys/signing/{kid}", "GET", 404, 0.002);
        let spares = SpareKeys::new(
            Arc::new(crate::services::key_source::GeneratedKeys),
            KeyKind::P256,
            crate::services::spare_keys::Refill::Never,
        );
        let text = metrics.render(&[], &spares, true, Utc::now());
        for line in [
            r#"signet_key_changes_total{tenant="a.test",action="rotate",actor="cli"} 1"#,
            r#"signet_key_changes_total{tenant="a.test",action="rotate",actor="schedule"} 2"#,
            r#"signet_tokens_signed_total{tenant="a.test",alg="ES256",path="sign_batch"} 100"#,
            r#"signet_http_requests_total{route="/api/v2/keys/signing/{kid}",method="GET",status="404"} 1"#,
            "signet_database_up 1",
            r#"signet_spare_keys{kind="p256"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
