//! Tenant Settings → Signing Keys: rotation settings, the valid keys, the revoked keys.
//!
//! Every action is a server function behind a real `<form>`: before hydration (or without
//! JavaScript) the form posts, the server acts and redirects back with the outcome in the query;
//! once hydrated, the same forms are submitted by the page, confirmation dialogs open in place,
//! and the lists refresh without a reload. A live stream of key events refreshes them when the
//! keys change anywhere else.
//!
//! One file per part: [`server_fns`] (what the page calls), [`confirm`] (the buttons that ask
//! for a confirmation and the dialog), [`rotation_settings`], [`valid_keys`] (both lists),
//! [`key_rows`] (their rows, written as markup), [`key_menu`] (a row's "…" menu and what the
//! table's listeners do with it), [`dialogs`] (the open dialog, whose code loads on demand);
//! this file holds the page and its state.

mod algorithm;
mod confirm;
pub(crate) mod dialogs;
mod key_details;
mod key_menu;
mod key_rows;
mod rotation_settings;
mod schedule;
mod server_fns;
mod valid_keys;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

pub use self::server_fns::{
    ListSigningKeys, RevokeSigningKey, RotateAndRevokeSigningKey, RotateSigningKey,
    SetRotationSchedule, SetSigningAlgorithm, list_signing_keys, revoke_signing_key,
    rotate_and_revoke_signing_key, rotate_signing_key, set_rotation_schedule,
    set_signing_algorithm,
};
use self::{
    algorithm::SigningAlgorithmCard,
    confirm::Confirm,
    dialogs::{Confirmation, Opened},
    rotation_settings::RotationSettings,
    schedule::RotationScheduleCard,
    valid_keys::{RevokedKeys, ValidKeys},
};
use crate::{
    components::{
        tabs::TenantTabs,
        toasts::{ToastRegion, Toasts},
    },
    error::DashboardError,
    keys::{KeyActionDone, KeyList, KeyState},
};

/// What the page's controls act through.
#[derive(Clone, Copy)]
pub struct Actions {
    rotate: ServerAction<RotateSigningKey>,
    rotate_and_revoke: ServerAction<RotateAndRevokeSigningKey>,
    revoke: ServerAction<RevokeSigningKey>,
    set_schedule: ServerAction<SetRotationSchedule>,
    set_algorithm: ServerAction<SetSigningAlgorithm>,
    confirm: RwSignal<Option<Confirm>>,
    /// The key whose detail panel is open (`?key=<kid>` without JavaScript).
    details: RwSignal<Option<String>>,
    /// The wait the server gave when it refused a rotation as too early: the rotate dialog
    /// then asks a second time.
    refused_wait: RwSignal<Option<u64>>,
    // Read only in the browser (clipboard outcomes).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    toasts: Toasts,
}

impl Actions {
    /// Whether the action a confirmation submits is under way.
    fn pending(&self, confirm: &Confirm) -> Memo<bool> {
        match confirm {
            Confirm::Rotate => self.rotate.pending(),
            Confirm::RotateAndRevoke => self.rotate_and_revoke.pending(),
            Confirm::Revoke(_) => self.revoke.pending(),
            Confirm::Schedule => self.set_schedule.pending(),
            Confirm::Algorithm => self.set_algorithm.pending(),
        }
    }

    /// Each finished action: a toast, and the dialog closes; a rotation refused as too early
    /// keeps its dialog open to ask a second time, a refused schedule keeps its dialog open
    /// with the reason.
    fn follow_outcomes(self) {
        for value in [
            self.rotate.value(),
            self.rotate_and_revoke.value(),
            self.revoke.value(),
        ] {
            Effect::new(move |_| match value.get() {
                Some(Err(DashboardError::NextKeyTooNew(seconds))) => {
                    self.refused_wait.set(Some(seconds));
                }
                Some(outcome) => {
                    self.refused_wait.set(None);
                    self.confirm.set(None);
                    self.toasts.push(outcome);
                }
                None => {}
            });
        }
        Effect::new(move |_| match self.set_schedule.value().get() {
            Some(Ok(_)) => {
                self.confirm.set(None);
                self.toasts.say(SCHEDULE_SAVED.to_owned(), false);
            }
            // Said in the dialog, which stays open.
            Some(Err(DashboardError::InvalidSchedule(_))) => {}
            Some(Err(error)) => self.toasts.push(Err(error)),
            None => {}
        });
        Effect::new(move |_| match self.set_algorithm.value().get() {
            Some(Ok(schedule)) => {
                self.confirm.set(None);
                self.toasts.say(algorithm_saved(&schedule), false);
            }
            // Said in the dialog, which stays open.
            Some(Err(DashboardError::UnsupportedAlgorithm)) => {}
            Some(Err(error)) => self.toasts.push(Err(error)),
            None => {}
        });
        // A new dialog starts without an earlier refusal.
        Effect::new(move |_| {
            if self.confirm.get().is_none() {
                self.refused_wait.set(None);
            }
        });
    }
}

/// The toast after the rotation schedule was saved.
const SCHEDULE_SAVED: &str = "Rotation schedule saved.";

/// The toast after the signing algorithm was saved by a plain form post.
const ALGORITHM_SAVED: &str = "Signing algorithm saved: the next key is of the new type.";

/// The toast after the signing algorithm was saved.
fn algorithm_saved(schedule: &crate::schedule::RotationSchedule) -> String {
    let spec = crate::algorithm::KeySpec::parse(&schedule.signing_alg, Some(schedule.key_size));
    match spec {
        Ok(spec) => format!(
            "New keys are {}. The next key is one; it becomes current at the next rotation.",
            spec.label()
        ),
        Err(_) => ALGORITHM_SAVED.to_owned(),
    }
}

/// Which page of the previous keys the URL asks for (`?page=N`, default 1).
fn previous_page() -> Memo<u32> {
    let query = use_query_map();
    Memo::new(move |_| {
        query
            .get()
            .get("page")
            .and_then(|page| page.parse::<u32>().ok())
            .unwrap_or(1)
    })
}

/// The Signing Keys page.
#[component]
pub fn SigningKeysPage() -> impl IntoView {
    let rotate = ServerAction::<RotateSigningKey>::new();
    let rotate_and_revoke = ServerAction::<RotateAndRevokeSigningKey>::new();
    let revoke = ServerAction::<RevokeSigningKey>::new();
    let set_schedule = ServerAction::<SetRotationSchedule>::new();
    let set_algorithm = ServerAction::<SetSigningAlgorithm>::new();
    // Bumped to fetch the lists again: the live stream announced another version, or a fetch
    // failed and is retried.
    let refetch = RwSignal::new(0_u64);
    let previous_page = previous_page();
    let keys = Resource::new(
        move || {
            (
                rotate.version().get(),
                rotate_and_revoke.version().get(),
                revoke.version().get(),
                refetch.get(),
                previous_page.get(),
            )
        },
        |(.., page)| list_signing_keys(Some(page)),
    );
    // The last lists fetched: shown, marked as possibly stale, while Signet cannot be reached.
    let last_good = StoredValue::new(None::<KeyList>);

    // After a plain form post the server redirected here with the outcome in the query.
    let query = use_query_map().get_untracked();
    let param = |name: &str| query.get(name);
    let outcome = KeyActionDone::from_query(param)
        .map(Ok)
        .or_else(|| DashboardError::from_query(param).map(Err));
    let toasts = Toasts::new(outcome);
    match param("done").as_deref() {
        Some(server_fns::SCHEDULE_SAVED) => {
            toasts.say(SCHEDULE_SAVED.to_owned(), false);
        }
        Some(server_fns::ALGORITHM_SAVED) => {
            toasts.say(ALGORITHM_SAVED.to_owned(), false);
        }
        _ => {}
    }
    let confirm = RwSignal::new(Confirm::from_query(param));
    let details = RwSignal::new(param("key"));
    let refused_wait = RwSignal::new(None::<u64>);
    let actions = Actions {
        rotate,
        rotate_and_revoke,
        revoke,
        set_schedule,
        set_algorithm,
        confirm,
        details,
        refused_wait,
        toasts,
    };
    actions.follow_outcomes();
    // A saved schedule fetches the lists again; a refused one does not, so the open dialog keeps
    // what the operator typed.
    Effect::new(move |_| {
        let saved = matches!(set_schedule.value().get(), Some(Ok(_)))
            || matches!(set_algorithm.value().get(), Some(Ok(_)));
        if saved {
            refetch.update(|n| *n += 1);
        }
    });

    // Whether the dialogs' code is in (`data-dialogs-ready`): from then on a dialog opens at once.
    let dialogs_ready = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        follow_changes(keys, last_good, refetch);
        Effect::new(move |_| dialogs::preload(dialogs_ready));
    }

    view! {
        <Title text="Signing Keys · Signet" />
        <div class="page" data-dialogs-ready=move || dialogs_ready.get().to_string()>
            <Transition fallback=|| view! { <p class="loading">"Loading signing keys…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(list) => {
                            last_good.set_value(Some(list.clone()));
                            view! { <KeysPage list actions /> }.into_any()
                        }
                        Err(error) => view! { <Unlisted error last_good actions /> }.into_any(),
                    }
                })}
            </Transition>
        </div>
        <ToastRegion toasts />
    }
}

/// Fetches the lists again when the live stream announces a key set the page does not show,
/// and retries a fetch that did not get through (network loss, Signet restarting).
#[cfg(feature = "hydrate")]
fn follow_changes(
    keys: Resource<Result<KeyList, DashboardError>>,
    last_good: StoredValue<Option<KeyList>>,
    refetch: RwSignal<u64>,
) {
    let follow = crate::browser::follow_key_events(move |version| {
        let shown = last_good.with_value(|list| list.as_ref().map(|list| list.version));
        if shown != Some(version) {
            refetch.update(|n| *n += 1);
        }
    });
    on_cleanup(move || follow.abort());
    Effect::new(move |_| {
        if let Some(Err(DashboardError::Transport(_) | DashboardError::Unavailable)) = keys.get() {
            leptos::task::spawn_local(async move {
                crate::browser::sleep(3_000).await;
                refetch.update(|n| *n += 1);
            });
        }
    });
}

/// The lists could not be fetched: while Signet cannot be reached, the last lists, marked as
/// possibly stale; otherwise the reason in words.
#[component]
fn Unlisted(
    error: DashboardError,
    last_good: StoredValue<Option<KeyList>>,
    actions: Actions,
) -> AnyView {
    let passing = matches!(
        error,
        DashboardError::Transport(_) | DashboardError::Unavailable
    );
    match last_good.get_value().filter(|_| passing) {
        Some(list) => view! {
            <p class="notice notice-error" role="alert" data-testid="stale-notice">
                {error.to_string()}
                " The keys below are as last seen; the page retries by itself."
            </p>
            <KeysPage list actions />
        }
        .into_any(),
        None => view! { <ErrorNotice error /> }.into_any(),
    }
}

#[component]
fn ErrorNotice(error: DashboardError) -> impl IntoView {
    let sign_in = error == DashboardError::SignedOut;
    view! {
        <p class="notice notice-error" role="alert">
            {error.to_string()}
            {sign_in.then(|| view! { " " <a href=crate::routes::LOGIN_PAGE>"Sign in"</a> })}
        </p>
    }
}

#[component]
fn KeysPage(list: KeyList, actions: Actions) -> AnyView {
    let current = list.first_in(KeyState::Current).cloned();
    let next = list.first_in(KeyState::Next).cloned();
    let usage = list.usage.clone();
    let schedule = list.schedule.clone();
    let rotate_wait = list
        .rotate_wait_seconds
        .and_then(|seconds| u64::try_from(seconds).ok());
    let policy =
        crate::algorithm::KeySpec::parse(&schedule.signing_alg, Some(schedule.key_size)).ok();
    let algorithm_card = view! {
        <SigningAlgorithmCard policy current=current.clone() next=next.clone() actions />
    };
    let dialog = {
        let (usage, schedule) = (usage.clone(), schedule.clone());
        move || {
            let opened = match actions.confirm.get()? {
                Confirm::Schedule => Opened::Schedule(schedule.clone()),
                Confirm::Algorithm => Opened::Algorithm(policy.unwrap_or_default()),
                confirm => Opened::Confirm(Box::new(Confirmation {
                    confirm,
                    current: current.clone(),
                    next: next.clone(),
                    usage: usage.clone(),
                    rotate_wait,
                })),
            };
            Some(dialogs::show(opened, actions))
        }
    };
    let next_rotation_in = list.next_rotation_in_seconds;
    let tenant = list.tenant_domain.clone();
    let version = list.version;
    let previous = list.previous;
    let (valid, revoked): (Vec<_>, Vec<_>) =
        list.keys.into_iter().partition(|k| k.state.is_valid());
    let details = {
        let (valid, usage) = (valid.clone(), list.usage.clone());
        move || {
            let kid = actions.details.get()?;
            let key = valid.iter().find(|key| key.kid == kid)?.clone();
            let usage = usage.iter().find(|u| u.kid == kid).cloned();
            let key = Box::new(key);
            Some(dialogs::show(Opened::Details { key, usage }, actions))
        }
    };
    view! {
        <header class="tenant-head">
            <p class="eyebrow">
                "Tenant Settings · "
                <span class="mono" data-testid="tenant-domain">
                    {tenant}
                </span>
            </p>
            <TenantTabs current=crate::routes::SIGNING_KEYS_PAGE />
            <h1>"Signing Keys"</h1>
            <p class="lede">
                "Signet signs your tenant's tokens with the current key. The next key is already \
                 published, so relying parties trust it before it signs anything."
            </p>
        </header>
        <RotationSettings actions />
        <RotationScheduleCard schedule=schedule.clone() next_rotation_in actions />
        {algorithm_card}
        <ValidKeys valid usage schedule version previous actions />
        <RevokedKeys revoked />
        {dialog}
        {details}
    }
    .into_any()
}
