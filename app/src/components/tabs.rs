//! The tabs under a tenant's header: the pages of one tenant.

use leptos::prelude::*;

use crate::routes::{LOGS_PAGE, SIGNING_KEYS_PAGE};

/// The tenant's pages, `current` marked as the one shown.
#[component]
pub fn TenantTabs(current: &'static str) -> impl IntoView {
    let tab = move |href: &'static str, label: &'static str| {
        view! {
            <a href=href aria-current=(href == current).then_some("page")>
                {label}
            </a>
        }
    };
    view! {
        <nav class="tabs" aria-label="Tenant pages">
            {tab(SIGNING_KEYS_PAGE, "Signing Keys")}
            {tab(LOGS_PAGE, "Logs")}
        </nav>
    }
}
