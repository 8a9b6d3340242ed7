//! One module per page.

pub mod logs;
pub mod sign_in;
pub mod signing_keys;
pub mod tenants;
