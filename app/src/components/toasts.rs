//! Messages in the corner of the page: what happened, and what went wrong.

use leptos::prelude::*;

use crate::{error::DashboardError, keys::KeyActionDone};

/// A message in the corner of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Toast {
    id: u64,
    text: String,
    error: bool,
    /// Offer a link to the sign-in page (the session has ended).
    sign_in: bool,
}

/// The page's toasts, newest last.
#[derive(Debug, Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next_id: StoredValue<u64>,
}

impl Toasts {
    /// No toasts, or the outcome of the action a plain form post came back with.
    pub fn new(initial: Option<Result<KeyActionDone, DashboardError>>) -> Self {
        let toasts = Self {
            list: RwSignal::new(Vec::new()),
            next_id: StoredValue::new(0),
        };
        if let Some(outcome) = initial {
            toasts.push(outcome);
        }
        toasts
    }

    /// Shows the outcome of an action; successes fade after a few seconds, errors stay until
    /// dismissed.
    pub fn push(self, outcome: Result<KeyActionDone, DashboardError>) {
        match outcome {
            Ok(done) => {
                self.say(done.message(), false);
            }
            Err(error) => {
                let sign_in = error == DashboardError::SignedOut;
                let id = self.say(error.to_string(), true);
                if sign_in {
                    self.list.update(|list| {
                        if let Some(toast) = list.iter_mut().find(|t| t.id == id) {
                            toast.sign_in = true;
                        }
                    });
                }
            }
        }
    }

    /// Shows `text`; returns the toast's id.
    pub fn say(self, text: String, error: bool) -> u64 {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        self.list.update(|list| {
            list.push(Toast {
                id,
                text,
                error,
                sign_in: false,
            })
        });
        #[cfg(feature = "hydrate")]
        if !error {
            leptos::task::spawn_local(async move {
                crate::browser::sleep(6_000).await;
                self.dismiss(id);
            });
        }
        id
    }

    fn dismiss(self, id: u64) {
        self.list.update(|list| list.retain(|toast| toast.id != id));
    }
}

/// Toasts: a polite live region for what happened, alerts for what went wrong.
#[component]
pub fn ToastRegion(toasts: Toasts) -> impl IntoView {
    view! {
        <div class="toasts" role="status" aria-live="polite" data-testid="toasts">
            <For each=move || toasts.list.get() key=|toast| toast.id let:toast>
                <div
                    class=if toast.error { "toast toast-error" } else { "toast" }
                    role=toast.error.then_some("alert")
                    data-testid="toast"
                >
                    <p>
                        {toast.text.clone()}
                        {toast.sign_in.then(|| view! { " " <a href=crate::routes::LOGIN_PAGE>"Sign in"</a> })}
                    </p>
                    <button
                        type="button"
                        class="toast-close"
                        aria-label="Dismiss"
                        on:click=move |_| toasts.dismiss(toast.id)
                    >
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}
