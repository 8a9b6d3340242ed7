//! Where a service error becomes each boundary's answer — all four maps side by side, so a new
//! error variant is given its answer everywhere at once:
//!
//! - the Management API: [`ApiError`] in Auth0's body (`impl From<ServiceError> for ApiError`);
//! - the dashboard's server functions: [`DashboardError`] ([`dashboard_error`]);
//! - the token endpoint: an RFC 6749 error ([`oauth_error`]);
//! - the operator's sign-in: [`DashboardError`] again ([`sign_in_error`]).
//!
//! Causes that are Signet's own problem go to the log, never to the caller.

use app::{
    error::{DashboardError, ScheduleRefusal},
    keys::Kid,
};
use axum::http::StatusCode;

use super::{api_error::ApiError, oauth::OAuthError, rate_limit::Quota};
use crate::{
    domain::{lifecycle::KeyError, schedule::PolicyRefusal},
    services::{ServiceError, operator::OperatorError, published::iso},
    store::StoreError,
};

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Key(error) => key_error(error),
            ServiceError::Store(StoreError::Unavailable(cause)) => {
                tracing::warn!(%cause, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "The key store is unavailable; try again shortly",
                )
            }
            ServiceError::RateLimited { limit, reset_at } => ApiError::too_many_requests(
                &format!(
                    "The tenant's limit of {limit} key rotations per day is reached; try again after {}",
                    reset_at.format("%Y-%m-%d %H:%M UTC")
                ),
                &Quota {
                    limit,
                    remaining: 0,
                    reset: reset_at.timestamp(),
                },
            ),
            ServiceError::Client(error) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", error.to_string())
            }
            ServiceError::Store(StoreError::DuplicateClient) => ApiError::new(
                StatusCode::CONFLICT,
                "client_exists",
                "A client with that id exists already",
            ),
            ServiceError::Store(StoreError::TenantGone) => ApiError::new(
                StatusCode::NOT_FOUND,
                "tenant_not_found",
                "This tenant was deleted",
            ),
            ServiceError::Store(StoreError::Conflict) => ApiError::new(
                StatusCode::CONFLICT,
                "concurrent_modification",
                "Another change to the signing keys happened at the same moment; try again",
            ),
            ServiceError::Claims(error) => {
                ApiError::new(StatusCode::BAD_REQUEST, error.code(), error.to_string())
            }
            ServiceError::Policy(error) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_signing_policy",
                error.to_string(),
            ),
            ServiceError::Schedule(refusal) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_policy",
                refusal.to_string(),
            ),
            ServiceError::Algorithm(refusal) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_algorithm",
                refusal.to_string(),
            ),
            ServiceError::InvalidQuery(reason) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_query_string", reason)
            }
            ServiceError::NoSigner => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_signing_key",
                "No signing key is loaded yet; try again shortly",
            ),
            // This instance still runs with a retired master key: another instance can serve the
            // change, and the operator's log says which key to restart this one with.
            error @ ServiceError::MasterKeyMismatch { .. } => {
                tracing::error!(%error, "refusing a key change");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "master_key_mismatch",
                    "This Signet instance runs with an outdated master key and cannot change keys until it is restarted; try again shortly",
                )
            }
            other => ApiError::internal(&other),
        }
    }
}

/// The Management API's answer to a refusal of the lifecycle.
fn key_error(error: KeyError) -> ApiError {
    match error {
        KeyError::NotFound(_) => ApiError::key_not_found(),
        KeyError::NotRevocable { state, .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_key_state",
            format!(
                "The signing key is {}; only a previously used key can be revoked",
                state.label().to_lowercase()
            ),
        ),
        KeyError::NextKeyTooNew {
            retry_after_seconds,
        } => ApiError::new(
            StatusCode::CONFLICT,
            "next_key_too_new",
            format!(
                "The next key was published less than the publication window ago, so relying \
                     parties may not have fetched it yet; retry in {retry_after_seconds} seconds, \
                     or pass force=true to rotate anyway"
            ),
        )
        .with_header(
            axum::http::header::RETRY_AFTER,
            retry_after_seconds.to_string(),
        ),
        other => ApiError::internal(&other),
    }
}

/// The dashboard's words for a failed operation.
pub fn dashboard_error(error: ServiceError) -> DashboardError {
    match error {
        ServiceError::Key(KeyError::NotFound(kid)) => DashboardError::KeyNotFound(shown_kid(&kid)),
        ServiceError::Key(KeyError::NotRevocable { kid, state }) => DashboardError::NotRevocable {
            kid: shown_kid(&kid),
            state,
        },
        ServiceError::RateLimited { limit, reset_at } => DashboardError::RotationLimit {
            limit,
            reset_at: iso(reset_at),
        },
        ServiceError::Store(StoreError::Conflict) => DashboardError::KeysChanged,
        ServiceError::Key(KeyError::NextKeyTooNew {
            retry_after_seconds,
        }) => DashboardError::NextKeyTooNew(u64::try_from(retry_after_seconds).unwrap_or(1)),
        ServiceError::Schedule(refusal) => DashboardError::InvalidSchedule(match refusal {
            PolicyRefusal::PeriodTooShort => ScheduleRefusal::PeriodTooShort,
            PolicyRefusal::PeriodWithinWindow { window } => {
                ScheduleRefusal::PeriodWithinWindow(u64::try_from(window).unwrap_or(0))
            }
            PolicyRefusal::TooLong { .. } => ScheduleRefusal::TooLong,
            PolicyRefusal::NegativeGrace => ScheduleRefusal::NotANumber,
        }),
        ServiceError::Algorithm(_) => DashboardError::UnsupportedAlgorithm,
        ServiceError::InvalidQuery(_) => DashboardError::InvalidLogQuery,
        ServiceError::Store(StoreError::Unavailable(cause)) => {
            tracing::warn!(%cause, "dashboard action failed: database unavailable");
            DashboardError::Unavailable
        }
        other => {
            tracing::error!(error = %other, "dashboard action failed");
            DashboardError::Unavailable
        }
    }
}

/// A kid as the page may repeat it: one Signet could have issued, or a placeholder.
fn shown_kid(kid: &str) -> String {
    match Kid::parse(kid) {
        Ok(kid) => kid.into(),
        Err(_) => "(malformed key id)".to_owned(),
    }
}

/// The token endpoint's answer when a client could not be authenticated at all: the database
/// is away (try again), or Signet failed (its log says why). A wrong id or secret is not an
/// error of the service: it is `invalid_client`, answered by the handler.
pub fn oauth_error(error: ServiceError) -> OAuthError {
    if matches!(error, ServiceError::NoSigner) {
        return OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "No signing key is loaded",
        );
    }
    if error.is_unavailable() {
        tracing::warn!(%error, "cannot authenticate a client: database unavailable");
        return OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "Signet cannot reach its database; try again shortly",
        );
    }
    tracing::error!(%error, "cannot authenticate a client");
    OAuthError::server_error()
}

/// The sign-in form's words for a refused or failed sign-in.
pub fn sign_in_error(error: OperatorError) -> DashboardError {
    match error {
        OperatorError::WrongPassword => DashboardError::WrongPassword,
        OperatorError::Throttled(minutes) => DashboardError::TooManyAttempts(minutes),
        error => {
            tracing::warn!(%error, "sign-in failed");
            DashboardError::Unavailable
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use app::keys::KeyState;
    use axum::response::IntoResponse;
    use chrono::{DateTime, Utc};
    use http_body_util::BodyExt;

    use super::*;
    use crate::domain::{
        client_secret::ClientError,
        material::MaterialError,
        sealing::MasterKeyError,
        signing_policy::{ClaimsError, PolicyError},
    };

    const KID: &str = "V1StGXR8_Z5jdHi6B-myT";

    /// One row of the table: a service error, its Management API status and code, the
    /// dashboard's error, and the token endpoint's status and error.
    type Case = (
        ServiceError,
        (u16, &'static str),
        DashboardError,
        (u16, &'static str),
    );

    const INTERNAL: (u16, &str) = (500, "internal_error");
    const SERVER_ERROR: (u16, &str) = (500, "server_error");

    fn internal(error: ServiceError) -> Case {
        (error, INTERNAL, DashboardError::Unavailable, SERVER_ERROR)
    }

    fn key_errors() -> Vec<Case> {
        let not_revocable = || KeyError::NotRevocable {
            kid: KID.into(),
            state: KeyState::Current,
        };
        vec![
            (
                KeyError::NotFound(KID.into()).into(),
                (404, "inexistent_signing_key"),
                DashboardError::KeyNotFound(KID.into()),
                SERVER_ERROR,
            ),
            (
                KeyError::NotFound("<script>".into()).into(),
                (404, "inexistent_signing_key"),
                DashboardError::KeyNotFound("(malformed key id)".into()),
                SERVER_ERROR,
            ),
            (
                not_revocable().into(),
                (400, "invalid_key_state"),
                DashboardError::NotRevocable {
                    kid: KID.into(),
                    state: KeyState::Current,
                },
                SERVER_ERROR,
            ),
            internal(KeyError::KidReused(KID.into()).into()),
            internal(KeyError::Inconsistent("secret detail".into()).into()),
            internal(KeyError::NewKeyMismatch.into()),
            (
                KeyError::NextKeyTooNew {
                    retry_after_seconds: 18,
                }
                .into(),
                (409, "next_key_too_new"),
                DashboardError::NextKeyTooNew(18),
                SERVER_ERROR,
            ),
            (
                PolicyRefusal::PeriodTooShort.into(),
                (400, "invalid_policy"),
                DashboardError::InvalidSchedule(ScheduleRefusal::PeriodTooShort),
                SERVER_ERROR,
            ),
            (
                PolicyRefusal::PeriodWithinWindow { window: 7_200 }.into(),
                (400, "invalid_policy"),
                DashboardError::InvalidSchedule(ScheduleRefusal::PeriodWithinWindow(7_200)),
                SERVER_ERROR,
            ),
        ]
    }

    fn store_errors() -> Vec<Case> {
        vec![
            (
                StoreError::Conflict.into(),
                (409, "concurrent_modification"),
                DashboardError::KeysChanged,
                SERVER_ERROR,
            ),
            (
                StoreError::Unavailable("secret detail".into()).into(),
                (503, "database_unavailable"),
                DashboardError::Unavailable,
                (503, "temporarily_unavailable"),
            ),
            (
                StoreError::DuplicateClient.into(),
                (409, "client_exists"),
                DashboardError::Unavailable,
                SERVER_ERROR,
            ),
            (
                StoreError::TenantGone.into(),
                (404, "tenant_not_found"),
                DashboardError::Unavailable,
                SERVER_ERROR,
            ),
            internal(StoreError::Corrupt("secret detail".into()).into()),
            internal(StoreError::Database("secret detail".into()).into()),
            internal(StoreError::Migrate("secret detail".into()).into()),
        ]
    }

    fn other_errors() -> Vec<Case> {
        let reset_at = DateTime::<Utc>::UNIX_EPOCH;
        vec![
            (
                ServiceError::RateLimited { limit: 5, reset_at },
                (429, "too_many_requests"),
                DashboardError::RotationLimit {
                    limit: 5,
                    reset_at: "1970-01-01T00:00:00.000Z".into(),
                },
                SERVER_ERROR,
            ),
            (
                ServiceError::MasterKeyMismatch {
                    stored: "mk-new".into(),
                    process: "mk-old".into(),
                },
                (503, "master_key_mismatch"),
                DashboardError::Unavailable,
                SERVER_ERROR,
            ),
            (
                ClientError::NoScopes.into(),
                (400, "invalid_body"),
                DashboardError::Unavailable,
                SERVER_ERROR,
            ),
            (
                ClaimsError::MissingExp.into(),
                (400, "missing_exp"),
                DashboardError::Unavailable,
                SERVER_ERROR,
            ),
            (
                PolicyError::Audience.into(),
                (400, "invalid_signing_policy"),
                DashboardError::Unavailable,
                SERVER_ERROR,
            ),
            (
                ServiceError::NoSigner,
                (503, "no_signing_key"),
                DashboardError::Unavailable,
                (503, "temporarily_unavailable"),
            ),
            internal(ServiceError::Signing("secret detail".into())),
            internal(MasterKeyError::Tampered { kid: KID.into() }.into()),
            internal(MaterialError::Encoding("secret detail".into()).into()),
            internal(ServiceError::Unverified("secret detail".into())),
            internal(ServiceError::Interrupted),
        ]
    }

    fn table() -> Vec<Case> {
        [key_errors(), store_errors(), other_errors()]
            .into_iter()
            .flatten()
            .collect()
    }

    async fn json(response: axum::response::Response) -> (u16, serde_json::Value) {
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn every_service_error_has_one_answer_at_each_boundary() {
        for (error, (api_status, api_code), _, _) in table() {
            let shown = error.to_string();
            let (status, body) = json(ApiError::from(error).into_response()).await;
            assert_eq!(
                (status, body["errorCode"].as_str()),
                (api_status, Some(api_code)),
                "{shown}"
            );
            assert!(!body.to_string().contains("secret detail"), "{shown}");
        }
        for (error, _, dashboard, _) in table() {
            assert_eq!(dashboard_error(error), dashboard);
        }
        for (error, _, _, (oauth_status, oauth_code)) in table() {
            let shown = error.to_string();
            let (status, body) = json(oauth_error(error).into_response()).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (oauth_status, Some(oauth_code)),
                "{shown}"
            );
            assert!(!body.to_string().contains("secret detail"), "{shown}");
        }
    }

    #[test]
    fn sign_in_failures_are_words() {
        let cases = [
            (OperatorError::WrongPassword, DashboardError::WrongPassword),
            (
                OperatorError::Throttled(7),
                DashboardError::TooManyAttempts(7),
            ),
            (
                OperatorError::Hashing("x".into()),
                DashboardError::Unavailable,
            ),
            (
                OperatorError::Store(StoreError::Unavailable("down".into())),
                DashboardError::Unavailable,
            ),
            (OperatorError::Interrupted, DashboardError::Unavailable),
        ];
        for (error, expected) in cases {
            assert_eq!(sign_in_error(error), expected);
        }
    }
}
