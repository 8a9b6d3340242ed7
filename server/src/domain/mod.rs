//! The domain: what a signing key is and how its life goes — the lifecycle state machine, key
//! material, sealing under the master key, client secrets, the rotation limit, the rotation schedule.
//!
//! No I/O and no clock reads: every function that needs the time takes `now`. Nothing here
//! imports another module of this crate; every other layer builds on it
//! (docs/architecture.md).

pub mod actor;
pub mod certificate;
pub mod client_secret;
pub mod lifecycle;
pub mod material;
pub mod pem;
pub mod rotation_limit;
pub mod schedule;
pub mod sealing;
pub mod signing_policy;
pub mod usage;

pub use actor::Actor;
