//! What pages share: the tenant's tabs, toasts and timestamps.

pub mod tabs;
pub mod timestamp;
pub mod toasts;
