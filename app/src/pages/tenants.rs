//! The deployment's tenants (SPEC §15): the switcher in the header, and the Tenants page that
//! lists them, creates one and deletes one.
//!
//! Switching is a plain form post to [`switch_tenant`]: it sets the [`TENANT_COOKIE`] and the
//! browser loads the Signing Keys page again, now answered by the chosen tenant's application
//! (its keys, its live stream, its downloads). Without JavaScript every form here works the same.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    components::timestamp::Timestamp,
    error::DashboardError,
    routes::{SWITCH_TENANT_FN, TENANTS_PAGE},
    tenants::{TenantList, TenantSummary, is_domain},
};
#[cfg(feature = "ssr")]
use crate::{routes::TENANT_COOKIE, service::CurrentTenant};

/// Bumped when a tenant is created, so the switcher lists it without a reload.
#[derive(Debug, Clone, Copy)]
pub struct TenantsChanged(pub RwSignal<u64>);

/// The tenants, and the one the dashboard shows.
#[server(prefix = "/_signet", endpoint = "list_tenants", output = crate::codec::JsonText)]
pub async fn list_tenants() -> Result<TenantList, DashboardError> {
    let current = use_context::<CurrentTenant>().map(|tenant| tenant.0);
    let current = crate::error::with_status(current.ok_or(DashboardError::Unavailable))?;
    let tenants = match crate::service::tenants() {
        Some(tenants) => crate::error::with_status(tenants.list_tenants().await)?,
        // A server of one tenant only (tests): that tenant.
        None => vec![TenantSummary {
            domain: current.clone(),
            created_at: String::new(),
            is_default: true,
        }],
    };
    Ok(TenantList { current, tenants })
}

/// Creates a tenant named `domain`, with its current and next key, served at once.
#[server(prefix = "/_signet", endpoint = "create_tenant", output = crate::codec::JsonText)]
pub async fn create_tenant(domain: String) -> Result<TenantSummary, DashboardError> {
    let from = crate::service::client_addr().await;
    let domain = domain.trim().to_ascii_lowercase();
    let result = match crate::service::tenants() {
        _ if !is_domain(&domain) => Err(DashboardError::InvalidDomain),
        Some(tenants) => tenants.create_tenant(&domain, from).await,
        None => Err(DashboardError::Unavailable),
    };
    crate::error::respond(result, TENANTS_PAGE, |created| {
        Some(format!("created={}", created.domain))
    })
}

/// Deletes the tenant named `domain` once the operator typed it again as `confirm`.
#[server(prefix = "/_signet", endpoint = "delete_tenant", output = crate::codec::JsonText)]
pub async fn delete_tenant(
    domain: String,
    confirm: String,
) -> Result<TenantSummary, DashboardError> {
    let from = crate::service::client_addr().await;
    let result = match crate::service::tenants() {
        _ if confirm.trim().to_ascii_lowercase() != domain => {
            Err(DashboardError::DeleteNotConfirmed)
        }
        Some(tenants) => tenants.delete_tenant(&domain, from).await,
        None => Err(DashboardError::Unavailable),
    };
    crate::error::respond(result, TENANTS_PAGE, |deleted| {
        Some(format!("deleted={}", deleted.domain))
    })
}

/// Shows the tenant named `tenant` in the dashboard from now on (a cookie), and goes to its
/// Signing Keys page.
#[server(prefix = "/_signet", endpoint = "switch_tenant", output = crate::codec::JsonText)]
pub async fn switch_tenant(tenant: String) -> Result<(), DashboardError> {
    let known = match crate::service::tenants() {
        Some(tenants) => tenants.list_tenants().await,
        None => Ok(Vec::new()),
    };
    let result = known.and_then(|known| {
        known
            .iter()
            .find(|t| t.domain == tenant)
            .map(|t| t.domain.clone())
            .ok_or_else(|| DashboardError::UnknownTenant(tenant.clone()))
    });
    match result {
        Ok(domain) => {
            // The domain is a DNS name (checked when the tenant was made): safe in a header.
            crate::pages::sign_in::set_cookie(&format!(
                "{TENANT_COOKIE}={domain}; Path=/; HttpOnly; SameSite=Lax"
            ));
            leptos_axum::redirect(crate::routes::SIGNING_KEYS_PAGE);
            Ok(())
        }
        Err(error) => crate::error::respond(Err(error), TENANTS_PAGE, |_| None),
    }
}

/// The header's tenant switcher: the tenant shown, and a menu of the others.
#[component]
pub fn TenantSwitcher() -> impl IntoView {
    let changed = use_context::<TenantsChanged>().map(|changed| changed.0);
    let tenants = Resource::new(
        move || changed.map(|changed| changed.get()),
        |_| list_tenants(),
    );
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                tenants.await.ok().map(|list| view! { <SwitcherMenu list /> })
            })}
        </Suspense>
    }
}

#[component]
fn SwitcherMenu(list: TenantList) -> impl IntoView {
    let current = list.current.clone();
    let items = list
        .tenants
        .into_iter()
        .map(|tenant| {
            let shown = tenant.domain == current;
            let value = tenant.domain.clone();
            view! {
                <button
                    type="submit"
                    name="tenant"
                    value=value
                    class="menu-item mono"
                    aria-current=shown.then_some("true")
                    data-testid="switch-to"
                >
                    {tenant.domain}
                </button>
            }
        })
        .collect_view();
    view! {
        <details class="menu tenant-switcher" data-testid="tenant-switcher">
            <summary class="tenant-switcher-button">
                <span class="muted">"Tenant "</span>
                <span class="mono" data-testid="current-tenant">
                    {list.current}
                </span>
            </summary>
            <div class="menu-items">
                <form method="post" action=SWITCH_TENANT_FN>
                    {items}
                </form>
                <a class="menu-item menu-item-separated" href=TENANTS_PAGE>
                    "Manage tenants…"
                </a>
            </div>
        </details>
    }
}

/// The Tenants page.
#[component]
pub fn TenantsPage() -> impl IntoView {
    let create = ServerAction::<CreateTenant>::new();
    let delete = ServerAction::<DeleteTenant>::new();
    let changed = use_context::<TenantsChanged>().map(|changed| changed.0);
    // Fetched again after a creation, and after a deletion that happened: a refused one keeps
    // its open form and what was typed.
    let deletions = RwSignal::new(0_u64);
    let tenants = Resource::new(
        move || (create.version().get(), deletions.get()),
        |_| list_tenants(),
    );
    Effect::new(move |_| {
        let deleted = matches!(delete.value().get(), Some(Ok(_)));
        if deleted {
            deletions.update(|n| *n += 1);
        }
        let done = deleted || matches!(create.value().get(), Some(Ok(_)));
        if let (true, Some(changed)) = (done, changed) {
            changed.update(|n| *n += 1);
        }
    });
    // After a plain form post the server redirected here with the outcome in the query.
    let query = use_query_map().get_untracked();
    let from_query = query
        .get("created")
        .filter(|domain| is_domain(domain))
        .map(Ok)
        .or_else(|| DashboardError::from_query(|name| query.get(name)).map(Err));
    let outcome = move || match create.value().get() {
        Some(result) => Some(result.map(|created| created.domain)),
        None => from_query.clone(),
    };
    let deleted_from_query = query
        .get("deleted")
        .filter(|domain| is_domain(domain))
        .map(Ok);
    let deleted = move || match delete.value().get() {
        Some(result) => Some(result.map(|gone| gone.domain)),
        None => deleted_from_query.clone(),
    };
    view! {
        <Title text="Tenants · Signet" />
        <div class="page">
            <header class="tenant-head">
                <p class="eyebrow">"Deployment"</p>
                <h1>"Tenants"</h1>
                <p class="lede">
                    "Each tenant has its own issuer, signing keys, clients and audit trail. \
                     Signet answers a request as the tenant its host names, and as the default \
                     tenant for any other host."
                </p>
            </header>
            <CreateTenantCard create outcome />
            <section class="card" aria-labelledby="tenants-title">
                <h2 id="tenants-title">"Tenants"</h2>
                {move || deleted().map(|outcome| view! { <Deleted outcome /> })}
                <Transition fallback=|| view! { <p class="loading">"Loading tenants…"</p> }>
                    {move || Suspend::new(async move {
                        match tenants.await {
                            Ok(list) => view! { <TenantTable list delete /> }.into_any(),
                            Err(error) => {
                                view! {
                                    <p class="notice notice-error" role="alert">
                                        {error.to_string()}
                                    </p>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </section>
        </div>
    }
}

/// The card that creates a tenant, and says how it went.
#[component]
fn CreateTenantCard(
    create: ServerAction<CreateTenant>,
    outcome: impl Fn() -> Option<Result<String, DashboardError>> + Send + Sync + 'static,
) -> impl IntoView {
    view! {
            <section class="card" aria-labelledby="create-tenant-title">
            <h2 id="create-tenant-title">"Create a tenant"</h2>
            <ActionForm action=create attr:class="create-tenant">
                <label for="tenant-domain">"Domain"</label>
                <input
                    id="tenant-domain"
                    name="domain"
                    required
                    maxlength="64"
                    placeholder="acme.example.com"
                    autocomplete="off"
                    spellcheck="false"
                />
                <button
                    type="submit"
                    class="button button-primary"
                    data-testid="create-tenant"
                    disabled=move || create.pending().get()
                >
                    "Create tenant"
                </button>
            </ActionForm>
            <p class="hint">
                "Its current and next key are ready at once; its issuer is https://<domain>/."
            </p>
            {move || outcome().map(|outcome| view! { <Outcome outcome /> })}
        </section>
    }
}

#[component]
fn Outcome(outcome: Result<String, DashboardError>) -> AnyView {
    match outcome {
        Ok(domain) => view! {
            <p class="notice" role="status" data-testid="tenant-created">
                "Created the tenant " <span class="mono">{domain}</span>
                ". Switch to it below to manage its keys."
            </p>
        }
        .into_any(),
        Err(error) => view! {
            <p class="notice notice-error" role="alert" data-testid="tenant-error">
                {error.to_string()}
            </p>
        }
        .into_any(),
    }
}

#[component]
fn Deleted(outcome: Result<String, DashboardError>) -> AnyView {
    match outcome {
        Ok(domain) => view! {
            <p class="notice" role="status" data-testid="tenant-deleted">
                "Deleted the tenant " <span class="mono">{domain}</span>
                ": its keys and clients are destroyed; its audit trail stays."
            </p>
        }
        .into_any(),
        Err(error) => view! {
            <p class="notice notice-error" role="alert" data-testid="tenant-delete-error">
                {error.to_string()}
            </p>
        }
        .into_any(),
    }
}

/// Deleting a tenant: a disclosure (no JavaScript needed) that asks for the domain again.
#[component]
fn DeleteTenant(domain: String, delete: ServerAction<DeleteTenant>) -> impl IntoView {
    let input_id = format!("confirm-delete-{domain}");
    view! {
        <details class="delete-tenant" data-testid="delete-tenant">
            <summary class="button button-quiet">"Delete…"</summary>
            <ActionForm action=delete attr:class="delete-tenant-form">
                <input type="hidden" name="domain" value=domain.clone() />
                <label for=input_id.clone()>
                    "This destroys the tenant's keys and clients; tokens they signed stop \
                     validating. Type " <span class="mono">{domain.clone()}</span> " to confirm."
                </label>
                <input
                    id=input_id
                    name="confirm"
                    required
                    autocomplete="off"
                    spellcheck="false"
                    data-testid="confirm-delete"
                />
                <button
                    type="submit"
                    class="button button-danger"
                    disabled=move || delete.pending().get()
                >
                    "Delete tenant"
                </button>
            </ActionForm>
        </details>
    }
}

#[component]
fn TenantTable(list: TenantList, delete: ServerAction<DeleteTenant>) -> impl IntoView {
    let rows = list
        .tenants
        .into_iter()
        .map(|tenant| {
            let shown = tenant.domain == list.current;
            let issuer = format!("https://{}/", tenant.domain);
            let (value, row_domain) = (tenant.domain.clone(), tenant.domain.clone());
            let deletable = (!tenant.is_default).then(|| tenant.domain.clone());
            let action = if shown {
                view! { <span class="badge badge-current">"Shown"</span> }.into_any()
            } else {
                view! {
                    <form method="post" action=SWITCH_TENANT_FN>
                        <input type="hidden" name="tenant" value=value />
                        <button type="submit" class="button" data-testid="switch-tenant">
                            "Switch to"
                        </button>
                    </form>
                }
                .into_any()
            };
            view! {
                <tr data-testid="tenant-row" data-domain=row_domain>
                    <td class="mono">
                        {tenant.domain}
                        {tenant
                            .is_default
                            .then(|| view! { " " <span class="badge badge-next">"Default"</span> })}
                    </td>
                    <td class="mono">{issuer}</td>
                    <td>
                        <Timestamp value=(!tenant.created_at.is_empty()).then_some(tenant.created_at) />
                    </td>
                    <td class="row-actions">
                        {action}
                        {deletable.map(|domain| view! { <DeleteTenant domain delete /> })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Domain"</th>
                        <th scope="col">"Issuer"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
