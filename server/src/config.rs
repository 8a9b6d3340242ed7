//! Settings: an optional `signet.toml`, overlaid by `SIGNET_*` environment variables.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::Deserialize;

/// Environment variables with this prefix are settings (`SIGNET_TENANT_DOMAIN` → `tenant_domain`).
pub const ENV_PREFIX: &str = "SIGNET_";

/// Every setting Signet reads. Unknown settings are refused rather than silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
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
    /// PEM private key of `tls_cert_file`.
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
}

fn default_rotation_limit_per_day() -> u32 {
    5
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

impl Settings {
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
        Ok(settings)
    }

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

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("signet.db").display()))
    }

    /// The key service's options from these settings.
    pub fn service_options(&self) -> crate::keys::service::ServiceOptions {
        crate::keys::service::ServiceOptions {
            rotation_limit: (self.rotation_limit_per_day > 0).then_some(
                crate::store::RotationLimit {
                    per_day: self.rotation_limit_per_day,
                },
            ),
        }
    }

    /// The master key file in force.
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// Where the dashboard's built assets are: the setting, cargo-leptos's `LEPTOS_SITE_ROOT`,
    /// `target/site` under the working directory, or `../site` beside the binary.
    pub fn site_root(&self) -> PathBuf {
        if let Some(root) = &self.site_root {
            return root.clone();
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
}

/// `SIGNET_*` variables, except the config file's own path and the test suite's variables.
fn env_provider() -> Env {
    Env::prefixed(ENV_PREFIX).filter(|key| {
        let key = key.as_str().to_ascii_lowercase();
        key != "config" && !key.starts_with("test_")
    })
}

/// A DNS name usable as the certificate's CN and the issuer's host.
fn is_valid_domain(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 64
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let settings = Settings::from_toml("").unwrap();
        assert_eq!(settings.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(settings.tenant_domain, "localhost");
        assert_eq!(settings.database_url(), "sqlite://data/signet.db");
        assert_eq!(settings.master_key_path(), PathBuf::from("data/master.key"));
        assert_eq!(settings.rotation_limit_per_day, 5);
        assert_eq!(settings.token_lifetime_secs, 86_400);
    }

    #[test]
    fn unknown_settings_are_refused_by_name() {
        let error = Settings::from_toml("tenant_domian = \"x.example\"").unwrap_err();
        assert!(error.to_string().contains("tenant_domian"), "{error}");
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
        ] {
            assert!(Settings::from_toml(text).is_err(), "{text} was accepted");
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
            let settings = Settings::load(Path::new("signet.toml"), true).unwrap();
            assert_eq!(settings.tenant_domain, "env.example");
            assert_eq!(settings.addr.port(), 4000);
            assert_eq!(settings.rotation_limit_per_day, 2);
            jail.set_env("SIGNET_NO_SUCH_SETTING", "1");
            assert!(Settings::load(Path::new("signet.toml"), true).is_err());
            Ok(())
        });
    }
}
