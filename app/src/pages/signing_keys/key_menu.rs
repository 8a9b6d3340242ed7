//! The "…" menu of a valid key: copy, download, and — for previously used keys — revoke.

use leptos::prelude::*;

use super::{
    Actions,
    confirm::{Confirm, ConfirmButton},
};
use crate::{Hydrated, keys::KeyView, pages::sign_in::HOME};

/// A `<details>` element, so it opens without JavaScript too; the copy items appear once the page
/// is hydrated (they need the clipboard).
#[component]
pub fn KeyMenu(
    key: KeyView,
    actions: Actions,
    /// The page of previous keys shown, kept by the details link.
    page: u32,
) -> AnyView {
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
    let copy = move |what: &'static str, clip: Clip| {
        move |_| {
            close_menu();
            copy_to_clipboard(actions, what, clip.clone());
        }
    };
    #[cfg(feature = "hydrate")]
    close_when_clicked_outside(menu_ref);
    let base = format!("{HOME}/{}", key.kid);
    let certificate = Clip::Served(format!("{base}/certificate.pem"));
    let revocable = key.state.can_revoke();
    let kid = key.kid.clone();
    let details_kid = key.kid.clone();
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
                <DetailsLink kid=details_kid page actions on_open=close_menu />
                <button type="button" class="menu-item" hidden=move || !hydrated.get() on:click=copy("Key ID", Clip::Text(key.kid.clone()))>
                    "Copy key ID"
                </button>
                <button type="button" class="menu-item" hidden=move || !hydrated.get() on:click=copy("Certificate", certificate)>
                    "Copy certificate"
                </button>
                <button type="button" class="menu-item" hidden=move || !hydrated.get() on:click=copy("Fingerprint", Clip::Text(key.fingerprint.clone()))>
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
                                label="Revoke Key"
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

/// The menu item that opens the key's detail panel: in place once hydrated, as a page without
/// JavaScript.
#[component]
fn DetailsLink(
    kid: String,
    page: u32,
    actions: Actions,
    on_open: impl Fn() + 'static,
) -> impl IntoView {
    let href = format!("{HOME}?page={page}&key={kid}");
    let open = move |event: leptos::ev::MouseEvent| {
        event.prevent_default();
        on_open();
        actions.details.set(Some(kid.clone()));
    };
    view! {
        <a class="menu-item" href=href on:click=open data-testid="view-details">
            "View details"
        </a>
    }
}

/// What a menu item copies.
#[derive(Clone)]
#[cfg_attr(
    not(feature = "hydrate"),
    expect(
        dead_code,
        reason = "only the browser copies; the server renders the menu"
    )
)]
enum Clip {
    /// This text, which the page already has.
    Text(String),
    /// The text served at this URL: the certificate, which the page does not carry for every key.
    Served(String),
}

/// Puts `clip` on the clipboard and says whether that worked (in the browser; nothing on the
/// server).
fn copy_to_clipboard(actions: Actions, what: &'static str, clip: Clip) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        let copied = match &clip {
            Clip::Text(text) => crate::browser::copy_to_clipboard(text).await,
            Clip::Served(url) => crate::browser::copy_from_url(url).await,
        };
        match copied {
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
    let _ = (actions, what, clip);
}

/// A click anywhere outside the open menu closes it, as a native menu does.
#[cfg(feature = "hydrate")]
fn close_when_clicked_outside(menu_ref: NodeRef<leptos::html::Details>) {
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
