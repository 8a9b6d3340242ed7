//! Signet's integration tests: one binary, one module per area.
#![expect(clippy::unwrap_used)]

mod cli;
mod conformance;
mod dashboard_actions;
mod dashboard_auth;
mod management_api;
mod public_endpoints;
mod service;
mod support;
mod token_endpoint;
