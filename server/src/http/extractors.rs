//! Extractors that read a request once, at the edge, and answer in the API's own format when
//! the request is malformed.

use std::{convert::Infallible, net::IpAddr};

use app::keys::Kid;
use axum::{
    extract::{ConnectInfo, FromRequestParts, Path},
    http::{StatusCode, request::Parts},
};

use super::api_error::ApiError;

/// The address the request came from, when it came over a socket (tests drive the router
/// without one).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}

/// The `{kid}` path segment, parsed once into a [`Kid`]; anything else is Auth0's 400.
#[derive(Debug, Clone)]
pub struct KidPath(pub Kid);

impl<S: Send + Sync> FromRequestParts<S> for KidPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let invalid = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_uri",
                "Path validation error: 'String does not match pattern ^[A-Za-z0-9_-]+$' on property kid (The key id of the signing key)",
            )
        };
        let Path(kid) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| invalid())?;
        Kid::parse(&kid).map(Self).map_err(|_| invalid())
    }
}
