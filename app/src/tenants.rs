//! The tenants of a deployment as the dashboard shows them (SPEC §15), and the one rule for
//! what names a tenant, shared by the server's settings, its CLI and the Tenants page.

use serde::{Deserialize, Serialize};

/// One tenant in the switcher and on the Tenants page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    /// The tenant's domain: its issuer is `https://<domain>/`.
    pub domain: String,
    /// When it was created, ISO-8601 UTC.
    pub created_at: String,
    /// Whether it is the default tenant (`SIGNET_TENANT_DOMAIN`), which serves every host that
    /// names no other tenant.
    pub is_default: bool,
}

/// The tenants, and the one the dashboard is showing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantList {
    /// The domain of the tenant the dashboard acts on.
    pub current: String,
    /// Every tenant, the default one first.
    pub tenants: Vec<TenantSummary>,
}

/// Whether `domain` can name a tenant: a DNS name of at most 64 characters (the limit of a
/// certificate's CN), labels of letters, digits and inner hyphens.
pub fn is_domain(domain: &str) -> bool {
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
mod tests {
    use super::is_domain;

    #[test]
    fn tenants_are_named_by_dns_names() {
        for good in ["localhost", "acme.example.com", "a-b.c9.example"] {
            assert!(is_domain(good), "{good}");
        }
        let long = format!("{}.example", "a".repeat(60));
        for bad in [
            "",
            "a..b",
            "-a.example",
            "a-.example",
            "a b",
            "a_b.example",
            &long,
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }
}
