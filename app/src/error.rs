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
    /// The operator password was wrong.
    #[error("That password is not right. Check it and try again.")]
    WrongPassword,
    /// Too many failed sign-ins from this address.
    #[error("Too many failed sign-ins. Wait {0} minutes, then try again.")]
    TooManyAttempts(u64),
    /// The session is missing or expired.
    #[error("Your session has ended. Sign in again to continue.")]
    SignedOut,
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

impl DashboardError {
    /// The HTTP status a server function answers with for this error: never a 500 for a
    /// wrong password or an expired session.
    pub fn status(&self) -> u16 {
        match self {
            DashboardError::WrongPassword | DashboardError::SignedOut => 401,
            DashboardError::TooManyAttempts(_) => 429,
            DashboardError::Unavailable => 503,
            DashboardError::Transport(_) => 400,
        }
    }
}

/// Passes a server function's result through, setting the response status for an error.
#[cfg(feature = "ssr")]
pub fn with_status<T>(result: Result<T, DashboardError>) -> Result<T, DashboardError> {
    if let Err(error) = &result
        && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
    result
}
