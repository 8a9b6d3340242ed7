//! Signet: owns an identity tenant's token-signing keys — generates them, publishes them,
//! rotates and revokes them — behind a dashboard, a CLI and an Auth0-compatible API.

pub mod api;
pub mod backup;
pub mod cli;
pub mod clients;
pub mod config;
pub mod domain;
pub mod http;
pub mod http_server;
pub mod keys;
pub mod operator;
pub mod services;
pub mod startup;
pub mod store;

pub use api::{AppState, router};
