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
    Lazy, LazyRoute, SsrMode,
    components::{Route, Router, Routes},
    lazy_route, path,
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
                <SplitLoaderPreload />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// `<link rel=modulepreload>` for the split build's loader (`__wasm_split.*.js`), which the app's
/// JS imports: without it the browser finds the loader only once it runs that JS, a round-trip
/// more before the WASM starts (8–19 ms of a cold load here). Nothing without `--split`: the
/// manifest `HydrationScripts` reads (and provides) is then absent.
#[component]
fn SplitLoaderPreload() -> impl IntoView {
    use_context::<leptos::WasmSplitManifest>().map(|manifest| {
        let href = manifest
            .0
            .with_value(|(pkg, _, loader)| format!("{pkg}/{loader}"));
        view! { <link rel="modulepreload" href=href /> }
    })
}

/// Marks the page interactive ([`Hydrated`]) once the route that calls this has hydrated: an
/// effect runs after the view it belongs to, so for a lazy route that is after the route's code
/// arrived, not when the app started hydrating.
fn mark_interactive() {
    if let Some(Hydrated(hydrated)) = use_context::<Hydrated>() {
        Effect::new(move |_| {
            hydrated.set(true);
            // Time to interactive, for the end-to-end suite's measurement.
            #[cfg(feature = "hydrate")]
            if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
                let _ = performance.mark("signet-hydrated");
            }
        });
    }
}

/// The header of every page: brand, and once signed in the tenant switcher and sign-out. Every
/// route has one, so it marks the page interactive.
#[component]
fn TopBar(signed_in: bool) -> impl IntoView {
    mark_interactive();
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
pub struct Hydrated(pub RwSignal<bool>);

// The pages other than Signing Keys are lazy routes: `make build` (`cargo leptos build --split`)
// puts each one's code in a WASM file of its own, which the browser fetches with the page
// (the server names it in the page's head) or on the first client-side navigation to it; the
// Signing Keys page, the dashboard's home, hydrates without them. Each page fetches its own data,
// so `data` has nothing to start.

/// The sign-in page, loaded on demand.
struct SignInRoute;

#[lazy_route]
impl LazyRoute for SignInRoute {
    fn data() -> Self {
        SignInRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <TopBar signed_in=false /> <SignInPage /> }.into_any()
    }
}

/// The Logs page, loaded on demand.
struct LogsRoute;

#[lazy_route]
impl LazyRoute for LogsRoute {
    fn data() -> Self {
        LogsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <TopBar signed_in=true /> <LogsPage /> }.into_any()
    }
}

/// The Tenants page, loaded on demand.
struct TenantsRoute;

#[lazy_route]
impl LazyRoute for TenantsRoute {
    fn data() -> Self {
        TenantsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <TopBar signed_in=true /> <TenantsPage /> }.into_any()
    }
}

/// What the page needs before it hydrates: the code of a dialog the server rendered open.
#[cfg(feature = "hydrate")]
pub async fn before_hydration() {
    pages::signing_keys::dialogs::load_if_open().await;
}

/// The dashboard application.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, so this flips once the page is interactive (the top bar
    // sets it); the end-to-end tests wait for it before clicking.
    let hydrated = RwSignal::new(false);
    provide_context(Hydrated(hydrated));
    provide_context(TenantsChanged(RwSignal::new(0)));

    view! {
        <Stylesheet id="signet" href="/pkg/signet.css" />
        <Title text="Signet" />
        <Router>
            <main data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=|| {
                    mark_interactive();
                    view! { <p class="not-found">"Page not found."</p> }
                }>
                    <Route path=path!("/login") view={Lazy::<SignInRoute>::new()} />
                    // Rendered whole before it is sent (not streamed): the page must work without
                    // JavaScript, which out-of-order streaming needs to place its content.
                    <Route
                        path=path!("/tenant/signing_keys")
                        view=|| view! { <TopBar signed_in=true /> <SigningKeysPage /> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/tenant/logs")
                        view={Lazy::<LogsRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/tenant/tenants")
                        view={Lazy::<TenantsRoute>::new()}
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}
