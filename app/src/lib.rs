//! Signet's pages, components, shared types and server functions.
//!
//! Compiles for the server (`ssr`) and the browser (`hydrate`); nothing in here may need a
//! private key, a database or any crypto crate.

pub mod algorithm;
pub mod audit;
#[cfg(feature = "hydrate")]
mod browser;
pub mod codec;
pub mod components;
pub mod error;
pub mod keys;
pub mod pages;
pub mod routes;
pub mod schedule;
#[cfg(feature = "ssr")]
pub mod service;
pub mod tenants;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

use crate::pages::{
    logs::LogsPage,
    sign_in::{SignInPage, SignOutButton},
    signing_keys::SigningKeysPage,
    tenants::{TenantSwitcher, TenantsChanged, TenantsPage},
};

pub use routes::SERVER_FN_PREFIX;

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The header of every page: brand, and once signed in the tenant switcher and sign-out.
#[component]
fn TopBar(signed_in: bool) -> impl IntoView {
    view! {
        <header class="topbar">
            <span class="brand">"Signet"</span>
            {signed_in
                .then(|| {
                    view! {
                        <div class="topbar-actions">
                            <TenantSwitcher />
                            <SignOutButton />
                        </div>
                    }
                })}
        </header>
    }
}

/// Whether the page is interactive yet: controls that need JavaScript show only then.
#[derive(Debug, Clone, Copy)]
pub struct Hydrated(pub Signal<bool>);

/// The dashboard application.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, so this flips once the page is interactive;
    // the end-to-end tests wait for it before clicking.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| {
        hydrated.set(true);
        // Time to interactive, for the end-to-end suite's measurement.
        #[cfg(feature = "hydrate")]
        if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
            let _ = performance.mark("signet-hydrated");
        }
    });
    provide_context(Hydrated(hydrated.into()));
    provide_context(TenantsChanged(RwSignal::new(0)));

    view! {
        <Stylesheet id="signet" href="/pkg/signet.css" />
        <Title text="Signet" />
        <Router>
            <main data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    <Route path=path!("/login") view=|| view! { <TopBar signed_in=false /> <SignInPage /> } />
                    // Rendered whole before it is sent (not streamed): the page must work without
                    // JavaScript, which out-of-order streaming needs to place its content.
                    <Route
                        path=path!("/tenant/signing_keys")
                        view=|| view! { <TopBar signed_in=true /> <SigningKeysPage /> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/tenant/logs")
                        view=|| view! { <TopBar signed_in=true /> <LogsPage /> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/tenant/tenants")
                        view=|| view! { <TopBar signed_in=true /> <TenantsPage /> }
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}
