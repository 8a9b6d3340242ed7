//! What pages share: toasts and timestamps.

pub mod timestamp;
pub mod toasts;
