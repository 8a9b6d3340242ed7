//! Errors the dashboard's server functions return, as words the page can show.

use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::{
    keys::{KeyState, is_kid},
    tenants::is_domain,
};

/// Why a dashboard action failed. The page matches on the variant and never shows raw server text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum DashboardError {
    /// The key store could not be reached; the cause is in the server log.
    #[error("Signet cannot reach its key store right now. Try again in a moment.")]
    Unavailable,
    /// The operator password was wrong.
    #[error("That password is not right. Check it and try again.")]
    WrongPassword,
    /// Too many failed sign-ins from this address.
    #[error("Too many failed sign-ins. Wait {0} minutes, then try again.")]
    TooManyAttempts(u64),
    /// The session is missing or expired.
    #[error("Your session has ended. Sign in again to continue.")]
    SignedOut,
    /// The tenant's rotation limit is reached; `reset_at` is an ISO-8601 UTC instant.
    #[error(
        "You have rotated {limit} times in the last 24 hours, the tenant's limit. The next \
         rotation is possible after {reset_at} UTC; `signet keys rotate` on the server is not limited."
    )]
    RotationLimit { limit: u32, reset_at: String },
    /// The keys changed between opening the dialog and confirming it (another operator, the
    /// CLI, the API, another instance); nothing was done.
    #[error(
        "The signing keys changed while this dialog was open, so nothing was done. The list now \
         shows the latest keys: review them and try again."
    )]
    KeysChanged,
    /// The key is no longer previously used, e.g. another operator revoked it first.
    #[error("{}", not_revocable(kid, *state))]
    NotRevocable { kid: String, state: KeyState },
    /// No such key.
    #[error("There is no signing key {0}. The list shows the keys there are.")]
    KeyNotFound(String),
    /// What the operator typed cannot name a tenant.
    #[error(
        "A tenant is named by a DNS name: letters, digits, inner hyphens and dots, at most 64 \
         characters (like acme.example.com)."
    )]
    InvalidDomain,
    /// Another tenant has that domain.
    #[error("There is already a tenant {0}.")]
    TenantExists(String),
    /// No tenant has that domain (deleted meanwhile, or never created).
    #[error("There is no tenant {0}. The Tenants page lists the tenants there are.")]
    UnknownTenant(String),
    /// The next key was published less than the publication window ago: relying parties may
    /// not have fetched it. The operator may wait this many seconds, or force the rotation.
    #[error(
        "The next key was published only moments ago, so relying parties may not have fetched it \
         yet: tokens it signs now could be refused. Rotate in {0} s, or rotate anyway."
    )]
    NextKeyTooNew(u64),
    /// A rotation schedule that cannot be honoured; the reason, in the page's words.
    #[error("{}", schedule_refusal(.0))]
    InvalidSchedule(ScheduleRefusal),
    /// The default tenant serves every host that names no other tenant: it cannot be deleted.
    #[error(
        "{0} is the default tenant: it answers every host that names no other tenant, so it \
         cannot be deleted."
    )]
    DefaultTenant(String),
    /// The domain typed to confirm a deletion is not the tenant's.
    #[error("Nothing was deleted: type the tenant's domain exactly to confirm.")]
    DeleteNotConfirmed,
    /// A key type Signet does not offer (only a hand-made request can ask for one).
    #[error(
        "Signet signs with RS256 or PS256 (2048, 3072 or 4096-bit keys), ES256 or EdDSA. Choose \
         one of those."
    )]
    UnsupportedAlgorithm,
    /// A Logs page link whose position or filter Signet did not write (edited by hand).
    #[error("That link to the logs is not one Signet made. The newest events are a click away.")]
    InvalidLogQuery,
    /// The request never reached the server or its answer could not be read.
    #[error("The request did not reach Signet. Check your connection and try again.")]
    Transport(String),
}

/// Why a rotation schedule cannot be honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduleRefusal {
    /// Under an hour.
    PeriodTooShort,
    /// Not longer than the publication window, in seconds.
    PeriodWithinWindow(u64),
    /// Over ten years.
    TooLong,
    /// Not a whole, non-negative number in the form.
    NotANumber,
}

impl ScheduleRefusal {
    fn as_str(self) -> &'static str {
        match self {
            ScheduleRefusal::PeriodTooShort => "period_too_short",
            ScheduleRefusal::PeriodWithinWindow(_) => "period_within_window",
            ScheduleRefusal::TooLong => "too_long",
            ScheduleRefusal::NotANumber => "not_a_number",
        }
    }
}

fn schedule_refusal(refusal: &ScheduleRefusal) -> String {
    match refusal {
        ScheduleRefusal::PeriodTooShort => {
            "Rotate at most once an hour: choose a period of at least 1 hour.".to_owned()
        }
        ScheduleRefusal::PeriodWithinWindow(window) => format!(
            "The period must be longer than the publication window ({window} s), or no key \
             would be published long enough to become current."
        ),
        ScheduleRefusal::TooLong => "Choose a period and a grace of at most ten years.".to_owned(),
        ScheduleRefusal::NotANumber => {
            "Enter whole numbers of at least 0 for the period and the grace.".to_owned()
        }
    }
}

fn not_revocable(kid: &str, state: KeyState) -> String {
    match state {
        KeyState::Revoked => format!(
            "Key {kid} was already revoked, perhaps by another operator. Nothing else changed."
        ),
        other => format!(
            "Key {kid} is now {}, so it cannot be revoked: only previously used keys can. \
             Rotate first if you mean to retire it.",
            other.label().to_ascii_lowercase()
        ),
    }
}

impl FromServerFnError for DashboardError {
    type Encoder = crate::codec::JsonTextEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        DashboardError::Transport(value.to_string())
    }
}

impl DashboardError {
    /// The HTTP status a server function answers with for this error: never a 500 for a
    /// wrong password or an expired session.
    pub fn status(&self) -> u16 {
        match self {
            DashboardError::WrongPassword | DashboardError::SignedOut => 401,
            DashboardError::TooManyAttempts(_) | DashboardError::RotationLimit { .. } => 429,
            DashboardError::Unavailable => 503,
            DashboardError::KeysChanged | DashboardError::NotRevocable { .. } => 409,
            DashboardError::KeyNotFound(_) | DashboardError::UnknownTenant(_) => 404,
            DashboardError::InvalidDomain | DashboardError::InvalidSchedule(_) => 400,
            DashboardError::NextKeyTooNew(_) => 409,
            DashboardError::TenantExists(_) | DashboardError::DefaultTenant(_) => 409,
            DashboardError::DeleteNotConfirmed | DashboardError::UnsupportedAlgorithm => 400,
            DashboardError::InvalidLogQuery => 400,
            DashboardError::Transport(_) => 400,
        }
    }

    /// The query string a plain form post is redirected back with (`failed=…`).
    pub fn to_query(&self) -> String {
        match self {
            DashboardError::Unavailable => "failed=unavailable".into(),
            DashboardError::WrongPassword => "failed=wrong_password".into(),
            DashboardError::TooManyAttempts(minutes) => {
                format!("failed=too_many_attempts&minutes={minutes}")
            }
            DashboardError::SignedOut => "failed=signed_out".into(),
            DashboardError::RotationLimit { limit, reset_at } => {
                format!("failed=rotation_limit&limit={limit}&reset_at={reset_at}")
            }
            DashboardError::KeysChanged => "failed=keys_changed".into(),
            DashboardError::NotRevocable { kid, state } => {
                format!("failed=not_revocable&kid={kid}&state={state}")
            }
            DashboardError::KeyNotFound(kid) => format!("failed=key_not_found&kid={kid}"),
            DashboardError::InvalidDomain => "failed=invalid_domain".into(),
            DashboardError::TenantExists(domain) => format!("failed=tenant_exists&domain={domain}"),
            DashboardError::UnknownTenant(domain) => {
                format!("failed=unknown_tenant&domain={domain}")
            }
            DashboardError::NextKeyTooNew(seconds) => {
                format!("failed=next_key_too_new&seconds={seconds}")
            }
            DashboardError::InvalidSchedule(ScheduleRefusal::PeriodWithinWindow(window)) => {
                format!("failed=invalid_schedule&reason=period_within_window&seconds={window}")
            }
            DashboardError::InvalidSchedule(refusal) => {
                format!("failed=invalid_schedule&reason={}", refusal.as_str())
            }
            DashboardError::DefaultTenant(domain) => {
                format!("failed=default_tenant&domain={domain}")
            }
            DashboardError::DeleteNotConfirmed => "failed=delete_not_confirmed".into(),
            DashboardError::UnsupportedAlgorithm => "failed=unsupported_algorithm".into(),
            DashboardError::InvalidLogQuery => "failed=invalid_log_query".into(),
            DashboardError::Transport(_) => "failed=transport".into(),
        }
    }

    /// Reads [`DashboardError::to_query`] back. Every value is checked: the URL is anybody's
    /// to edit, and the page shows only sentences it wrote itself.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let number = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok());
        let kid = || get("kid").filter(|kid| is_kid(kid));
        let domain = || get("domain").filter(|domain| is_domain(domain));
        Some(match get("failed")?.as_str() {
            "unavailable" => DashboardError::Unavailable,
            "wrong_password" => DashboardError::WrongPassword,
            "too_many_attempts" => DashboardError::TooManyAttempts(number("minutes")?),
            "signed_out" => DashboardError::SignedOut,
            "rotation_limit" => DashboardError::RotationLimit {
                limit: u32::try_from(number("limit")?).ok()?,
                reset_at: get("reset_at").filter(|at| {
                    at.len() <= 30
                        && at
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b":.-".contains(&b))
                })?,
            },
            "keys_changed" => DashboardError::KeysChanged,
            "not_revocable" => DashboardError::NotRevocable {
                kid: kid()?,
                state: KeyState::parse(&get("state")?)?,
            },
            "key_not_found" => DashboardError::KeyNotFound(kid()?),
            "invalid_domain" => DashboardError::InvalidDomain,
            "tenant_exists" => DashboardError::TenantExists(domain()?),
            "unknown_tenant" => DashboardError::UnknownTenant(domain()?),
            "default_tenant" => DashboardError::DefaultTenant(domain()?),
            "delete_not_confirmed" => DashboardError::DeleteNotConfirmed,
            "unsupported_algorithm" => DashboardError::UnsupportedAlgorithm,
            "invalid_log_query" => DashboardError::InvalidLogQuery,
            "next_key_too_new" => DashboardError::NextKeyTooNew(number("seconds")?),
            "invalid_schedule" => DashboardError::InvalidSchedule(match get("reason")?.as_str() {
                "period_too_short" => ScheduleRefusal::PeriodTooShort,
                "period_within_window" => ScheduleRefusal::PeriodWithinWindow(number("seconds")?),
                "too_long" => ScheduleRefusal::TooLong,
                "not_a_number" => ScheduleRefusal::NotANumber,
                _ => return None,
            }),
            _ => return None,
        })
    }
}

/// Whether this server function call is a plain HTML form post (no JavaScript yet): the browser
/// asked for a page, not for data.
#[cfg(feature = "ssr")]
pub fn plain_form_post() -> bool {
    leptos::prelude::use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    })
}

/// Finishes a server function. A plain form post is redirected to `page` with the outcome in
/// the query (`done` from `on_success`, or `failed=…`), so it works without JavaScript; a call
/// from the hydrated page gets the value, or the error with its HTTP status.
#[cfg(feature = "ssr")]
pub fn respond<T>(
    result: Result<T, DashboardError>,
    page: &str,
    on_success: impl FnOnce(&T) -> Option<String>,
) -> Result<T, DashboardError> {
    if !plain_form_post() {
        return with_status(result);
    }
    let query = match &result {
        Ok(value) => on_success(value),
        Err(error) => Some(error.to_query()),
    };
    let target = match query {
        Some(query) => format!("{page}?{query}"),
        None => page.to_owned(),
    };
    leptos_axum::redirect(&target);
    result
}

/// Passes a server function's result through, setting the response status for an error.
#[cfg(feature = "ssr")]
pub fn with_status<T>(result: Result<T, DashboardError>) -> Result<T, DashboardError> {
    if let Err(error) = &result
        && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(error: &DashboardError) -> Option<DashboardError> {
        DashboardError::from_query(crate::keys::query_param(&error.to_query()))
    }

    #[test]
    fn errors_survive_the_redirect_of_a_plain_form_post() {
        for error in [
            DashboardError::Unavailable,
            DashboardError::WrongPassword,
            DashboardError::TooManyAttempts(15),
            DashboardError::SignedOut,
            DashboardError::RotationLimit {
                limit: 5,
                reset_at: "2026-11-23T10:00:00.000Z".into(),
            },
            DashboardError::KeysChanged,
            DashboardError::NotRevocable {
                kid: "abc".into(),
                state: KeyState::Revoked,
            },
            DashboardError::KeyNotFound("abc".into()),
            DashboardError::InvalidDomain,
            DashboardError::TenantExists("acme.example.com".into()),
            DashboardError::UnknownTenant("acme.example.com".into()),
            DashboardError::DefaultTenant("acme.example.com".into()),
            DashboardError::DeleteNotConfirmed,
            DashboardError::NextKeyTooNew(18),
            DashboardError::InvalidSchedule(ScheduleRefusal::PeriodWithinWindow(7_200)),
            DashboardError::InvalidSchedule(ScheduleRefusal::NotANumber),
        ] {
            assert_eq!(round_trip(&error).as_ref(), Some(&error), "{error:?}");
        }
    }

    #[test]
    fn a_forged_error_query_shows_nothing() {
        let forged = |name: &str| match name {
            "failed" => Some("key_not_found".to_owned()),
            "kid" => Some("<img src=x onerror=alert(1)>".to_owned()),
            _ => None,
        };
        assert_eq!(DashboardError::from_query(forged), None);
    }

    #[test]
    fn a_revoked_key_is_explained_in_words() {
        let error = DashboardError::NotRevocable {
            kid: "k1".into(),
            state: KeyState::Revoked,
        };
        assert!(error.to_string().contains("already revoked"));
        let error = DashboardError::NotRevocable {
            kid: "k1".into(),
            state: KeyState::Current,
        };
        assert!(error.to_string().contains("currently used"));
    }
}
