//! The OpenAPI 3.1 document of the Management API, the token endpoint and the signing service
//! (SPEC §14), served at `GET /api/v2/openapi.json`. It is generated from the handlers' own
//! `#[utoipa::path]` annotations and the types they read and write, so it cannot drift from
//! them; `tests/it/openapi.rs` checks it against the routes the router serves.

use axum::{
    http::{HeaderValue, header},
    response::IntoResponse,
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use super::{api_error, clients_api, logs_api, management, oauth, policy, signing};

/// Every documented operation and schema.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Signet",
        description = "Signet's Auth0-compatible Management API for signing keys, clients and \
                       the audit trail; the OAuth 2.0 token endpoint; and the signing service. \
                       Every /api/v2 operation takes a bearer token from POST /oauth/token \
                       whose scopes the operation names."
    ),
    paths(
        management::list_keys,
        management::get_key,
        management::rotate_key,
        management::revoke_key,
        signing::key_usage,
        policy::show,
        policy::update,
        clients_api::create_client,
        clients_api::list_clients,
        clients_api::delete_client,
        logs_api::list_logs,
        logs_api::get_log,
        signing::sign,
        signing::sign_batch,
        oauth::token,
        openapi_json,
    ),
    components(schemas(api_error::ErrorBody)),
    modifiers(&BearerToken),
    tags(
        (name = "signing keys", description = "List, rotate and revoke the tenant's signing keys"),
        (name = "clients", description = "Machine clients of the Management API"),
        (name = "logs", description = "The audit trail, read only"),
        (name = "signing service", description = "Tokens signed with the current key"),
        (name = "oauth", description = "Access tokens for machine clients"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme every `/api/v2` operation names.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document, serialised once per process.
fn document() -> &'static [u8] {
    static DOCUMENT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_default()
            .into_bytes()
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v2/openapi.json",
    tag = "oauth",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"))
)]
pub(super) async fn openapi_json() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        document(),
    )
}
