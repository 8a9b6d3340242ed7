//! The List of Valid Keys and the List of Revoked Keys.

use leptos::{either::Either, prelude::*};

use super::{Actions, key_menu::KeyMenu};
use crate::{
    components::timestamp::Timestamp,
    keys::{KeyState, KeyUsage, KeyView, PreviousPage},
    pages::sign_in::HOME,
    schedule::RotationSchedule,
};

/// Current, next and previous keys, one row each. `version` is the key set's version, rendered
/// as `data-keys-version`: the rows are the key set the server published under that version
/// (the end-to-end suite waits on it).
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
    let page = previous.page;
    view! {
        <section class="card" aria-labelledby="valid-keys-title">
            <h2 id="valid-keys-title">"List of Valid Keys"</h2>
            <p class="hint">
                "The current key signs new tokens; the next key replaces it at the next rotation; \
                 previously used keys still verify the tokens they signed until you revoke them."
            </p>
            <div class="table-wrap">
                <table data-testid="valid-keys" data-keys-version=version>
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
                    <tbody>
                        {valid
                            .into_iter()
                            .map(|key| {
                                let usage = usage.iter().find(|u| u.kid == key.kid).cloned();
                                let revoke_at = schedule.revocation_of(&key.kid).map(str::to_owned);
                                view! { <ValidKeyRow key usage revoke_at actions page /> }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
            <PreviousPager previous />
        </section>
    }
}

#[component]
fn ValidKeyRow(
    key: KeyView,
    usage: Option<KeyUsage>,
    /// When the schedule will revoke this key, if it will.
    revoke_at: Option<String>,
    actions: Actions,
    page: u32,
) -> impl IntoView {
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
            <td data-testid="key-alg" data-label="Algorithm">
                {key.spec().label()}
            </td>
            <td class="mono fingerprint" data-testid="fingerprint" data-label="Fingerprint">
                {key.fingerprint.clone()}
            </td>
            <td data-label="Current since">
                <Timestamp value=key.current_since.clone() />
            </td>
            <td data-label="Current until">
                <Timestamp value=key.current_until.clone() />
                {revoke_at
                    .map(|at| {
                        view! {
                            <span class="auto-revoke" data-testid="auto-revoke">
                                "Will be revoked automatically on "
                                <Timestamp value=Some(at) />
                            </span>
                        }
                    })}
            </td>
            <Usage usage state />
            <td class="row-actions">
                <KeyMenu key actions page />
            </td>
        </tr>
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

/// What a key signed and, for a previously used key, whether revoking it would cut off live
/// tokens. Read when the page loads.
#[component]
fn Usage(usage: Option<KeyUsage>, state: KeyState) -> impl IntoView {
    let Some(usage) = usage else {
        return Either::Left(view! {
            <td class="muted" data-label="Usage" data-testid="key-usage">
                "—"
            </td>
        });
    };
    let signed = match usage.tokens_signed {
        0 => "Never signed".to_owned(),
        1 => "1 token signed".to_owned(),
        n => format!("{n} tokens signed"),
    };
    let verdict = (state == KeyState::Previous).then(|| {
        if usage.safe_to_revoke {
            Either::Left(view! {
                <span class="usage-verdict usage-safe">"No live tokens — safe to revoke"</span>
            })
        } else {
            Either::Right(view! {
                <span class="usage-verdict usage-live">
                    "Tokens valid until " <Timestamp value=usage.live_tokens_until.clone() />
                </span>
            })
        }
    });
    Either::Right(view! {
        <td
            class="usage"
            data-label="Usage"
            data-testid="key-usage"
            data-tokens-signed=usage.tokens_signed.to_string()
            data-safe-to-revoke=usage.safe_to_revoke.to_string()
            data-live-until=usage.live_tokens_until.clone().unwrap_or_default()
        >
            <span class="usage-count">{signed}</span>
            {verdict}
        </td>
    })
}

/// The last revoked keys, or a line saying there are none.
#[component]
pub fn RevokedKeys(revoked: Vec<KeyView>) -> impl IntoView {
    let rows = if revoked.is_empty() {
        Either::Left(view! {
            <p class="empty" data-testid="no-revoked-keys">
                "No key has been revoked."
            </p>
        })
    } else {
        Either::Right(view! {
            <div class="table-wrap">
                <table data-testid="revoked-keys">
                    <thead>
                        <tr>
                            <th scope="col">"Key ID"</th>
                            <th scope="col">"Algorithm"</th>
                            <th scope="col">"Fingerprint"</th>
                            <th scope="col">"Revoked at"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {revoked.into_iter().map(|key| view! { <RevokedKeyRow key /> }).collect_view()}
                    </tbody>
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

#[component]
fn RevokedKeyRow(key: KeyView) -> impl IntoView {
    let row_kid = key.kid.clone();
    let label = key.spec().label();
    view! {
        <tr data-testid="revoked-row" data-kid=row_kid>
            <td class="mono" data-label="Key ID">{key.kid}</td>
            <td data-testid="key-alg" data-label="Algorithm">{label}</td>
            <td class="mono fingerprint" data-label="Fingerprint">{key.fingerprint}</td>
            <td data-label="Revoked at">
                <Timestamp value=key.revoked_at />
            </td>
        </tr>
    }
}

#[component]
fn StateBadge(state: KeyState) -> impl IntoView {
    view! { <span class=format!("badge badge-{}", state.as_str())>{state.label()}</span> }
}
