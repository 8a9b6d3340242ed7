//! Tenant Settings → Signing Keys: rotation settings, the valid keys, the revoked keys.
//!
//! Every action is a server function behind a real `<form>`: before hydration (or without
//! JavaScript) the form posts, the server acts and redirects back with the outcome in the query;
//! once hydrated, the same forms are submitted by the page, confirmation dialogs open in place,
//! and the lists refresh without a reload. A live stream of key events refreshes them when the
//! keys change anywhere else.

use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    Hydrated,
    error::DashboardError,
    keys::{KeyActionDone, KeyList, KeyState, KeyView, is_kid},
    pages::sign_in::HOME,
};

/// The tenant and its signing keys.
#[server(prefix = "/_signet", endpoint = "list_signing_keys")]
pub async fn list_signing_keys() -> Result<KeyList, DashboardError> {
    let service = crate::error::with_status(crate::service::signing_keys())?;
    crate::error::with_status(service.list_signing_keys().await)
}

/// Runs a key action on the operator's behalf and answers as [`crate::error::respond`] does.
#[cfg(feature = "ssr")]
async fn key_action<F, Fut>(act: F) -> Result<KeyActionDone, DashboardError>
where
    F: FnOnce(crate::service::SharedSigningKeys, Option<std::net::IpAddr>) -> Fut,
    Fut: std::future::Future<Output = Result<KeyActionDone, DashboardError>>,
{
    let from = crate::service::client_addr().await;
    let result = match crate::service::signing_keys() {
        Ok(service) => act(service, from).await,
        Err(error) => Err(error),
    };
    crate::error::respond(result, HOME, |done| Some(done.to_query()))
}

/// Rotates the signing key; `next_kid` is the key the operator confirmed would become current.
#[server(prefix = "/_signet", endpoint = "rotate_signing_key")]
pub async fn rotate_signing_key(next_kid: String) -> Result<KeyActionDone, DashboardError> {
    key_action(|keys, from| async move { keys.rotate(&next_kid, from).await }).await
}

/// Rotates and revokes the key that was current; `current_kid` is the key the operator
/// confirmed would be revoked.
#[server(prefix = "/_signet", endpoint = "rotate_and_revoke_signing_key")]
pub async fn rotate_and_revoke_signing_key(
    current_kid: String,
) -> Result<KeyActionDone, DashboardError> {
    key_action(|keys, from| async move { keys.rotate_and_revoke(&current_kid, from).await }).await
}

/// Revokes a previously used key.
#[server(prefix = "/_signet", endpoint = "revoke_signing_key")]
pub async fn revoke_signing_key(kid: String) -> Result<KeyActionDone, DashboardError> {
    key_action(|keys, from| async move { keys.revoke(&kid, from).await }).await
}

/// The confirmation the page is asking for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Confirm {
    Rotate,
    RotateAndRevoke,
    Revoke(String),
}

impl Confirm {
    /// `?confirm=…` (and `&kid=…`): how the page asks for a confirmation without JavaScript.
    fn from_query(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        match get("confirm")?.as_str() {
            "rotate" => Some(Confirm::Rotate),
            "rotate_and_revoke" => Some(Confirm::RotateAndRevoke),
            "revoke" => get("kid").filter(|kid| is_kid(kid)).map(Confirm::Revoke),
            _ => None,
        }
    }
}

/// A message in the corner of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Toast {
    id: u64,
    text: String,
    error: bool,
    /// Offer a link to the sign-in page (the session has ended).
    sign_in: bool,
}

/// The page's toasts, newest last.
#[derive(Debug, Clone, Copy)]
struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next_id: StoredValue<u64>,
}

impl Toasts {
    fn new(initial: Option<Result<KeyActionDone, DashboardError>>) -> Self {
        let toasts = Self {
            list: RwSignal::new(Vec::new()),
            next_id: StoredValue::new(0),
        };
        if let Some(outcome) = initial {
            toasts.push(outcome);
        }
        toasts
    }

    /// Shows the outcome of an action; successes fade after a few seconds, errors stay until
    /// dismissed.
    fn push(self, outcome: Result<KeyActionDone, DashboardError>) {
        match outcome {
            Ok(done) => {
                self.say(done.message(), false);
            }
            Err(error) => {
                let sign_in = error == DashboardError::SignedOut;
                let id = self.say(error.to_string(), true);
                if sign_in {
                    self.list.update(|list| {
                        if let Some(toast) = list.iter_mut().find(|t| t.id == id) {
                            toast.sign_in = true;
                        }
                    });
                }
            }
        }
    }

    fn say(self, text: String, error: bool) -> u64 {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        self.list.update(|list| {
            list.push(Toast {
                id,
                text,
                error,
                sign_in: false,
            })
        });
        #[cfg(feature = "hydrate")]
        if !error {
            leptos::task::spawn_local(async move {
                crate::browser::sleep(6_000).await;
                self.dismiss(id);
            });
        }
        id
    }

    fn dismiss(self, id: u64) {
        self.list.update(|list| list.retain(|toast| toast.id != id));
    }
}

/// The Signing Keys page.
#[component]
pub fn SigningKeysPage() -> impl IntoView {
    let rotate = ServerAction::<RotateSigningKey>::new();
    let rotate_and_revoke = ServerAction::<RotateAndRevokeSigningKey>::new();
    let revoke = ServerAction::<RevokeSigningKey>::new();
    // Bumped to fetch the lists again: the live stream announced another version, or a fetch
    // failed and is retried.
    let refetch = RwSignal::new(0_u64);
    let keys = Resource::new(
        move || {
            (
                rotate.version().get(),
                rotate_and_revoke.version().get(),
                revoke.version().get(),
                refetch.get(),
            )
        },
        |_| list_signing_keys(),
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
    let confirm = RwSignal::new(Confirm::from_query(param));

    // Each finished action: a toast, and the dialog closes.
    for value in [rotate.value(), rotate_and_revoke.value(), revoke.value()] {
        Effect::new(move |_| {
            if let Some(outcome) = value.get() {
                confirm.set(None);
                toasts.push(outcome);
            }
        });
    }

    #[cfg(feature = "hydrate")]
    {
        let follow = crate::browser::follow_key_events(move |version| {
            let shown = last_good.with_value(|list| list.as_ref().map(|list| list.version));
            if shown != Some(version) {
                refetch.update(|n| *n += 1);
            }
        });
        on_cleanup(move || follow.abort());
        // A fetch that did not get through (network loss, Signet restarting) is retried.
        Effect::new(move |_| {
            if let Some(Err(DashboardError::Transport(_) | DashboardError::Unavailable)) =
                keys.get()
            {
                leptos::task::spawn_local(async move {
                    crate::browser::sleep(3_000).await;
                    refetch.update(|n| *n += 1);
                });
            }
        });
    }

    let actions = Actions {
        rotate,
        rotate_and_revoke,
        revoke,
        confirm,
        toasts,
    };
    view! {
        <Title text="Signing Keys · Signet" />
        <div class="page">
            <Transition fallback=|| view! { <p class="loading">"Loading signing keys…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(list) => {
                            last_good.set_value(Some(list.clone()));
                            view! { <KeysPage list actions /> }.into_any()
                        }
                        Err(error) => {
                            let passing = matches!(
                                error,
                                DashboardError::Transport(_) | DashboardError::Unavailable
                            );
                            match last_good.get_value().filter(|_| passing) {
                                Some(list) => {
                                    view! {
                                        <p class="notice notice-error" role="alert" data-testid="stale-notice">
                                            {error.to_string()}
                                            " The keys below are as last seen; the page retries by itself."
                                        </p>
                                        <KeysPage list actions />
                                    }
                                        .into_any()
                                }
                                None => view! { <ErrorNotice error /> }.into_any(),
                            }
                        }
                    }
                })}
            </Transition>
        </div>
        <ToastRegion toasts />
    }
}

/// What the page's controls act through.
#[derive(Clone, Copy)]
struct Actions {
    rotate: ServerAction<RotateSigningKey>,
    rotate_and_revoke: ServerAction<RotateAndRevokeSigningKey>,
    revoke: ServerAction<RevokeSigningKey>,
    confirm: RwSignal<Option<Confirm>>,
    // Read only in the browser (clipboard outcomes).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    toasts: Toasts,
}

#[component]
fn ErrorNotice(error: DashboardError) -> impl IntoView {
    let sign_in = error == DashboardError::SignedOut;
    view! {
        <p class="notice notice-error" role="alert">
            {error.to_string()}
            {sign_in.then(|| view! { " " <a href="/login">"Sign in"</a> })}
        </p>
    }
}

#[component]
fn KeysPage(list: KeyList, actions: Actions) -> AnyView {
    let current = list.first_in(KeyState::Current).cloned();
    let next = list.first_in(KeyState::Next).cloned();
    let dialog = move || {
        let (current, next) = (current.clone(), next.clone());
        actions
            .confirm
            .get()
            .map(|confirm| view! { <ConfirmDialog confirm current next actions /> })
    };
    let tenant = list.tenant_domain.clone();
    let (valid, revoked): (Vec<_>, Vec<_>) =
        list.keys.into_iter().partition(|k| k.state.is_valid());
    view! {
        <header class="tenant-head">
            <p class="eyebrow">
                "Tenant Settings · "
                <span class="mono" data-testid="tenant-domain">
                    {tenant}
                </span>
            </p>
            <nav class="tabs" aria-label="Tenant settings">
                <a href=HOME aria-current="page">
                    "Signing Keys"
                </a>
            </nav>
            <h1>"Signing Keys"</h1>
            <p class="lede">
                "Signet signs your tenant's tokens with the current key. The next key is already \
                 published, so relying parties trust it before it signs anything."
            </p>
        </header>
        <RotationSettings actions />
        <ValidKeys valid actions />
        <section class="card" aria-labelledby="revoked-keys-title">
            <h2 id="revoked-keys-title">"List of Revoked Keys"</h2>
            <p class="hint">"The last three keys revoked. Tokens they signed no longer validate."</p>
            <RevokedKeys revoked />
        </section>
        {dialog}
    }
    .into_any()
}

/// A button that opens a confirmation: a GET form that asks the server for the page with the
/// dialog open (no JavaScript), or opens the dialog in place (hydrated).
#[component]
fn ConfirmButton(
    confirm: Confirm,
    actions: Actions,
    label: String,
    #[prop(into)] class: String,
    #[prop(optional, into)] testid: &'static str,
) -> impl IntoView {
    let (name, kid) = match &confirm {
        Confirm::Rotate => ("rotate", None),
        Confirm::RotateAndRevoke => ("rotate_and_revoke", None),
        Confirm::Revoke(kid) => ("revoke", Some(kid.clone())),
    };
    let open = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        actions.confirm.set(Some(confirm.clone()));
    };
    view! {
        <form method="get" action=HOME on:submit=open class="inline-form">
            <input type="hidden" name="confirm" value=name />
            {kid.map(|kid| view! { <input type="hidden" name="kid" value=kid /> })}
            <button type="submit" class=class data-testid=testid>
                {label}
            </button>
        </form>
    }
}

#[component]
fn RotationSettings(actions: Actions) -> AnyView {
    view! {
        <section class="card" aria-labelledby="rotation-title">
            <h2 id="rotation-title">"Rotation Settings"</h2>
            <div class="rotation-cards">
                <article class="rotation-card" aria-labelledby="rotate-title">
                    <h3 id="rotate-title">"Rotate Signing Key"</h3>
                    <p>
                        "The next key becomes current and signs new tokens. The current key stays \
                         valid as previously used, so tokens it signed keep working."
                    </p>
                    <ConfirmButton
                        confirm=Confirm::Rotate
                        actions
                        label="Rotate Key".into()
                        class="button button-primary"
                        testid="rotate-key"
                    />
                </article>
                <article class="rotation-card rotation-card-danger" aria-labelledby="rotate-revoke-title">
                    <h3 id="rotate-revoke-title">"Rotate & Revoke Signing Key"</h3>
                    <p>
                        "Rotates, then revokes the key that was current at once: for a key you believe \
                         is compromised. Tokens it signed stop validating immediately."
                    </p>
                    <ConfirmButton
                        confirm=Confirm::RotateAndRevoke
                        actions
                        label="Rotate & Revoke Key".into()
                        class="button button-danger"
                        testid="rotate-and-revoke-key"
                    />
                </article>
            </div>
        </section>
    }
    .into_any()
}

/// The confirmation dialog: modal once hydrated (focus stays inside, Escape cancels), an inline
/// open dialog in the server-rendered page.
#[component]
fn ConfirmDialog(
    confirm: Confirm,
    current: Option<KeyView>,
    next: Option<KeyView>,
    actions: Actions,
) -> impl IntoView {
    let dialog_ref = NodeRef::<leptos::html::Dialog>::new();
    // Server-rendered (asked for by `?confirm=…`), the dialog is simply open in the page; made in
    // the browser, it opens as a modal below.
    let hydrated = use_context::<Hydrated>().is_some_and(|h| h.0.get_untracked());
    // The `close` event of turning a server-opened dialog into a modal is not a cancel.
    let reopening = StoredValue::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(dialog) = dialog_ref.get() {
            if dialog.open() {
                reopening.set_value(true);
                dialog.close();
            }
            let _ = dialog.show_modal();
        }
    });
    let on_close = move |_| {
        if reopening.get_value() {
            reopening.set_value(false);
        } else {
            actions.confirm.set(None);
        }
    };
    let kid_of = |key: &Option<KeyView>| {
        key.as_ref()
            .map_or_else(|| "(none)".to_owned(), |k| k.kid.clone())
    };
    let (current_kid, next_kid) = (kid_of(&current), kid_of(&next));
    let (title, body, form) = match confirm {
        Confirm::Rotate => {
            let pending = actions.rotate.pending();
            (
                view! { "Rotate the signing key?" }.into_any(),
                view! {
                    <p>
                        "Key " <code>{next_kid.clone()}</code>
                        " becomes the current key and signs every new token. Key "
                        <code>{current_kid}</code>
                        " stays published as previously used, so the tokens it signed keep \
                         validating until you revoke it. A new next key is generated and published."
                    </p>
                }
                .into_any(),
                view! {
                    <ActionForm action=actions.rotate>
                        <input type="hidden" name="next_kid" value=next_kid />
                        <ConfirmSubmit label="Rotate" busy_label="Rotating…" danger=false pending />
                    </ActionForm>
                }
                .into_any(),
            )
        }
        Confirm::RotateAndRevoke => {
            let pending = actions.rotate_and_revoke.pending();
            (
                view! { "Rotate and revoke the current key?" }.into_any(),
                view! {
                    <p>
                        "Key " <code>{next_kid}</code> " becomes the current key. Key "
                        <code>{current_kid.clone()}</code>
                        " is revoked at once: every token it signed stops validating immediately, \
                         and its private key is destroyed."
                    </p>
                    <p class="warning">"This cannot be undone."</p>
                }
                .into_any(),
                view! {
                    <ActionForm action=actions.rotate_and_revoke>
                        <input type="hidden" name="current_kid" value=current_kid />
                        <ConfirmSubmit
                            label="Rotate & Revoke"
                            busy_label="Rotating and revoking…"
                            danger=true
                            pending
                        />
                    </ActionForm>
                }
                .into_any(),
            )
        }
        Confirm::Revoke(kid) => {
            let pending = actions.revoke.pending();
            (
                view! { "Revoke key " <code>{kid.clone()}</code> "?" }.into_any(),
                view! {
                    <p>
                        "The key leaves the JWKS and its private key is destroyed: tokens it \
                         signed stop validating at once. A revoked key can never be used again."
                    </p>
                    <p class="warning">"This cannot be undone."</p>
                }
                .into_any(),
                view! {
                    <ActionForm action=actions.revoke>
                        <input type="hidden" name="kid" value=kid />
                        <ConfirmSubmit label="Revoke" busy_label="Revoking…" danger=true pending />
                    </ActionForm>
                }
                .into_any(),
            )
        }
    };
    view! {
        <dialog
            node_ref=dialog_ref
            open=!hydrated
            class="dialog"
            aria-labelledby="confirm-title"
            data-testid="confirm-dialog"
            on:close=on_close
            on:keydown=move |event| {
                #[cfg(feature = "hydrate")]
                if let Some(dialog) = dialog_ref.get_untracked() {
                    crate::browser::trap_focus(&dialog, &event);
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = event;
            }
        >
            <h2 id="confirm-title">{title}</h2>
            {body}
            <div class="dialog-buttons">
                // Closes the dialog natively, with or without JavaScript.
                <form method="dialog">
                    <button type="submit" class="button button-quiet">
                        "Cancel"
                    </button>
                </form>
                {form}
            </div>
        </dialog>
    }
}

/// The dialog's confirming button: shows progress and cannot be pressed twice.
#[component]
fn ConfirmSubmit(
    label: &'static str,
    busy_label: &'static str,
    danger: bool,
    pending: Memo<bool>,
) -> impl IntoView {
    let class = if danger {
        "button button-danger"
    } else {
        "button button-primary"
    };
    view! {
        <button
            type="submit"
            class=class
            disabled=pending
            aria-busy=move || pending.get().to_string()
        >
            {move || if pending.get() { busy_label } else { label }}
        </button>
    }
}

#[component]
fn ValidKeys(valid: Vec<KeyView>, actions: Actions) -> AnyView {
    view! {
        <section class="card" aria-labelledby="valid-keys-title">
            <h2 id="valid-keys-title">"List of Valid Keys"</h2>
            <p class="hint">
                "The current key signs new tokens; the next key replaces it at the next rotation; \
                 previously used keys still verify the tokens they signed until you revoke them."
            </p>
            <div class="table-wrap">
                <table data-testid="valid-keys">
                    <thead>
                        <tr>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Key ID"</th>
                            <th scope="col">"Fingerprint"</th>
                            <th scope="col">"Current since"</th>
                            <th scope="col">"Current until"</th>
                            <th scope="col">
                                <span class="visually-hidden">"Actions"</span>
                            </th>
                        </tr>
                    </thead>
                    <tbody>
                        {valid
                            .into_iter()
                            .map(|key| view! { <ValidKeyRow key actions /> })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn ValidKeyRow(key: KeyView, actions: Actions) -> AnyView {
    let row_kid = key.kid.clone();
    let state = key.state;
    view! {
        <tr data-testid="key-row" data-kid=row_kid data-state=state.as_str()>
            <td data-label="Status">
                <StateBadge state />
            </td>
            <td class="mono" data-testid="kid" data-label="Key ID">
                {key.kid.clone()}
            </td>
            <td class="mono fingerprint" data-testid="fingerprint" data-label="Fingerprint">
                {key.fingerprint.clone()}
            </td>
            <td data-label="Current since">
                <Timestamp value=key.current_since.clone() />
            </td>
            <td data-label="Current until">
                <Timestamp value=key.current_until.clone() />
            </td>
            <td class="row-actions">
                <KeyMenu key actions />
            </td>
        </tr>
    }
    .into_any()
}

/// The "…" menu of a valid key. A `<details>` element, so it opens without JavaScript too;
/// the copy items appear once the page is hydrated (they need the clipboard).
#[component]
fn KeyMenu(key: KeyView, actions: Actions) -> AnyView {
    let hydrated = use_context::<Hydrated>().map_or(Signal::stored(false), |h| h.0);
    let menu_ref = NodeRef::<leptos::html::Details>::new();
    let close_menu = move || {
        if let Some(menu) = menu_ref.get_untracked() {
            menu.set_open(false);
        }
    };
    let on_keydown = move |event: leptos::ev::KeyboardEvent| {
        if event.key() == "Escape" {
            close_menu();
        }
    };
    let copy = move |what: &'static str, text: String| {
        move |_| {
            close_menu();
            let text = text.clone();
            #[cfg(feature = "hydrate")]
            leptos::task::spawn_local(async move {
                match crate::browser::copy_to_clipboard(&text).await {
                    Ok(()) => {
                        actions
                            .toasts
                            .say(format!("{what} copied to the clipboard."), false);
                    }
                    Err(_) => {
                        actions.toasts.say(
                            format!(
                                "The browser did not allow copying the {}. Select it on the page and copy it by hand.",
                                what.to_lowercase()
                            ),
                            true,
                        );
                    }
                }
            });
            #[cfg(not(feature = "hydrate"))]
            let _ = (what, text);
        }
    };
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let outside = window_event_listener(leptos::ev::click, move |event| {
            let Some(menu) = menu_ref.get_untracked() else {
                return;
            };
            let target = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::Node>().ok());
            if !menu.contains(target.as_ref()) {
                menu.set_open(false);
            }
        });
        on_cleanup(move || outside.remove());
    }
    let base = format!("{HOME}/{}", key.kid);
    let revocable = key.state.can_revoke();
    let kid = key.kid.clone();
    view! {
        <details
            class="menu"
            node_ref=menu_ref
            on:keydown=on_keydown
            on:submit=move |_| close_menu()
            data-testid="key-menu"
        >
            <summary class="menu-button" aria-label=format!("Actions for key {}", key.kid)>
                <span aria-hidden="true">"…"</span>
            </summary>
            <div class="menu-items">
                <button type="button" class="menu-item" hidden=move || !hydrated.get() on:click=copy("Key ID", key.kid.clone())>
                    "Copy key ID"
                </button>
                <button type="button" class="menu-item" hidden=move || !hydrated.get() on:click=copy("Certificate", key.cert.clone())>
                    "Copy certificate"
                </button>
                <button type="button" class="menu-item" hidden=move || !hydrated.get() on:click=copy("Fingerprint", key.fingerprint.clone())>
                    "Copy fingerprint"
                </button>
                <a class="menu-item" href=format!("{base}/certificate.pem") download on:click=move |_| close_menu()>
                    "Download certificate (PEM)"
                </a>
                <a class="menu-item" href=format!("{base}/certificate.cer") download on:click=move |_| close_menu()>
                    "Download certificate (CER)"
                </a>
                <a class="menu-item" href=format!("{base}/certificate.p7b") download on:click=move |_| close_menu()>
                    "Download certificate (PKCS#7)"
                </a>
                {revocable
                    .then(|| {
                        view! {
                            <ConfirmButton
                                confirm=Confirm::Revoke(kid.clone())
                                actions
                                label="Revoke Key".into()
                                class="menu-item menu-item-danger"
                                testid="revoke-key"
                            />
                        }
                    })}
            </div>
        </details>
    }
    .into_any()
}

#[component]
fn RevokedKeys(revoked: Vec<KeyView>) -> impl IntoView {
    if revoked.is_empty() {
        return Either::Left(view! {
            <p class="empty" data-testid="no-revoked-keys">
                "No key has been revoked."
            </p>
        });
    }
    Either::Right(view! {
        <div class="table-wrap">
            <table data-testid="revoked-keys">
                <thead>
                    <tr>
                        <th scope="col">"Key ID"</th>
                        <th scope="col">"Fingerprint"</th>
                        <th scope="col">"Revoked at"</th>
                    </tr>
                </thead>
                <tbody>
                    {revoked
                        .into_iter()
                        .map(|key| {
                            let row_kid = key.kid.clone();
                            view! {
                                <tr data-testid="revoked-row" data-kid=row_kid>
                                    <td class="mono" data-label="Key ID">{key.kid}</td>
                                    <td class="mono fingerprint" data-label="Fingerprint">{key.fingerprint}</td>
                                    <td data-label="Revoked at">
                                        <Timestamp value=key.revoked_at />
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    })
}

#[component]
fn StateBadge(state: KeyState) -> impl IntoView {
    view! { <span class=format!("badge badge-{}", state.as_str())>{state.label()}</span> }
}

/// An instant: UTC in the server-rendered page, the browser's local time once hydrated, and the
/// UTC value on hover.
#[component]
fn Timestamp(value: Option<String>) -> impl IntoView {
    let Some(iso) = value else {
        return Either::Left(view! { <span class="muted">"—"</span> });
    };
    let utc = format!("{} UTC", iso.replace('T', " ").trim_end_matches('Z'));
    let shown = RwSignal::new(utc.clone());
    #[cfg(feature = "hydrate")]
    {
        let iso = iso.clone();
        Effect::new(move |_| {
            if let Some(local) = crate::browser::local_time(&iso) {
                shown.set(local);
            }
        });
    }
    Either::Right(view! {
        <time datetime=iso title=utc>
            {move || shown.get()}
        </time>
    })
}

/// Toasts: a polite live region for what happened, alerts for what went wrong.
#[component]
fn ToastRegion(toasts: Toasts) -> impl IntoView {
    view! {
        <div class="toasts" role="status" aria-live="polite" data-testid="toasts">
            <For each=move || toasts.list.get() key=|toast| toast.id let:toast>
                <div
                    class=if toast.error { "toast toast-error" } else { "toast" }
                    role=toast.error.then_some("alert")
                    data-testid="toast"
                >
                    <p>
                        {toast.text.clone()}
                        {toast.sign_in.then(|| view! { " " <a href="/login">"Sign in"</a> })}
                    </p>
                    <button
                        type="button"
                        class="toast-close"
                        aria-label="Dismiss"
                        on:click=move |_| toasts.dismiss(toast.id)
                    >
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}
