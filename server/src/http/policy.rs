//! `GET/PATCH /api/v2/keys/signing/policy`: the tenant's rotation schedule (SPEC §12).

use app::{
    algorithm::{AlgorithmRefusal, SigningAlg},
    schedule::RotationSchedule,
};
use axum::{
    Extension, Json, Router, body::Bytes, extract::RawQuery, http::StatusCode, routing::get,
};
use serde_json::{Map, Value};

use super::{
    AppState,
    api_error::{ApiError, ErrorBody},
    management::{Caller, READ, UPDATE, not_allowed},
};
use crate::services::key_change::PolicyUpdate;

pub fn routes() -> Router {
    Router::new().route(
        "/keys/signing/policy",
        get(show)
            .patch(update)
            .fallback(not_allowed("GET,HEAD,PATCH")),
    )
}

/// The rotation policy and what it will do
#[utoipa::path(get, path = "/api/v2/keys/signing/policy", tag = "signing keys",
    security(("bearer" = ["read:signing_keys"])),
    responses((status = 200, description = "The rotation schedule", body = RotationSchedule), (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody)))]
pub(super) async fn show(
    state: AppState,
    Extension(caller): Extension<Caller>,
) -> Result<Json<RotationSchedule>, ApiError> {
    caller.require_all(&[READ])?;
    Ok(Json(state.schedule.view().await?))
}

/// Change the rotation policy or the signing algorithm
#[utoipa::path(patch, path = "/api/v2/keys/signing/policy", tag = "signing keys",
    request_body = PolicyPatch,
    security(("bearer" = ["update:signing_keys"])),
    responses((status = 200, description = "The schedule after the change", body = RotationSchedule),
        (status = 400, description = "invalid_body, invalid_policy or unsupported_algorithm; nothing changed", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody), (status = 403, description = "The token lacks the scope", body = ErrorBody)))]
pub(super) async fn update(
    state: AppState,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Json<RotationSchedule>, ApiError> {
    caller.require_all(&[UPDATE])?;
    let update = parse_update(&body)?;
    if update == PolicyUpdate::default() {
        return Ok(Json(state.schedule.view().await?));
    }
    let now = state.clock.now();
    Ok(Json(
        state
            .schedule
            .set_policy(update, &caller.actor(), now)
            .await?,
    ))
}

/// The writable fields of a `PATCH` (each optional: a field left out is unchanged). For the
/// OpenAPI document: the handler reads the body field by field ([`parse_update`]), refusing any
/// other member.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "a schema only: the body is read by parse_update")]
pub(super) struct PolicyPatch {
    /// Rotate the current key once it has been current this long; null: no schedule.
    rotate_every_seconds: Option<i64>,
    /// Revoke previous keys this long after their last token expired; null: never.
    revoke_previous_after_seconds: Option<i64>,
    /// RS256, PS256, ES256 or EdDSA: the type of new keys.
    signing_alg: Option<String>,
    /// 2048, 3072 or 4096 for RS256/PS256.
    key_size: Option<u32>,
}

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message)
}

/// A PATCH body: a JSON object naming any of the writable fields; read-only and unknown
/// fields, and numbers that are not whole seconds, are refused with the reason.
pub fn parse_update(body: &[u8]) -> Result<PolicyUpdate, ApiError> {
    let object: Map<String, Value> = serde_json::from_slice(body).map_err(|_| {
        invalid("Payload validation error: the body must be a JSON object".to_owned())
    })?;
    let mut update = PolicyUpdate::default();
    for (field, value) in &object {
        match field.as_str() {
            "rotate_every_seconds" => update.rotate_every_seconds = Some(seconds(field, value)?),
            "revoke_previous_after_seconds" => {
                update.revoke_previous_after_seconds = Some(seconds(field, value)?);
            }
            "signing_alg" => update.signing_alg = Some(signing_alg(value)?),
            "key_size" => update.key_size = Some(key_size(value)?),
            "next_rotation_at"
            | "publication_window_seconds"
            | "next_revocation_at"
            | "scheduled_revocations" => {
                return Err(invalid(format!(
                    "Payload validation error: '{field}' is read-only"
                )));
            }
            other => {
                return Err(invalid(format!(
                    "Payload validation error: 'Additional properties not allowed: {other}'"
                )));
            }
        }
    }
    Ok(update)
}

fn unsupported(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "unsupported_algorithm", message)
}

/// One of the algorithms Signet offers (SPEC §13).
fn signing_alg(value: &Value) -> Result<SigningAlg, ApiError> {
    let name = value.as_str().ok_or_else(|| {
        invalid("Payload validation error: 'signing_alg' must be a string".to_owned())
    })?;
    SigningAlg::parse(name)
        .ok_or_else(|| unsupported(AlgorithmRefusal::UnknownAlgorithm(name.to_owned()).to_string()))
}

/// A whole number of bits; whether the algorithm offers it is checked with the algorithm.
fn key_size(value: &Value) -> Result<u32, ApiError> {
    let bits = value.as_u64().ok_or_else(|| {
        invalid("Payload validation error: 'key_size' must be a whole number of bits".to_owned())
    })?;
    u32::try_from(bits).map_err(|_| unsupported(format!("{bits}-bit keys are not offered")))
}

/// `null`, or a whole number of seconds.
fn seconds(field: &str, value: &Value) -> Result<Option<i64>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => number.as_i64().map(Some).ok_or_else(|| {
            invalid(format!(
                "Payload validation error: '{field}' must be a whole number of seconds or null"
            ))
        }),
        _ => Err(invalid(format!(
            "Payload validation error: '{field}' must be a whole number of seconds or null"
        ))),
    }
}

/// `?force=true` on a rotation: rotate even if relying parties may not have the next key yet.
/// Anything else in the query is refused.
pub fn force_requested(query: RawQuery) -> Result<bool, ApiError> {
    let Some(query) = query.0.filter(|q| !q.is_empty()) else {
        return Ok(false);
    };
    let mut force = false;
    for pair in query.split('&') {
        match pair {
            "force=true" => force = true,
            "force=false" => force = false,
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query_string",
                    "Query validation error: only force=true or force=false is allowed",
                ));
            }
        }
    }
    Ok(force)
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn code(body: &str) -> String {
        let error = parse_update(body.as_bytes()).unwrap_err();
        format!("{error:?}")
    }

    #[test]
    fn a_patch_names_any_writable_field_and_nothing_else() {
        let update = parse_update(br#"{"rotate_every_seconds": 86400}"#).unwrap();
        assert_eq!(update.rotate_every_seconds, Some(Some(86_400)));
        assert_eq!(update.revoke_previous_after_seconds, None);
        let update =
            parse_update(br#"{"rotate_every_seconds": null, "revoke_previous_after_seconds": 0}"#)
                .unwrap();
        assert_eq!(update.rotate_every_seconds, Some(None));
        assert_eq!(update.revoke_previous_after_seconds, Some(Some(0)));
        assert_eq!(parse_update(b"{}").unwrap(), PolicyUpdate::default());
        let es256 = parse_update(br#"{"signing_alg": "ES256"}"#).unwrap();
        assert_eq!(es256.signing_alg, Some(SigningAlg::ES256));
        let rsa = parse_update(br#"{"signing_alg": "PS256", "key_size": 4096}"#).unwrap();
        assert_eq!(
            (rsa.signing_alg, rsa.key_size),
            (Some(SigningAlg::PS256), Some(4096))
        );
        assert!(code(r#"{"revoke_previous_after_seconds": 1.5}"#).contains("whole number"));
        assert!(code(r#"{"rotate_every_seconds": "30d"}"#).contains("whole number"));
        assert!(code(r#"{"next_rotation_at": null}"#).contains("read-only"));
        assert!(code(r#"{"rotate_every": 3600}"#).contains("Additional properties"));
        assert!(code(r#"{"signing_alg": "HS256"}"#).contains("unsupported_algorithm"));
        assert!(code(r#"{"signing_alg": "none"}"#).contains("unsupported_algorithm"));
        assert!(code(r#"{"signing_alg": 5}"#).contains("invalid_body"));
        assert!(code(r#"{"key_size": "4096"}"#).contains("invalid_body"));
        assert!(code(r#"{"key_size": 99999999999}"#).contains("unsupported_algorithm"));
        assert!(code("[]").contains("JSON object"));
        assert!(code("").contains("JSON object"));
    }

    #[test]
    fn only_force_is_read_from_a_rotation_query() {
        assert!(!force_requested(RawQuery(None)).unwrap());
        assert!(force_requested(RawQuery(Some("force=true".into()))).unwrap());
        assert!(!force_requested(RawQuery(Some("force=false".into()))).unwrap());
        assert!(force_requested(RawQuery(Some("force=yes".into()))).is_err());
    }
}
