//! The dashboard's paths, shared by the pages (app) and the server's router and guard, so a
//! path is spelled once.

/// Where the dashboard's server functions live (kept apart from the Management API's `/api/v2`).
pub const SERVER_FN_PREFIX: &str = "/_signet";
/// The server function that signs the operator in: the only one callable without a session.
pub const SIGN_IN_FN: &str = "/_signet/sign_in";
/// The live stream of key-set changes (server-sent events).
pub const KEY_EVENTS: &str = "/_signet/events";
/// Every page behind the operator's session lives under this prefix.
pub const TENANT_PAGES: &str = "/tenant/";
/// The Signing Keys page; the app's home redirects here.
pub const SIGNING_KEYS_PAGE: &str = "/tenant/signing_keys";
/// A key's certificate download, under the Signing Keys page (`{kid}`, `{file}` are route
/// parameters).
pub const KEY_DOWNLOAD: &str = "/tenant/signing_keys/{kid}/{file}";
/// The Tenants page: every tenant of the deployment, and a form to create one.
pub const TENANTS_PAGE: &str = "/tenant/tenants";
/// The server function that switches the dashboard to another tenant.
pub const SWITCH_TENANT_FN: &str = "/_signet/switch_tenant";
/// The cookie naming the tenant the operator switched the dashboard to. It only picks which
/// tenant's pages and server functions answer; the session is checked as for any page.
pub const TENANT_COOKIE: &str = "signet_tenant";
/// The Logs page: the audit trail, newest first.
pub const LOGS_PAGE: &str = "/tenant/logs";
/// The trail as a file (`{file}`: `export.csv` or `export.ndjson`), filtered as the page is.
pub const LOG_EXPORT: &str = "/tenant/logs/{file}";
/// The sign-in page.
pub const LOGIN_PAGE: &str = "/login";

/// Whether `path` is a server function's (under [`SERVER_FN_PREFIX`]).
pub fn is_server_fn(path: &str) -> bool {
    path.strip_prefix(SERVER_FN_PREFIX)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether `path` is a page behind the operator's session (under [`TENANT_PAGES`]).
pub fn is_tenant_page(path: &str) -> bool {
    path.starts_with(TENANT_PAGES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_sit_under_their_prefixes() {
        for path in [SIGN_IN_FN, KEY_EVENTS, SWITCH_TENANT_FN] {
            assert!(is_server_fn(path), "{path}");
        }
        for path in [
            SIGNING_KEYS_PAGE,
            KEY_DOWNLOAD,
            TENANTS_PAGE,
            LOGS_PAGE,
            LOG_EXPORT,
        ] {
            assert!(is_tenant_page(path), "{path}");
        }
        assert!(KEY_DOWNLOAD.starts_with(SIGNING_KEYS_PAGE));
        assert!(!is_server_fn("/_signetx/sign_in"));
        assert!(!is_server_fn(SERVER_FN_PREFIX));
        assert!(!is_tenant_page(LOGIN_PAGE));
    }
}
