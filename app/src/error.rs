//! Errors the dashboard's server functions return, as words the page can show.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Why a dashboard action failed. The page matches on the variant and never shows raw server text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum DashboardError {
    /// The key store could not be reached; the cause is in the server log.
    #[error("Signet cannot reach its key store right now. Try again in a moment.")]
    Unavailable,
    /// The request never reached the server or its answer could not be read.
    #[error("The request did not reach Signet ({0}). Check your connection and try again.")]
    Transport(String),
}

impl FromServerFnError for DashboardError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        DashboardError::Transport(value.to_string())
    }
}
