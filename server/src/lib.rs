//! Signet: owns an identity tenant's token-signing keys — generates them, publishes them,
//! rotates and revokes them — behind a dashboard, a CLI and an Auth0-compatible API.
//!
//! The folders are the architecture (docs/architecture.md), and arrows only go down:
//! `cli`/`serve`/`startup`/`config` → [`http`] → [`services`] → [`store`] → [`domain`].

pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod log;
pub mod serve;
pub mod services;
pub mod startup;
pub mod store;

pub use http::{AppState, router};
