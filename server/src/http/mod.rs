//! The HTTP layer (being moved here from api/).

pub mod tls;
