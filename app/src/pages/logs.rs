//! Monitoring → Logs: the audit trail (SPEC §14). Every rotation, revocation, policy change,
//! client change and sign-in, newest first, filtered by tenant, event and actor, one page at a
//! time; new events appear at the top while the newest page is open; the filtered trail
//! downloads as CSV or NDJSON.
//!
//! The filter is a plain GET form and the pages are plain links, so everything but the live
//! updates works without JavaScript. Nothing here (or anywhere) edits or deletes an event.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    audit::{ALL_TENANTS, LOG_TYPES, LogEntry, LogFilter, LogPage},
    components::{tabs::TenantTabs, timestamp::Timestamp},
    error::DashboardError,
    routes::LOGS_PAGE,
};

/// How often the newest page asks for events newer than its top row.
#[cfg(feature = "hydrate")]
const LIVE_EVERY_MS: i32 = 2_000;

/// One page of the trail. With `after`, every event newer than that cursor instead (oldest
/// first): what the open page has not shown yet.
#[server(prefix = "/_signet", endpoint = "list_logs", output = crate::codec::JsonText)]
pub async fn list_logs(
    tenant: Option<String>,
    kind: Option<String>,
    actor: Option<String>,
    before: Option<String>,
    after: Option<String>,
) -> Result<LogPage, DashboardError> {
    let logs = use_context::<crate::service::SharedLogs>().ok_or(DashboardError::Unavailable);
    let filter = LogFilter {
        tenant,
        kind,
        actor,
    }
    .normalized();
    let page = match logs {
        Ok(logs) => {
            logs.logs(&filter, before.as_deref(), after.as_deref())
                .await
        }
        Err(error) => Err(error),
    };
    crate::error::with_status(page)
}

/// The Logs page.
#[component]
pub fn LogsPage() -> impl IntoView {
    let query = use_query_map();
    let position = Memo::new(move |_| {
        let query = query.get();
        let filter = LogFilter {
            tenant: query.get("tenant"),
            kind: query.get("type"),
            actor: query.get("actor"),
        }
        .normalized();
        (filter, query.get("before").filter(|b| !b.is_empty()))
    });
    let page = Resource::new(
        move || position.get(),
        |(filter, before)| list_logs(filter.tenant, filter.kind, filter.actor, before, None),
    );
    view! {
        <Title text="Logs · Signet" />
        <div class="page">
            <Transition fallback=|| view! { <p class="loading">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    let (filter, before) = position.get_untracked();
                    match page.await {
                        Ok(page) => view! { <Trail page filter before /> }.into_any(),
                        Err(error) => {
                            view! {
                                <p class="notice notice-error" role="alert">
                                    {error.to_string()}
                                </p>
                                <p>
                                    <a href=LOGS_PAGE>"Show the newest events"</a>
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </div>
    }
}

/// The header, the filter, the table and its pager.
#[component]
fn Trail(page: LogPage, filter: LogFilter, before: Option<String>) -> impl IntoView {
    // Events that arrived while the page was open, newest first.
    let arrived = RwSignal::new(Vec::<LogEntry>::new());
    let live = before.is_none();
    #[cfg(feature = "hydrate")]
    if live {
        follow(
            &filter,
            page.entries.first().map(|e| e.cursor.clone()),
            arrived,
        );
    }
    let export = |format: &str| format!("{LOGS_PAGE}/export.{format}?{}", filter.query(&[]));
    let newest = format!("{LOGS_PAGE}?{}", filter.query(&[]));
    let older = page
        .older
        .as_deref()
        .map(|cursor| format!("{LOGS_PAGE}?{}", filter.query(&[("before", cursor)])));
    let empty = page.entries.is_empty();
    let rows = page
        .entries
        .into_iter()
        .map(|entry| view! { <LogRow entry fresh=false /> })
        .collect_view();
    let hydrated = use_context::<crate::Hydrated>().map(|h| h.0);
    let is_live = move || live && hydrated.is_some_and(|h| h.get());
    view! {
        <header class="tenant-head">
            <p class="eyebrow">
                "Monitoring · " <span class="mono">{page.current_tenant.clone()}</span>
            </p>
            <TenantTabs current=LOGS_PAGE />
            <h1>"Logs"</h1>
            <p class="lede">
                "Who changed which key, client or policy, and who signed in: every event, with \
                 its actor, address and time. Events are appended, never edited or deleted."
            </p>
        </header>
        <section class="card" aria-labelledby="logs-title">
            <div class="card-head">
                <h2 id="logs-title">"Events"</h2>
                <span class="live" data-testid="live" data-live=move || is_live().to_string()>
                    {move || if is_live() { "Live" } else { "" }}
                </span>
            </div>
            <Filters filter=filter.clone() tenants=page.tenants current=page.current_tenant />
            <p class="log-exports">
                "Export what this filter shows: "
                <a href=export("csv") download data-testid="export-csv">
                    "CSV"
                </a>
                " · "
                <a href=export("ndjson") download data-testid="export-ndjson">
                    "NDJSON"
                </a>
            </p>
            <div class="table-wrap">
                <table class="log-table" data-testid="log-table">
                    <thead>
                        <tr>
                            <th scope="col">"Date"</th>
                            <th scope="col">"Event"</th>
                            <th scope="col">"Actor"</th>
                            <th scope="col">"Address"</th>
                            <th scope="col">"Key"</th>
                            <th scope="col">"Tenant"</th>
                            <th scope="col">"Detail"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=move || arrived.get()
                            key=|entry| entry.cursor.clone()
                            children=|entry| view! { <LogRow entry fresh=true /> }
                        />
                        {rows}
                    </tbody>
                </table>
            </div>
            {(empty && live)
                .then(|| {
                    view! {
                        <p class="empty" data-testid="no-events">
                            "No events match this filter yet."
                        </p>
                    }
                })}
            <nav class="pager" aria-label="Pages of events">
                {before.is_some().then(|| view! { <a href=newest>"← Newest events"</a> })}
                {older
                    .map(|href| {
                        view! {
                            <a href=href data-testid="older-events">
                                "Older events →"
                            </a>
                        }
                    })}
            </nav>
        </section>
    }
}

/// The filter form: a plain GET of this page.
#[component]
fn Filters(filter: LogFilter, tenants: Vec<String>, current: String) -> impl IntoView {
    let chosen = filter.tenant.clone().unwrap_or_else(|| current.clone());
    let tenant_options = tenants
        .into_iter()
        .map(|domain| {
            let selected = domain == chosen;
            let value = domain.clone();
            view! {
                <option value=value selected=selected>
                    {domain}
                </option>
            }
        })
        .collect_view();
    let all_selected = chosen == ALL_TENANTS;
    let kind = filter.kind.clone().unwrap_or_default();
    let type_options = LOG_TYPES
        .iter()
        .map(|(value, description)| {
            view! {
                <option value=*value selected=kind == *value>
                    {*description}
                </option>
            }
        })
        .collect_view();
    view! {
        <form method="get" action=LOGS_PAGE class="log-filters" role="search">
            <label>
                "Tenant" <select name="tenant" data-testid="filter-tenant">
                    {tenant_options}
                    <option value=ALL_TENANTS selected=all_selected>
                        "All tenants"
                    </option>
                </select>
            </label>
            <label>
                "Event" <select name="type" data-testid="filter-type">
                    <option value="" selected=kind.is_empty()>
                        "All events"
                    </option>
                    {type_options}
                </select>
            </label>
            <label>
                "Actor"
                <input
                    name="actor"
                    data-testid="filter-actor"
                    value=filter.actor.clone().unwrap_or_default()
                    placeholder="operator, cli:, a client id"
                    autocomplete="off"
                    spellcheck="false"
                />
            </label>
            <button type="submit" class="button" data-testid="apply-filter">
                "Filter"
            </button>
        </form>
    }
}

/// One event. `fresh`: it arrived while the page was open.
#[component]
fn LogRow(entry: LogEntry, fresh: bool) -> impl IntoView {
    let dash = || "—".to_owned();
    let kind = entry.kind.clone();
    view! {
        <tr
            data-testid="log-row"
            data-type=kind
            data-log-id=entry.log_id
            class=fresh.then_some("log-fresh")
        >
            <td>
                <Timestamp value=Some(entry.date) />
            </td>
            <td>
                <span class="log-type mono">{entry.kind}</span>
                " "
                {entry.description}
            </td>
            <td class="mono">{entry.actor}</td>
            <td class="mono">{entry.ip.unwrap_or_else(dash)}</td>
            <td class="mono">{entry.kid.unwrap_or_else(dash)}</td>
            <td class="mono">{entry.tenant}</td>
            <td class="log-detail">{entry.detail}</td>
        </tr>
    }
}

/// Asks every [`LIVE_EVERY_MS`] for events newer than `newest` and puts them on top, for as
/// long as the page is open.
#[cfg(feature = "hydrate")]
fn follow(filter: &LogFilter, newest: Option<String>, arrived: RwSignal<Vec<LogEntry>>) {
    let filter = filter.clone();
    let newest = std::rc::Rc::new(std::cell::RefCell::new(newest));
    let handle = crate::browser::every(LIVE_EVERY_MS, move || {
        let (filter, newest) = (filter.clone(), newest.clone());
        async move {
            let after = newest.borrow().clone();
            let Ok(page) = list_logs(
                filter.tenant,
                filter.kind,
                filter.actor,
                None,
                after.clone(),
            )
            .await
            else {
                return;
            };
            // With a cursor the events come oldest first; without one, newest first.
            let mut entries = page.entries;
            if after.is_some() {
                entries.reverse();
            }
            if let Some(top) = entries.first() {
                *newest.borrow_mut() = Some(top.cursor.clone());
                arrived.update(|shown| {
                    entries.append(shown);
                    *shown = entries;
                });
            }
        }
    });
    on_cleanup(move || handle.abort());
}
