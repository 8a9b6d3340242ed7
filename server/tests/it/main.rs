//! Signet's integration tests: one binary, one module per area.
#![expect(clippy::unwrap_used)]

mod algorithms;
mod attacks;
mod audit_trail;
mod cli;
mod conformance;
mod crash;
mod dashboard_actions;
mod dashboard_auth;
mod database_outage;
mod encodings;
mod ledger;
mod log_secrets;
mod management_api;
mod metrics;
mod openapi;
mod operations;
mod process;
mod properties;
mod public_endpoints;
mod reload;
mod scale_out;
mod schedule;
mod service;
mod signing;
mod support;
mod tenants;
#[cfg(target_os = "linux")]
mod threads;
mod tls;
mod token_endpoint;
