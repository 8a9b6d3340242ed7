//! Tenant Settings → Signing Keys.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    error::DashboardError,
    keys::{KeyState, KeyView},
};

/// Lists the tenant's signing keys: valid ones, then the most recent revoked ones.
#[server(prefix = "/_signet", endpoint = "list_signing_keys")]
pub async fn list_signing_keys() -> Result<Vec<KeyView>, DashboardError> {
    let service = crate::error::with_status(crate::service::signing_keys())?;
    crate::error::with_status(service.list_signing_keys().await)
}

/// The Signing Keys page.
#[component]
pub fn SigningKeysPage() -> impl IntoView {
    let keys = Resource::new(|| (), |_| list_signing_keys());
    view! {
        <Title text="Signing Keys · Signet" />
        <div class="page">
            <h1>"Signing Keys"</h1>
            <p class="lede">
                "Signet signs your tenant's tokens with the current key. The next key is already \
                 published so relying parties trust it before it signs anything."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading signing keys…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(keys) => view! { <KeyLists keys /> }.into_any(),
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn ErrorNotice(error: DashboardError) -> impl IntoView {
    view! { <p class="notice notice-error" role="alert">{error.to_string()}</p> }
}

#[component]
fn KeyLists(keys: Vec<KeyView>) -> impl IntoView {
    let (valid, revoked): (Vec<_>, Vec<_>) = keys.into_iter().partition(|k| k.state.is_valid());
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
                        </tr>
                    </thead>
                    <tbody>
                        {valid.into_iter().map(|key| view! { <ValidKeyRow key /> }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <section class="card" aria-labelledby="revoked-keys-title">
            <h2 id="revoked-keys-title">"List of Revoked Keys"</h2>
            <RevokedKeys revoked />
        </section>
    }
}

#[component]
fn ValidKeyRow(key: KeyView) -> impl IntoView {
    let row_kid = key.kid.clone();
    view! {
        <tr data-testid="key-row" data-kid=row_kid data-state=key.state.as_str()>
            <td>
                <StateBadge state=key.state />
            </td>
            <td class="mono" data-testid="kid">
                {key.kid}
            </td>
            <td class="mono fingerprint" data-testid="fingerprint">
                {key.fingerprint}
            </td>
            <td>
                <Timestamp value=key.current_since />
            </td>
            <td>
                <Timestamp value=key.current_until />
            </td>
        </tr>
    }
}

#[component]
fn RevokedKeys(revoked: Vec<KeyView>) -> impl IntoView {
    if revoked.is_empty() {
        return view! {
            <p class="empty" data-testid="no-revoked-keys">
                "No key has been revoked."
            </p>
        }
        .into_any();
    }
    view! {
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
                                    <td class="mono">{key.kid}</td>
                                    <td class="mono fingerprint">{key.fingerprint}</td>
                                    <td>
                                        <Timestamp value=key.revoked_at />
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn StateBadge(state: KeyState) -> impl IntoView {
    view! { <span class=format!("badge badge-{}", state.as_str())>{state.label()}</span> }
}

/// An ISO-8601 UTC instant, or a dash when unset.
#[component]
fn Timestamp(value: Option<String>) -> impl IntoView {
    match value {
        Some(iso) => view! { <time datetime=iso.clone()>{iso.replace('T', " ")}</time> }.into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    }
}
