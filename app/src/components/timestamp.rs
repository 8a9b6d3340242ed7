//! An instant as a person reads it.

use leptos::{either::Either, prelude::*};

/// An instant: UTC in the server-rendered page, the browser's local time once hydrated, and the
/// UTC value on hover. `None` shows a dash.
#[component]
pub fn Timestamp(value: Option<String>) -> impl IntoView {
    let Some(iso) = value else {
        return Either::Left(view! { <span class="muted">"—"</span> });
    };
    let utc = format!("{} UTC", iso.replace('T', " ").trim_end_matches('Z'));
    let shown = RwSignal::new(utc.clone());
    #[cfg(feature = "hydrate")]
    {
        let iso = iso.clone();
        Effect::new(move |_| {
            if let Some(local) = crate::browser::local_time(&iso) {
                shown.set(local);
            }
        });
    }
    Either::Right(view! {
        <time datetime=iso title=utc>
            {move || shown.get()}
        </time>
    })
}
