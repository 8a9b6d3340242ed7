//! The "…" menu of a valid key: view details, copy, download, and — for previously used keys —
//! revoke.
//!
//! The menu is part of its row's markup ([`menu`]), a `<details>` element, so it opens without
//! JavaScript too; the copy items appear once the page is hydrated (they need the clipboard). In the
//! browser one set of listeners on the table ([`MenuEvents`]) does what every menu's items do.

use leptos::prelude::*;
use maud::{Markup, html};

use super::{Actions, confirm::Confirm};
use crate::{keys::KeyView, pages::sign_in::HOME};

/// The menu of `key`. `page` is the page of previous keys shown, kept by the details link;
/// `interactive` says whether the copy items show (the page is hydrated).
pub(super) fn menu(key: &KeyView, page: u32, interactive: bool) -> Markup {
    let kid = key.kid.as_str();
    let certificate = format!("{HOME}/{kid}/certificate");
    html! {
        details.menu data-testid="key-menu" {
            summary.menu-button aria-label={ "Actions for key " (kid) } {
                span aria-hidden="true" { "…" }
            }
            div.menu-items {
                a.menu-item href={ (HOME) "?page=" (page) "&key=" (kid) } data-testid="view-details" {
                    "View details"
                }
                button.menu-item type="button" hidden[!interactive] data-copy=(Copied::KeyId.as_str())
                    data-copy-text=(kid) { "Copy key ID" }
                button.menu-item type="button" hidden[!interactive] data-copy=(Copied::Certificate.as_str())
                    data-copy-url={ (certificate) ".pem" } { "Copy certificate" }
                button.menu-item type="button" hidden[!interactive] data-copy=(Copied::Fingerprint.as_str())
                    data-copy-text=(key.fingerprint) { "Copy fingerprint" }
                a.menu-item href={ (certificate) ".pem" } download { "Download certificate (PEM)" }
                a.menu-item href={ (certificate) ".cer" } download { "Download certificate (CER)" }
                a.menu-item href={ (certificate) ".p7b" } download { "Download certificate (PKCS#7)" }
                @if key.state.can_revoke() {
                    // As `ConfirmButton`: asks for the confirmation with the page itself, without
                    // JavaScript (the query `Confirm::from_query` reads); in place once hydrated.
                    @let (confirm, confirm_kid) = Confirm::Revoke(key.kid.clone()).query();
                    form.inline-form method="get" action=(HOME) {
                        input type="hidden" name="confirm" value=(confirm);
                        @if let Some(confirm_kid) = &confirm_kid {
                            input type="hidden" name="kid" value=(confirm_kid);
                        }
                        button.menu-item.menu-item-danger type="submit" data-testid="revoke-key" {
                            "Revoke Key"
                        }
                    }
                }
            }
        }
    }
}

/// What a copy item copies: its `data-copy`, and the toast's word for it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Copied {
    KeyId,
    Certificate,
    Fingerprint,
}

impl Copied {
    const ALL: [Copied; 3] = [Copied::KeyId, Copied::Certificate, Copied::Fingerprint];

    fn as_str(self) -> &'static str {
        match self {
            Copied::KeyId => "kid",
            Copied::Certificate => "certificate",
            Copied::Fingerprint => "fingerprint",
        }
    }

    #[cfg_attr(
        not(feature = "hydrate"),
        expect(
            dead_code,
            reason = "only the browser copies; the server renders the menu"
        )
    )]
    fn parse(value: &str) -> Option<Copied> {
        Copied::ALL
            .into_iter()
            .find(|copied| copied.as_str() == value)
    }

    /// How the toast names it.
    #[cfg_attr(
        not(feature = "hydrate"),
        expect(
            dead_code,
            reason = "only the browser copies; the server renders the menu"
        )
    )]
    fn name(self) -> &'static str {
        match self {
            Copied::KeyId => "Key ID",
            Copied::Certificate => "Certificate",
            Copied::Fingerprint => "Fingerprint",
        }
    }
}

/// What the menus of a key table do: one listener of each kind on the table, for every row. On the
/// server, nothing.
#[derive(Clone, Copy)]
pub(super) struct MenuEvents {
    #[cfg_attr(
        not(feature = "hydrate"),
        expect(dead_code, reason = "only the browser acts")
    )]
    actions: Actions,
}

impl MenuEvents {
    /// Follows the rows of `table` as long as the calling component lives: once they are on the
    /// page, and again once it is interactive, their times in local time and their copy items
    /// shown (hidden in the server-rendered page); a click anywhere outside an open menu closes
    /// it, as a native menu does.
    pub fn new(
        actions: Actions,
        table: NodeRef<leptos::html::Table>,
        hydrated: Signal<bool>,
    ) -> Self {
        #[cfg(feature = "hydrate")]
        browser::follow(table, hydrated);
        #[cfg(not(feature = "hydrate"))]
        let _ = (table, hydrated);
        MenuEvents { actions }
    }

    /// A menu item was clicked: copy items copy, "View details" opens the panel in place, and
    /// the menu closes. The revoke item is a form's button: [`Self::submit`] has it.
    pub fn click(self, event: leptos::ev::MouseEvent) {
        #[cfg(feature = "hydrate")]
        browser::click(self.actions, event);
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    }

    /// The revoke item asks for its confirmation in place instead of loading the page.
    pub fn submit(self, event: leptos::ev::SubmitEvent) {
        #[cfg(feature = "hydrate")]
        browser::submit(self.actions, event);
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    }

    /// Escape closes the menu the focus is in.
    pub fn keydown(self, event: leptos::ev::KeyboardEvent) {
        #[cfg(feature = "hydrate")]
        browser::keydown(event);
        #[cfg(not(feature = "hydrate"))]
        let _ = event;
    }
}

/// The menus' behaviour in the browser.
#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{Element, HtmlDetailsElement};

    use super::{super::Actions, Confirm, Copied};

    pub fn follow(table: NodeRef<leptos::html::Table>, hydrated: Signal<bool>) {
        Effect::new(move |_| {
            let interactive = hydrated.get();
            if let Some(table) = table.get() {
                crate::components::timestamp::show_local_times(&table);
                if interactive {
                    show_copy_items(&table);
                }
            }
        });
        let outside = window_event_listener(leptos::ev::click, move |event| {
            let Some(table) = table.get_untracked() else {
                return;
            };
            let target = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Node>().ok());
            for menu in open_menus(&table) {
                if !menu.contains(target.as_ref()) {
                    menu.set_open(false);
                }
            }
        });
        on_cleanup(move || outside.remove());
    }

    pub fn click(actions: Actions, event: leptos::ev::MouseEvent) {
        let Some(item) = closest(event.target(), ".menu-item") else {
            return;
        };
        if item.get_attribute("type").as_deref() == Some("submit") {
            return;
        }
        close_menu_of(&item);
        if let Some(copied) = item
            .get_attribute("data-copy")
            .as_deref()
            .and_then(Copied::parse)
        {
            let clip = match item.get_attribute("data-copy-url") {
                Some(url) => Clip::Served(url),
                None => Clip::Text(item.get_attribute("data-copy-text").unwrap_or_default()),
            };
            copy_to_clipboard(actions, copied.name(), clip);
        } else if item.get_attribute("data-testid").as_deref() == Some("view-details") {
            event.prevent_default();
            actions.details.set(kid_of(&item));
        }
    }

    pub fn submit(actions: Actions, event: leptos::ev::SubmitEvent) {
        let Some(form) = closest(event.target(), "form") else {
            return;
        };
        close_menu_of(&form);
        if let Some(kid) = kid_of(&form) {
            event.prevent_default();
            actions.confirm.set(Some(Confirm::Revoke(kid)));
        }
    }

    pub fn keydown(event: leptos::ev::KeyboardEvent) {
        if event.key() == "Escape"
            && let Some(inside) = closest(event.target(), "details.menu")
        {
            close_menu_of(&inside);
        }
    }

    fn closest(target: Option<web_sys::EventTarget>, selector: &str) -> Option<Element> {
        target?.dyn_into::<Element>().ok()?.closest(selector).ok()?
    }

    /// The key of the row `element` is in.
    fn kid_of(element: &Element) -> Option<String> {
        element
            .closest("tr[data-kid]")
            .ok()??
            .get_attribute("data-kid")
    }

    fn close_menu_of(element: &Element) {
        let menu = element.closest("details.menu").ok().flatten();
        if let Some(menu) = menu.and_then(|menu| menu.dyn_into::<HtmlDetailsElement>().ok()) {
            menu.set_open(false);
        }
    }

    fn open_menus(table: &Element) -> Vec<HtmlDetailsElement> {
        let Ok(menus) = table.query_selector_all("details.menu[open]") else {
            return Vec::new();
        };
        (0..menus.length())
            .filter_map(|index| menus.item(index)?.dyn_into::<HtmlDetailsElement>().ok())
            .collect()
    }

    /// Shows the copy items of every row in `table`.
    fn show_copy_items(table: &Element) {
        let Ok(items) = table.query_selector_all("button[data-copy][hidden]") else {
            return;
        };
        for index in 0..items.length() {
            if let Some(item) = items.item(index).and_then(|i| i.dyn_into::<Element>().ok()) {
                let _ = item.remove_attribute("hidden");
            }
        }
    }

    /// What a menu item copies.
    enum Clip {
        /// This text, which the page already has.
        Text(String),
        /// The text served at this URL: the certificate, which the page does not carry for
        /// every key.
        Served(String),
    }

    /// Puts `clip` on the clipboard and says whether that worked.
    fn copy_to_clipboard(actions: Actions, what: &'static str, clip: Clip) {
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
                            what.to_ascii_lowercase()
                        ),
                        true,
                    );
                }
            }
        });
    }
}
