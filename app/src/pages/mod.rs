//! One module per page.

pub mod signing_keys;
