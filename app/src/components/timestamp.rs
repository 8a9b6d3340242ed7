//! An instant as a person reads it.

use leptos::{either::Either, prelude::*};

/// An instant: UTC in the server-rendered page, the browser's local time once hydrated, and the
/// UTC value on hover. `None` shows a dash.
#[component]
pub fn Timestamp(value: Option<String>) -> impl IntoView {
    let Some(iso) = value else {
        return Either::Left(view! { <span class="muted">"—"</span> });
    };
    let utc = utc_text(&iso);
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

/// The same instant as markup, for rows written as HTML (the key tables): `<time>` in UTC, which
/// [`show_local_times`] turns into the browser's local time once the rows are on the page.
pub fn timestamp_markup(value: Option<&str>) -> maud::Markup {
    match value {
        None => maud::html! { span.muted { "—" } },
        Some(iso) => {
            let utc = utc_text(iso);
            maud::html! { time datetime=(iso) title=(utc) { (utc) } }
        }
    }
}

/// What an ISO-8601 UTC instant reads as before the browser shows it in local time:
/// `2026-11-22T10:04:00.000Z` → `2026-11-22 10:04:00.000 UTC`.
fn utc_text(iso: &str) -> String {
    format!("{} UTC", iso.replace('T', " ").trim_end_matches('Z'))
}

/// Every `<time datetime>` inside `container` in the browser's local time, as [`Timestamp`] shows
/// it (the UTC value stays in its `title`).
#[cfg(feature = "hydrate")]
pub fn show_local_times(container: &web_sys::Element) {
    let Ok(times) = container.query_selector_all("time[datetime]") else {
        return;
    };
    for index in 0..times.length() {
        let Some(time) = times.item(index) else {
            continue;
        };
        let iso = wasm_bindgen::JsCast::dyn_ref::<web_sys::Element>(&time)
            .and_then(|time| time.get_attribute("datetime"));
        if let Some(local) = iso.as_deref().and_then(crate::browser::local_time) {
            time.set_text_content(Some(&local));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_reads_as_utc_until_the_browser_shows_it_in_local_time() {
        let markup = timestamp_markup(Some("2026-11-22T10:04:00.000Z")).into_string();
        assert_eq!(
            markup,
            r#"<time datetime="2026-11-22T10:04:00.000Z" title="2026-11-22 10:04:00.000 UTC">2026-11-22 10:04:00.000 UTC</time>"#
        );
        assert_eq!(
            timestamp_markup(None).into_string(),
            r#"<span class="muted">—</span>"#
        );
    }
}
