//! The domain: key material, lifecycle and sealing (being moved here from keys/).

pub mod material;
