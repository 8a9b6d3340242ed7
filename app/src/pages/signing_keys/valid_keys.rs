//! The List of Valid Keys and the List of Revoked Keys.

use leptos::{either::Either, prelude::*};

use super::{
    Actions,
    key_menu::MenuEvents,
    key_rows::{revoked_rows, valid_rows},
};
use crate::{
    Hydrated,
    keys::{KeyUsage, KeyView, PreviousPage},
    pages::sign_in::HOME,
    schedule::RotationSchedule,
};

/// Current, next and previous keys, one row each. `version` is the key set's version, rendered
/// as `data-keys-version`: the rows are the key set the server published under that version
/// (the end-to-end suite waits on it). The rows are markup ([`key_rows`](super::key_rows)); the
/// table's listeners do what their menus' items do.
#[component]
pub fn ValidKeys(
    valid: Vec<KeyView>,
    usage: Vec<KeyUsage>,
    /// For the previous keys the schedule will revoke.
    schedule: RotationSchedule,
    version: i64,
    /// Which page of the previous keys `valid` holds.
    previous: PreviousPage,
    actions: Actions,
) -> impl IntoView {
    let hydrated = use_context::<Hydrated>().map_or(Signal::stored(false), |h| h.0.into());
    let rows = valid_rows(
        &valid,
        &usage,
        &schedule,
        previous.page,
        hydrated.get_untracked(),
    );
    let table = NodeRef::<leptos::html::Table>::new();
    let menus = MenuEvents::new(actions, table, hydrated);
    view! {
        <section class="card" aria-labelledby="valid-keys-title">
            <h2 id="valid-keys-title">"List of Valid Keys"</h2>
            <p class="hint">
                "The current key signs new tokens; the next key replaces it at the next rotation; \
                 previously used keys still verify the tokens they signed until you revoke them."
            </p>
            <div class="table-wrap">
                <table
                    node_ref=table
                    data-testid="valid-keys"
                    data-keys-version=version
                    on:click=move |event| menus.click(event)
                    on:submit=move |event| menus.submit(event)
                    on:keydown=move |event| menus.keydown(event)
                >
                    <thead>
                        <tr>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Key ID"</th>
                            <th scope="col">"Algorithm"</th>
                            <th scope="col">"Fingerprint"</th>
                            <th scope="col">"Current since"</th>
                            <th scope="col">"Current until"</th>
                            <th scope="col">"Usage"</th>
                            <th scope="col">
                                <span class="visually-hidden">"Actions"</span>
                            </th>
                        </tr>
                    </thead>
                    <tbody inner_html=rows></tbody>
                </table>
            </div>
            <PreviousPager previous />
        </section>
    }
}

/// Where the previous keys shown sit in the whole history, with links to newer and older
/// pages; nothing while they fit on one page.
#[component]
fn PreviousPager(previous: PreviousPage) -> impl IntoView {
    let pages = previous.pages();
    (pages > 1).then(|| {
        let page = previous.page;
        let shown = previous.shown().map_or_else(String::new, |(first, last)| {
            format!(
                "Previously used keys {first}–{last} of {}, newest first",
                previous.total
            )
        });
        let link = move |to: u32, label: &'static str, testid: &'static str| {
            view! {
                <a href=format!("{HOME}?page={to}") data-testid=testid>
                    {label}
                </a>
            }
        };
        view! {
            <nav
                class="pager"
                aria-label="Pages of previously used keys"
                data-testid="previous-pager"
                data-page=page.to_string()
                data-pages=pages.to_string()
            >
                <span class="muted">{shown}</span>
                {(page > 1).then(|| link(page - 1, "← Newer keys", "newer-keys"))}
                {(page < pages).then(|| link(page + 1, "Older keys →", "older-keys"))}
            </nav>
        }
    })
}

/// The last revoked keys, or a line saying there are none.
#[component]
pub fn RevokedKeys(revoked: Vec<KeyView>) -> impl IntoView {
    let table = NodeRef::<leptos::html::Table>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(table) = table.get() {
            crate::components::timestamp::show_local_times(&table);
        }
    });
    let rows = if revoked.is_empty() {
        Either::Left(view! {
            <p class="empty" data-testid="no-revoked-keys">
                "No key has been revoked."
            </p>
        })
    } else {
        Either::Right(view! {
            <div class="table-wrap">
                <table node_ref=table data-testid="revoked-keys">
                    <thead>
                        <tr>
                            <th scope="col">"Key ID"</th>
                            <th scope="col">"Algorithm"</th>
                            <th scope="col">"Fingerprint"</th>
                            <th scope="col">"Revoked at"</th>
                        </tr>
                    </thead>
                    <tbody inner_html=revoked_rows(&revoked)></tbody>
                </table>
            </div>
        })
    };
    view! {
        <section class="card" aria-labelledby="revoked-keys-title">
            <h2 id="revoked-keys-title">"List of Revoked Keys"</h2>
            <p class="hint">"The last three keys revoked. Tokens they signed no longer validate."</p>
            {rows}
        </section>
    }
}
