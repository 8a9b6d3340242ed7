//! The services (being moved here).

pub mod tokens;
