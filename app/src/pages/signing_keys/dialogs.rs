//! The page's dialogs (the confirmations, the schedule's and the algorithm's forms, a key's
//! detail panel), loaded on demand.
//!
//! `make build` (`cargo leptos build --split`) puts their code in a WASM file of its own, so the
//! page hydrates without it: the browser fetches it once the page is interactive ([`preload`]).
//! A page the server rendered with a dialog open (`?confirm=…`, `?key=…`: a reload, a shared
//! link) needs it to hydrate that dialog, so there it is fetched first ([`load_if_open`]).

use leptos::{lazy, prelude::*};

use super::{
    Actions,
    algorithm::AlgorithmDialog,
    confirm::{Confirm, ConfirmDialog},
    key_details::KeyDetails,
    schedule::ScheduleDialog,
};
use crate::{
    algorithm::KeySpec,
    keys::{KeyUsage, KeyView},
    schedule::RotationSchedule,
};

/// A key action's confirmation, with the keys it names.
pub(super) struct Confirmation {
    pub confirm: Confirm,
    pub current: Option<KeyView>,
    pub next: Option<KeyView>,
    /// The valid keys' usage, for what a revocation would cut off.
    pub usage: Vec<KeyUsage>,
    /// Seconds a rotation would wait for the next key to be published for the window.
    pub rotate_wait: Option<u64>,
}

/// The dialog that is open, with what it shows.
pub(super) enum Opened {
    Confirm(Box<Confirmation>),
    Schedule(RotationSchedule),
    Algorithm(KeySpec),
    /// A key's detail panel, with its usage if the ledger was read.
    Details {
        key: Box<KeyView>,
        usage: Option<KeyUsage>,
    },
}

/// The open dialog: rendered once its code is there.
pub(super) fn show(opened: Opened, actions: Actions) -> impl IntoView {
    Suspend::new(async move { dialog(opened, actions).await })
}

/// Fetches the dialogs' code now, so that the first dialog opens at once (and opens while the
/// network is gone); `ready` turns true once it is there. Called once the page is interactive.
#[cfg(feature = "hydrate")]
pub(super) fn preload(ready: RwSignal<bool>) {
    leptos::task::spawn_local(async move {
        __preload_dialog().await;
        ready.set(true);
    });
}

/// Fetches the dialogs' code when the server rendered one open (a `<dialog open>` in the page):
/// hydration then renders it at once, as the server did. Awaited before the page hydrates.
#[cfg(feature = "hydrate")]
pub async fn load_if_open() {
    let open = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.query_selector("dialog[open]").ok().flatten());
    if open.is_some() {
        __preload_dialog().await;
    }
}

#[lazy]
fn dialog(opened: Opened, actions: Actions) -> AnyView {
    match opened {
        Opened::Confirm(confirmation) => {
            let Confirmation {
                confirm,
                current,
                next,
                usage,
                rotate_wait,
            } = *confirmation;
            view! { <ConfirmDialog confirm current next usage rotate_wait actions /> }.into_any()
        }
        Opened::Schedule(schedule) => view! { <ScheduleDialog schedule actions /> }.into_any(),
        Opened::Algorithm(policy) => view! { <AlgorithmDialog policy actions /> }.into_any(),
        Opened::Details { key, usage } => {
            view! { <KeyDetails key=*key usage actions /> }.into_any()
        }
    }
}
