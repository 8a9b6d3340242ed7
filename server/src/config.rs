//! Settings: an optional `signet.toml`, overlaid by `SIGNET_*` environment variables, parsed
//! once into a validated [`Config`] with every path resolved. The start-up wiring turns the
//! config into the services' options; nothing here knows a service.

use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use app::algorithm::KeySpec;
use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use ipnet::IpNet;
use serde::Deserialize;
use zeroize::Zeroizing;

/// Environment variables with this prefix are settings (`SIGNET_TENANT_DOMAIN` → `tenant_domain`).
pub const ENV_PREFIX: &str = "SIGNET_";

/// Every setting Signet reads, as written. Unknown settings are refused rather than silently
/// ignored.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Address the server listens on.
    #[serde(default = "default_addr")]
    pub addr: SocketAddr,
    /// Holds the embedded database and the generated master key.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `signet.db` in the data dir.
    #[serde(default)]
    pub database_url: Option<String>,
    /// The tenant's domain: certificate CN, token issuer and audience.
    #[serde(default = "default_tenant_domain")]
    pub tenant_domain: String,
    /// The key-encryption key; defaults to `master.key` in the data dir, generated on first start.
    #[serde(default)]
    pub master_key_file: Option<PathBuf>,
    /// The built dashboard assets (`pkg/`); found automatically when unset.
    #[serde(default)]
    pub site_root: Option<PathBuf>,
    /// Rotations per rolling day through the API and dashboard (the CLI is exempt); 0 = unlimited.
    #[serde(default = "default_rotation_limit_per_day")]
    pub rotation_limit_per_day: u32,
    /// How long a key must have been in the JWKS before it may become current, in seconds: the
    /// JWKS `max-age` plus `stale-while-revalidate`. 0 turns the check off.
    #[serde(default = "default_publication_window_secs")]
    pub publication_window_secs: u32,
    /// The algorithm a new tenant's keys sign with: RS256, PS256, ES256 or EdDSA.
    #[serde(default = "default_signing_alg")]
    pub signing_alg: String,
    /// The RSA key size for RS256 and PS256 (2048, 3072 or 4096); the algorithm's own otherwise.
    #[serde(default)]
    pub signing_key_size: Option<u32>,
    /// Lifetime of issued access tokens, in seconds.
    #[serde(default = "default_token_lifetime_secs")]
    pub token_lifetime_secs: u64,
    /// The dashboard's operator password; generated and printed once at first start when unset.
    #[serde(default)]
    pub admin_password: Option<String>,
    /// Management API requests per client per minute.
    #[serde(default = "default_api_rate_limit_per_minute")]
    pub api_rate_limit_per_minute: u32,
    /// PEM certificate chain for built-in HTTPS (with `tls_key_file`); plain HTTP when unset.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    /// For tests only: a file holding a number of seconds added to the system clock, read at
    /// every clock read, so a test moves Signet's time without sleeping.
    #[serde(default)]
    pub test_clock_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// Addresses and networks (`10.0.0.1, 10.1.0.0/16, ::1`) of proxies whose
    /// `X-Forwarded-Host` names the tenant of a request; nobody's when unset.
    #[serde(default)]
    pub trusted_proxies: Option<String>,
    /// Where `GET /metrics` is served on its own (never on the main port then).
    #[serde(default)]
    pub metrics_addr: Option<SocketAddr>,
    /// The bearer token `GET /metrics` requires (on the main port when `metrics_addr` is unset).
    #[serde(default)]
    pub metrics_token: Option<String>,
}

fn default_rotation_limit_per_day() -> u32 {
    5
}

fn default_publication_window_secs() -> u32 {
    30
}

fn default_signing_alg() -> String {
    "RS256".to_owned()
}

fn default_token_lifetime_secs() -> u64 {
    86_400
}

fn default_api_rate_limit_per_minute() -> u32 {
    600
}

fn default_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 3000))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

fn default_tenant_domain() -> String {
    "localhost".to_owned()
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid settings: {0}")]
    Invalid(String),
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
}

/// The operator password from the settings. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminPassword(Zeroizing<String>);

impl AdminPassword {
    /// The password itself, to hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AdminPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The bearer token of the metrics. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsToken(Zeroizing<String>);

impl MetricsToken {
    /// The token itself, to compare a request's with.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where and how `GET /metrics` is served; off when neither is set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsSettings {
    /// A listener of its own.
    pub addr: Option<SocketAddr>,
    /// The bearer token a scrape must send.
    pub token: Option<MetricsToken>,
}

impl MetricsSettings {
    /// Whether `GET /metrics` is served anywhere.
    pub fn enabled(&self) -> bool {
        self.addr.is_some() || self.token.is_some()
    }
}

/// The certificate chain and key for built-in HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The validated configuration: every value checked, every path resolved, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address the server listens on.
    pub addr: SocketAddr,
    /// Holds the embedded database and the generated master key.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…` in force.
    pub database_url: String,
    /// Whether the database lives in the data directory (no `database_url` was set).
    pub database_in_data_dir: bool,
    /// The tenant's domain: certificate CN, token issuer and audience.
    pub tenant_domain: String,
    /// The key-encryption key's file in force.
    pub master_key_file: PathBuf,
    /// Whether `master_key_file` was set, so a missing file is an error rather than generated.
    pub master_key_file_configured: bool,
    /// The built dashboard assets (`pkg/`).
    pub site_root: PathBuf,
    /// Rotations per rolling day through the API and dashboard (the CLI is exempt); 0 = unlimited.
    pub rotation_limit_per_day: u32,
    /// How long a key must have been in the JWKS before it may become current, in seconds.
    pub publication_window_secs: u32,
    /// The key type a new tenant's keys get.
    pub signing_key: KeySpec,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// The dashboard's operator password; generated and printed once at first start when unset.
    pub admin_password: Option<AdminPassword>,
    /// Management API requests per client per minute.
    pub api_rate_limit_per_minute: u32,
    /// Built-in HTTPS; plain HTTP when unset.
    pub tls: Option<TlsFiles>,
    /// For tests only: the system clock plus the seconds in this file.
    pub test_clock_file: Option<PathBuf>,
    /// Proxies whose `X-Forwarded-Host` names the tenant of a request.
    pub trusted_proxies: Vec<IpNet>,
    /// `GET /metrics`.
    pub metrics: MetricsSettings,
}

impl Config {
    /// Reads `file` (optional unless `file_required`) and the environment, environment winning.
    pub fn load(file: &Path, file_required: bool) -> Result<Self, ConfigError> {
        if file_required && !file.exists() {
            return Err(ConfigError::MissingFile(file.to_owned()));
        }
        // `file_exact` does not search parent directories; a missing optional file is skipped.
        let mut figment = Figment::new();
        if file.exists() {
            figment = figment.merge(Toml::file_exact(file));
        }
        Self::from_figment(figment.merge(env_provider()))
    }

    /// Reads the settings from a TOML text only (for tests and tools).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::new().merge(Toml::string(text)))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(|error| {
            // Figment may collect several errors; the first one is the one to fix first.
            let first = error.into_iter().next().map(|e| e.to_string());
            // One line, whatever figment's formatting.
            let first = first
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            ConfigError::Invalid(first)
        })?;
        settings.validate()?;
        Ok(settings.resolve())
    }
}

impl Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !is_valid_domain(&self.tenant_domain) {
            return Err(ConfigError::Invalid(format!(
                "tenant_domain {:?} is not a DNS name (letters, digits, '-' and '.', at most 64 characters)",
                self.tenant_domain
            )));
        }
        if !(60..=30 * 86_400).contains(&self.token_lifetime_secs) {
            return Err(ConfigError::Invalid(
                "token_lifetime_secs must be between 60 and 2592000 (30 days)".into(),
            ));
        }
        if self.publication_window_secs > 86_400 {
            return Err(ConfigError::Invalid(
                "publication_window_secs must be at most 86400 (one day)".into(),
            ));
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.chars().count() < 16 || t.chars().any(char::is_whitespace))
        {
            return Err(ConfigError::Invalid(
                "metrics_token must be at least 16 characters, without spaces".into(),
            ));
        }
        if self.metrics_addr == Some(self.addr) {
            return Err(ConfigError::Invalid(
                "metrics_addr must differ from addr: the metrics get a listener of their own"
                    .into(),
            ));
        }
        KeySpec::parse(&self.signing_alg, self.signing_key_size)
            .map_err(|e| ConfigError::Invalid(format!("signing_alg/signing_key_size: {e}")))?;
        if self
            .admin_password
            .as_ref()
            .is_some_and(|p| p.chars().count() < 12)
        {
            return Err(ConfigError::Invalid(
                "admin_password must be at least 12 characters".into(),
            ));
        }
        if self.api_rate_limit_per_minute == 0 {
            return Err(ConfigError::Invalid(
                "api_rate_limit_per_minute must be at least 1".into(),
            ));
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert_file and tls_key_file go together: set both for HTTPS, or neither".into(),
            ));
        }
        if let Some(proxies) = &self.trusted_proxies {
            parse_trusted_proxies(proxies).map_err(ConfigError::Invalid)?;
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(
                "database_url must start with sqlite:, postgres:// or postgresql://".into(),
            ));
        }
        Ok(())
    }

    /// Resolves the defaults and paths, once.
    fn resolve(self) -> Config {
        let database_in_data_dir = self.database_url.is_none();
        let database_url = self
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("signet.db").display()));
        let master_key_file_configured = self.master_key_file.is_some();
        let master_key_file = self
            .master_key_file
            .unwrap_or_else(|| self.data_dir.join("master.key"));
        let tls = match (self.tls_cert_file, self.tls_key_file) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            _ => None,
        };
        Config {
            addr: self.addr,
            site_root: site_root(self.site_root),
            data_dir: self.data_dir,
            database_url,
            database_in_data_dir,
            tenant_domain: self.tenant_domain,
            master_key_file,
            master_key_file_configured,
            rotation_limit_per_day: self.rotation_limit_per_day,
            publication_window_secs: self.publication_window_secs,
            // Checked by `validate`.
            signing_key: KeySpec::parse(&self.signing_alg, self.signing_key_size)
                .unwrap_or_default(),
            token_lifetime: Duration::from_secs(self.token_lifetime_secs),
            metrics: MetricsSettings {
                addr: self.metrics_addr,
                token: self
                    .metrics_token
                    .map(|token| MetricsToken(Zeroizing::new(token))),
            },
            admin_password: self
                .admin_password
                .map(|p| AdminPassword(Zeroizing::new(p))),
            api_rate_limit_per_minute: self.api_rate_limit_per_minute,
            tls,
            test_clock_file: self.test_clock_file,
            // Checked by `validate`.
            trusted_proxies: self
                .trusted_proxies
                .as_deref()
                .map(parse_trusted_proxies)
                .and_then(Result::ok)
                .unwrap_or_default(),
        }
    }
}

/// `10.0.0.1, 10.1.0.0/16, ::1`: addresses (one host each) and networks, separated by commas
/// or spaces.
fn parse_trusted_proxies(text: &str) -> Result<Vec<IpNet>, String> {
    text.split([',', ' '])
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "trusted_proxies: {item:?} is neither an IP address nor a network \
                         (like 10.0.0.0/8)"
                    )
                })
        })
        .collect()
}

/// Where the dashboard's built assets are: the setting, cargo-leptos's `LEPTOS_SITE_ROOT`,
/// `target/site` under the working directory, or `../site` beside the binary.
fn site_root(configured: Option<PathBuf>) -> PathBuf {
    if let Some(root) = configured {
        return root;
    }
    if let Some(root) = std::env::var_os("LEPTOS_SITE_ROOT") {
        return PathBuf::from(root);
    }
    let in_repo = PathBuf::from("target/site");
    if in_repo.is_dir() {
        return in_repo;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("site")))
        .filter(|dir| dir.is_dir())
        .unwrap_or(in_repo)
}

/// `SIGNET_*` variables, except the config file's own path and the test suite's variables.
fn env_provider() -> Env {
    Env::prefixed(ENV_PREFIX).filter(|key| {
        let key = key.as_str().to_ascii_lowercase();
        // SIGNET_TEST_* belong to the test suites (SIGNET_TEST_DATABASE_URL), except the
        // test clock, which is a setting of the binary under test. SIGNET_LOG_FORMAT is read by
        // `main` before any setting, so that the first line is already in its format.
        key != "config"
            && key != "log_format"
            && (!key.starts_with("test_") || key == "test_clock_file")
    })
}

/// Whether `domain` can name a tenant (the dashboard applies the same rule).
pub fn is_valid_domain(domain: &str) -> bool {
    app::tenants::is_domain(domain)
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let settings = Config::from_toml("").unwrap();
        assert_eq!(settings.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(settings.tenant_domain, "localhost");
        assert_eq!(settings.database_url, "sqlite://data/signet.db");
        assert_eq!(settings.master_key_file, PathBuf::from("data/master.key"));
        assert_eq!(settings.rotation_limit_per_day, 5);
        assert_eq!(settings.token_lifetime, Duration::from_secs(86_400));
    }

    #[test]
    fn unknown_settings_are_refused_by_name() {
        let error = Config::from_toml("tenant_domian = \"x.example\"").unwrap_err();
        assert!(error.to_string().contains("tenant_domian"), "{error}");
    }

    #[test]
    fn the_admin_password_never_prints() {
        let config = Config::from_toml("admin_password = \"correct horse battery\"").unwrap();
        let printed = format!("{config:?}");
        assert!(printed.contains("[redacted]"), "{printed}");
        assert!(!printed.contains("horse"), "{printed}");
        assert_eq!(
            config.admin_password.unwrap().expose(),
            "correct horse battery"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for text in [
            "tenant_domain = \"not a domain\"",
            "tenant_domain = \"\"",
            "tenant_domain = \"-x.example\"",
            "addr = \"nowhere\"",
            "database_url = \"mysql://x\"",
            "token_lifetime_secs = 5",
            "rotation_limit_per_day = -1",
            "api_rate_limit_per_minute = 0",
            "trusted_proxies = \"10.0.0.0/8, proxy.internal\"",
            "trusted_proxies = \"10.0.0.0/33\"",
        ] {
            assert!(Config::from_toml(text).is_err(), "{text} was accepted");
        }
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail API returns its own error type"
    )]
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "signet.toml",
                "tenant_domain = \"file.example\"\naddr = \"127.0.0.1:4000\"",
            )?;
            jail.set_env("SIGNET_TENANT_DOMAIN", "env.example");
            jail.set_env("SIGNET_TEST_DATABASE_URL", "postgres://ignored");
            jail.set_env("SIGNET_ROTATION_LIMIT_PER_DAY", "2");
            jail.set_env("SIGNET_TRUSTED_PROXIES", "127.0.0.1, 10.1.0.0/16 ::1");
            let settings = Config::load(Path::new("signet.toml"), true).unwrap();
            let proxies: Vec<String> = settings
                .trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(proxies, ["127.0.0.1/32", "10.1.0.0/16", "::1/128"]);
            assert_eq!(settings.tenant_domain, "env.example");
            assert_eq!(settings.addr.port(), 4000);
            assert_eq!(settings.rotation_limit_per_day, 2);
            jail.set_env("SIGNET_NO_SUCH_SETTING", "1");
            assert!(Config::load(Path::new("signet.toml"), true).is_err());
            Ok(())
        });
    }
}
