//! What only the browser can do: the clipboard, local time, timers, and the live stream of key
//! events. Compiled for the `hydrate` build only.

use futures_util::{
    StreamExt,
    future::{AbortHandle, Abortable},
};
use gloo_net::eventsource::{State, futures::EventSource};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Where the server announces key-set versions (see the server's `api::dashboard`).
const KEY_EVENTS_URL: &str = crate::routes::KEY_EVENTS;

/// How long to wait before opening the stream again after the browser gave up on it.
const RECONNECT_MS: i32 = 3_000;

/// Puts `text` on the clipboard.
pub async fn copy_to_clipboard(text: &str) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let promise = window.navigator().clipboard().write_text(text);
    JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|error| format!("{error:?}"))
}

/// Puts the text served at `url` (on this origin, with the page's cookies) on the clipboard.
///
/// The write starts at once, while the click that asked for it still counts as the user's
/// gesture, with a promise of the text: Safari and Firefox refuse a write made after a fetch has
/// come back.
pub async fn copy_from_url(url: &str) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let response = window.fetch_with_str(url);
    let text = wasm_bindgen_futures::future_to_promise(async move {
        let response: web_sys::Response = JsFuture::from(response).await?.dyn_into()?;
        if !response.ok() {
            return Err(JsValue::from_str(&format!("HTTP {}", response.status())));
        }
        let text = JsFuture::from(response.text()?).await?;
        let options = web_sys::BlobPropertyBag::new();
        options.set_type("text/plain");
        let blob =
            web_sys::Blob::new_with_str_sequence_and_options(&js_sys::Array::of1(&text), &options)?;
        Ok(blob.into())
    });
    let items = js_sys::Object::new();
    js_sys::Reflect::set(&items, &"text/plain".into(), &text).map_err(|e| format!("{e:?}"))?;
    let item = web_sys::ClipboardItem::new_with_record_from_str_to_blob_promise(&items)
        .map_err(|e| format!("{e:?}"))?;
    let promise = window
        .navigator()
        .clipboard()
        .write(&js_sys::Array::of1(&item));
    JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|error| format!("{error:?}"))
}

thread_local! {
    /// The browser's `Intl.DateTimeFormat` for every instant the page shows, made once: a
    /// `toLocaleString` with options makes a new one per call, about a millisecond each on a cold
    /// page (measured in Chromium: 36 calls 15–54 ms, one formatter 0.1–1.5 ms), which the 21
    /// instants of a page with 10 previous keys spent while it hydrated.
    static LOCAL_TIME: js_sys::Function = {
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
        let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"medium".into());
        js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &options).format()
    };
}

/// `iso` (UTC) in the browser's time zone and locale, e.g. "22 Nov 2026, 10:04:00".
pub fn local_time(iso: &str) -> Option<String> {
    let date = js_sys::Date::new(&JsValue::from_str(iso));
    if date.get_time().is_nan() {
        return None;
    }
    LOCAL_TIME.with(|format| format.call1(&JsValue::UNDEFINED, &date).ok()?.as_string())
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(resolve.unchecked_ref(), ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Calls `on_version` with every key-set version the server announces, for as long as the
/// returned handle is not aborted. The browser reconnects a dropped stream by itself; when it
/// gives up (the server answered with an error, e.g. while it restarts), the stream is opened
/// again after a pause.
pub fn follow_key_events(on_version: impl Fn(i64) + 'static) -> AbortHandle {
    let (handle, registration) = AbortHandle::new_pair();
    let follow = async move {
        loop {
            if let Ok(mut source) = EventSource::new(KEY_EVENTS_URL) {
                if let Ok(mut events) = source.subscribe("keys") {
                    while let Some(event) = events.next().await {
                        match event {
                            Ok((_, message)) => {
                                if let Some(version) =
                                    message.data().as_string().and_then(|d| d.parse().ok())
                                {
                                    on_version(version);
                                }
                            }
                            // Still CONNECTING: the browser is retrying on its own.
                            Err(_) if source.state() != State::Closed => {}
                            Err(_) => break,
                        }
                    }
                }
                source.close();
            }
            sleep(RECONNECT_MS).await;
        }
    };
    leptos::task::spawn_local(async move {
        let _ = Abortable::new(follow, registration).await;
    });
    handle
}

/// Runs `tick` every `ms` milliseconds (each run finishing before the next wait starts) until
/// the returned handle is aborted.
pub fn every<F, Fut>(ms: i32, mut tick: F) -> AbortHandle
where
    F: FnMut() -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let (handle, registration) = AbortHandle::new_pair();
    let repeat = async move {
        loop {
            sleep(ms).await;
            tick().await;
        }
    };
    leptos::task::spawn_local(async move {
        let _ = Abortable::new(repeat, registration).await;
    });
    handle
}

/// Keeps Tab and Shift+Tab inside `container` (a modal dialog): past the last control focus
/// wraps to the first, and back.
pub fn trap_focus(container: &web_sys::Element, event: &web_sys::KeyboardEvent) {
    if event.key() != "Tab" {
        return;
    }
    let Ok(found) = container.query_selector_all(
        "button:not([disabled]), a[href], input:not([type=hidden]):not([disabled])",
    ) else {
        return;
    };
    let controls: Vec<web_sys::HtmlElement> = (0..found.length())
        .filter_map(|i| found.item(i))
        .filter_map(|node| node.dyn_into().ok())
        .collect();
    let (Some(first), Some(last)) = (controls.first(), controls.last()) else {
        return;
    };
    let active = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element());
    let is = |control: &web_sys::HtmlElement| {
        active
            .as_ref()
            .is_some_and(|a| a == control.unchecked_ref::<web_sys::Element>())
    };
    let inside = active
        .as_ref()
        .is_some_and(|a| container.contains(Some(a.unchecked_ref())));
    if event.shift_key() && (is(first) || !inside) {
        event.prevent_default();
        let _ = last.focus();
    } else if !event.shift_key() && (is(last) || !inside) {
        event.prevent_default();
        let _ = first.focus();
    }
}
