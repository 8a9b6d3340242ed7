//! The Management API's error answer, in Auth0's body shape:
//! `{"statusCode":404,"error":"Not Found","message":"…","errorCode":"…"}`. Which service error
//! becomes which answer is decided in `errors.rs`, beside the other boundaries' maps.

use axum::{
    Json,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::rate_limit::Quota;

/// An error answer of Signet's HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable reason.
    pub error_code: &'static str,
    /// A sentence for people; never internal details.
    pub message: String,
    /// Extra response headers (`WWW-Authenticate`, `X-RateLimit-*`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Auth0's error body.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody<'a> {
    status_code: u16,
    error: &'a str,
    message: &'a str,
    error_code: &'a str,
    /// On a 5xx only: the request's id, as in `X-Request-Id` and its log line.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// The same error with one more response header (left out if `value` cannot be one).
    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        if let Ok(value) = HeaderValue::try_from(value.into()) {
            self.headers.push((name, value));
        }
        self
    }

    /// The bearer token is missing or not acceptable.
    pub fn invalid_token(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", message).with_header(
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"signet\", error=\"invalid_token\"",
        )
    }

    /// The token lacks the scopes an endpoint needs.
    pub fn insufficient_scope(expected: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("Insufficient scope, expected {expected}"),
        )
    }

    /// The route exists but not for this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method Not Allowed",
        )
    }

    /// A limit is reached; `reset` is when it lifts (Unix seconds).
    pub fn too_many_requests(message: &str, quota: &Quota) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message).with_quota(quota)
    }

    /// Adds the `X-RateLimit-*` headers of `quota`.
    pub fn with_quota(mut self, quota: &Quota) -> Self {
        self.headers.extend(quota.headers());
        self
    }

    /// No such route.
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not Found")
    }

    /// No signing key with that kid.
    pub fn key_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "inexistent_signing_key",
            "Signing key not found",
        )
    }

    /// The request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// Something failed inside Signet: the cause goes to the log, not to the caller.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A 4xx body says what was wrong and keeps Auth0's four fields exactly; a 5xx body's cause
        // is only in the log, so it names the request whose log line tells it.
        let request_id = super::request_id::current().filter(|_| self.status.is_server_error());
        let body = ErrorBody {
            status_code: self.status.as_u16(),
            error: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
            error_code: self.error_code,
            request_id: request_id.as_deref(),
        };
        let content_type = [(header::CONTENT_TYPE, "application/json; charset=utf-8")];
        let mut response = (self.status, content_type, Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn body_of(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn errors_use_auth0_body_shape() {
        let (status, body) = body_of(ApiError::key_not_found()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body,
            serde_json::json!({
                "statusCode": 404,
                "error": "Not Found",
                "message": "Signing key not found",
                "errorCode": "inexistent_signing_key"
            })
        );
    }
}
