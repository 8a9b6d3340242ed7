//! The browser entry point: hydrates the server-rendered page.

/// Called by the hydration script that the server puts in every page.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        app::before_hydration().await;
        // Lazy routes (their own WASM files) are awaited where the page has them.
        leptos::mount::hydrate_lazy(app::App);
    });
}
