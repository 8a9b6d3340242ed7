//! Signing keys: their material, their lifecycle, their encryption at rest, and the service
//! that ties them to storage.

pub mod lifecycle;
pub mod master_key;
pub mod service;
