//! Confirmations: the button that asks for one, and the dialog that says what will happen.
//!
//! The three dialogs (rotate, rotate & revoke, revoke) differ only in their words, the key they
//! name and the action they submit: [`Confirm::copy`] is that table, [`ConfirmDialog`] renders
//! any row of it.

use leptos::{either::EitherOf3, prelude::*};

use super::Actions;
use crate::{
    Hydrated,
    components::timestamp::Timestamp,
    keys::{KeyUsage, KeyView, is_kid},
    pages::sign_in::HOME,
};

/// The confirmation the page is asking for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Rotate,
    RotateAndRevoke,
    Revoke(String),
    /// The rotation schedule's dialog (a form, not a confirmation).
    Schedule,
    /// The signing algorithm's dialog (a form too).
    Algorithm,
}

/// A piece of a dialog's text: words, a key id set as code, or an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Words(&'static str),
    Kid(String),
    /// ISO-8601, shown in the reader's time.
    Time(String),
}

/// What a confirmation dialog says and submits.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DialogCopy {
    title: Vec<Piece>,
    body: Vec<Piece>,
    /// The action cannot be undone: a warning, and a danger-coloured button.
    irreversible: bool,
    label: &'static str,
    busy_label: &'static str,
    /// The hidden field the server function takes: the key the operator confirms.
    field: (&'static str, String),
}

impl Confirm {
    /// `?confirm=…` (and `&kid=…`): how the page asks for a confirmation without JavaScript.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        match get("confirm")?.as_str() {
            "rotate" => Some(Confirm::Rotate),
            "rotate_and_revoke" => Some(Confirm::RotateAndRevoke),
            "schedule" => Some(Confirm::Schedule),
            "algorithm" => Some(Confirm::Algorithm),
            "revoke" => get("kid").filter(|kid| is_kid(kid)).map(Confirm::Revoke),
            _ => None,
        }
    }

    /// The query [`Confirm::from_query`] reads: `confirm`, and the kid for a revocation.
    pub(super) fn query(&self) -> (&'static str, Option<String>) {
        match self {
            Confirm::Rotate => ("rotate", None),
            Confirm::RotateAndRevoke => ("rotate_and_revoke", None),
            Confirm::Schedule => ("schedule", None),
            Confirm::Algorithm => ("algorithm", None),
            Confirm::Revoke(kid) => ("revoke", Some(kid.clone())),
        }
    }

    /// The dialog's words, given the keys that are current and next as the page shows them, and
    /// (for a revocation) the usage of the key to revoke.
    fn copy(&self, current_kid: String, next_kid: String, usage: Option<&KeyUsage>) -> DialogCopy {
        use Piece::{Kid, Words};
        match self {
            Confirm::Rotate => DialogCopy {
                title: vec![Words("Rotate the signing key?")],
                body: vec![
                    Words("Key "),
                    Kid(next_kid.clone()),
                    Words(" becomes the current key and signs every new token. Key "),
                    Kid(current_kid),
                    Words(
                        " stays published as previously used, so the tokens it signed keep \
                         validating until you revoke it. A new next key is generated and published.",
                    ),
                ],
                irreversible: false,
                label: "Rotate",
                busy_label: "Rotating…",
                field: ("next_kid", next_kid),
            },
            Confirm::RotateAndRevoke => DialogCopy {
                title: vec![Words("Rotate and revoke the current key?")],
                body: vec![
                    Words("Key "),
                    Kid(next_kid),
                    Words(" becomes the current key. Key "),
                    Kid(current_kid.clone()),
                    Words(
                        " is revoked at once: every token it signed stops validating immediately, \
                         and its private key is destroyed.",
                    ),
                ],
                irreversible: true,
                label: "Rotate & Revoke",
                busy_label: "Rotating and revoking…",
                field: ("current_kid", current_kid),
            },
            // Rendered by their own dialogs; never asked of this table.
            Confirm::Schedule | Confirm::Algorithm => DialogCopy {
                title: vec![Words("Rotation schedule")],
                body: Vec::new(),
                irreversible: false,
                label: "Save",
                busy_label: "Saving…",
                field: ("", String::new()),
            },
            Confirm::Revoke(kid) => DialogCopy {
                title: vec![Words("Revoke key "), Kid(kid.clone()), Words("?")],
                body: [
                    vec![Words(
                        "The key leaves the JWKS and its private key is destroyed: tokens it \
                         signed stop validating at once. A revoked key can never be used again. ",
                    )],
                    live_tokens(usage),
                ]
                .concat(),
                irreversible: true,
                label: "Revoke",
                busy_label: "Revoking…",
                field: ("kid", kid.clone()),
            },
        }
    }
}

/// What revoking cuts off, from the key's usage ledger.
fn live_tokens(usage: Option<&KeyUsage>) -> Vec<Piece> {
    use Piece::{Time, Words};
    match usage {
        Some(usage) if usage.safe_to_revoke => {
            vec![Words(
                "It has no live tokens: nothing it signed is still valid.",
            )]
        }
        Some(KeyUsage {
            live_tokens_until: Some(until),
            ..
        }) => vec![
            Words("Tokens it signed would still have been valid until "),
            Time(until.clone()),
            Words("."),
        ],
        _ => Vec::new(),
    }
}

fn render(pieces: Vec<Piece>) -> impl IntoView {
    pieces
        .into_iter()
        .map(|piece| match piece {
            Piece::Words(words) => EitherOf3::A(words),
            Piece::Kid(kid) => EitherOf3::B(view! { <code>{kid}</code> }),
            Piece::Time(iso) => EitherOf3::C(view! { <Timestamp value=Some(iso) /> }),
        })
        .collect_view()
}

/// A button that opens a confirmation: a GET form that asks the server for the page with the
/// dialog open (no JavaScript), or opens the dialog in place (hydrated).
#[component]
pub fn ConfirmButton(
    confirm: Confirm,
    actions: Actions,
    label: &'static str,
    class: &'static str,
    testid: &'static str,
) -> impl IntoView {
    let (name, kid) = confirm.query();
    let open = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        actions.confirm.set(Some(confirm.clone()));
    };
    view! {
        <form method="get" action=HOME on:submit=open class="inline-form">
            <input type="hidden" name="confirm" value=name />
            {kid.map(|kid| view! { <input type="hidden" name="kid" value=kid /> })}
            <button type="submit" class=class data-testid=testid>
                {label}
            </button>
        </form>
    }
}

/// A dialog of the page: modal once hydrated (focus stays inside, Escape cancels), an inline
/// open dialog in the server-rendered page (asked for by `?confirm=…`). Closing it clears the
/// page's confirmation.
#[component]
pub fn Modal(
    actions: Actions,
    labelled_by: &'static str,
    /// The dialog's `data-testid`.
    #[prop(default = "confirm-dialog")]
    testid: &'static str,
    children: Children,
) -> impl IntoView {
    let dialog_ref = NodeRef::<leptos::html::Dialog>::new();
    let hydrated = use_context::<Hydrated>().is_some_and(|h| h.0.get_untracked());
    // The `close` event of turning a server-opened dialog into a modal is not a cancel.
    let reopening = StoredValue::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(dialog) = dialog_ref.get() {
            if dialog.open() {
                reopening.set_value(true);
                dialog.close();
            }
            let _ = dialog.show_modal();
        }
    });
    let on_close = move |_| {
        if reopening.get_value() {
            reopening.set_value(false);
        } else {
            actions.confirm.set(None);
            actions.details.set(None);
        }
    };
    view! {
        <dialog
            node_ref=dialog_ref
            open=!hydrated
            class="dialog"
            aria-labelledby=labelled_by
            data-testid=testid
            on:close=on_close
            on:keydown=move |event| {
                #[cfg(feature = "hydrate")]
                if let Some(dialog) = dialog_ref.get_untracked() {
                    crate::browser::trap_focus(&dialog, &event);
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = event;
            }
        >
            {children()}
        </dialog>
    }
}

/// The Cancel button of a dialog: closes it natively, with or without JavaScript.
#[component]
fn CancelButton() -> impl IntoView {
    view! {
        <form method="dialog">
            <button type="submit" class="button button-quiet">
                "Cancel"
            </button>
        </form>
    }
}

/// The confirmation dialog of a key action.
#[component]
pub fn ConfirmDialog(
    confirm: Confirm,
    current: Option<KeyView>,
    next: Option<KeyView>,
    /// The valid keys' usage, for what a revocation would cut off.
    usage: Vec<KeyUsage>,
    /// Seconds a rotation would wait for the next key to be published for the window.
    rotate_wait: Option<u64>,
    actions: Actions,
) -> impl IntoView {
    let kid_of = |key: Option<KeyView>| key.map_or_else(|| "(none)".to_owned(), |k| k.kid);
    let revoking = match &confirm {
        Confirm::Revoke(kid) => usage.iter().find(|u| &u.kid == kid),
        _ => None,
    };
    let copy = confirm.copy(kid_of(current), kid_of(next), revoking);
    let (name, value) = copy.field;
    // A rotation that would break relying parties asks a second time, and says why.
    let rotating = confirm == Confirm::Rotate;
    let too_new = Signal::derive(move || {
        let refused = actions.refused_wait.get();
        refused.or(rotate_wait).filter(|_| rotating)
    });
    let label = move || {
        if too_new.get().is_some() {
            "Rotate anyway"
        } else {
            copy.label
        }
    };
    let fields = view! {
        <input type="hidden" name=name value=value />
        {move || too_new.get().map(|_| view! { <input type="hidden" name="force" value="true" /> })}
        <ConfirmSubmit
            label=Signal::derive(label)
            busy_label=copy.busy_label
            danger=copy.irreversible
            pending=actions.pending(&confirm)
        />
    };
    let form = match confirm {
        Confirm::Rotate => {
            view! { <ActionForm action=actions.rotate>{fields}</ActionForm> }.into_any()
        }
        Confirm::RotateAndRevoke => {
            view! { <ActionForm action=actions.rotate_and_revoke>{fields}</ActionForm> }.into_any()
        }
        Confirm::Revoke(_) | Confirm::Schedule | Confirm::Algorithm => {
            view! { <ActionForm action=actions.revoke>{fields}</ActionForm> }.into_any()
        }
    };
    view! {
        <Modal actions labelled_by="confirm-title">
            <h2 id="confirm-title">{render(copy.title)}</h2>
            <p>{render(copy.body)}</p>
            {move || {
                too_new.get()
                    .map(|seconds| {
                        view! {
                            <p class="warning" role="alert" data-testid="next-key-too-new">
                                "The next key was published less than the publication window ago: \
                                 relying parties that cached the key set may not have it yet, and \
                                 would refuse the tokens it signs. It is safe to rotate in "
                                {seconds}
                                " s."
                            </p>
                        }
                    })
            }}
            {copy.irreversible.then(|| view! { <p class="warning">"This cannot be undone."</p> })}
            <div class="dialog-buttons">
                <CancelButton />
                {form}
            </div>
        </Modal>
    }
}

/// The end of a form dialog (the schedule's, the algorithm's): why the server refused the last
/// save, if it did, then Cancel and the saving button.
#[component]
pub fn FormDialogFooter(
    actions: Actions,
    /// The server's reason for refusing the last save, in the page's words.
    refusal: Signal<Option<String>>,
    refusal_testid: &'static str,
    label: &'static str,
    pending: Memo<bool>,
) -> impl IntoView {
    view! {
        {move || {
            refusal
                .get()
                .map(|reason| {
                    view! {
                        <p class="warning" role="alert" data-testid=refusal_testid>
                            {reason}
                        </p>
                    }
                })
        }}
        <div class="dialog-buttons">
            // A link, so that it also closes the server-rendered dialog without JavaScript.
            <a
                href=HOME
                class="button button-quiet"
                on:click=move |event| {
                    event.prevent_default();
                    actions.confirm.set(None);
                }
            >
                "Cancel"
            </a>
            <ConfirmSubmit label busy_label="Saving…" danger=false pending />
        </div>
    }
}

/// The dialog's confirming button: shows progress and cannot be pressed twice.
#[component]
pub fn ConfirmSubmit(
    #[prop(into)] label: Signal<&'static str>,
    busy_label: &'static str,
    danger: bool,
    pending: Memo<bool>,
) -> impl IntoView {
    let class = if danger {
        "button button-danger"
    } else {
        "button button-primary"
    };
    view! {
        <button
            type="submit"
            class=class
            disabled=pending
            aria-busy=move || pending.get().to_string()
        >
            {move || if pending.get() { busy_label } else { label.get() }}
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(pieces: &[Piece]) -> String {
        pieces
            .iter()
            .map(|piece| match piece {
                Piece::Words(words) => (*words).to_owned(),
                Piece::Kid(kid) | Piece::Time(kid) => kid.clone(),
            })
            .collect()
    }

    #[test]
    fn each_dialog_names_the_keys_it_acts_on_and_submits_the_confirmed_one() {
        let (current, next) = ("C".repeat(21), "N".repeat(21));
        let rotate = Confirm::Rotate.copy(current.clone(), next.clone(), None);
        assert_eq!(words(&rotate.title), "Rotate the signing key?");
        assert!(words(&rotate.body).starts_with(&format!("Key {next} becomes the current key")));
        assert_eq!(rotate.field, ("next_kid", next.clone()));
        assert!(!rotate.irreversible);

        let both = Confirm::RotateAndRevoke.copy(current.clone(), next, None);
        assert!(words(&both.body).contains(&format!("Key {current} is revoked at once")));
        assert_eq!(both.field, ("current_kid", current));
        assert!(both.irreversible);

        let kid = "R".repeat(21);
        let revoke = Confirm::Revoke(kid.clone()).copy(String::new(), String::new(), None);
        assert_eq!(words(&revoke.title), format!("Revoke key {kid}?"));
        assert_eq!(revoke.field, ("kid", kid));
        assert!(revoke.irreversible);
    }

    #[test]
    fn the_revoke_dialog_says_how_long_the_keys_tokens_would_still_have_lived() {
        let kid = "R".repeat(21);
        let usage = |until: Option<&str>, safe| KeyUsage {
            kid: kid.clone(),
            tokens_signed: 3,
            first_signed_at: None,
            last_signed_at: None,
            live_tokens_until: until.map(str::to_owned),
            safe_to_revoke: safe,
        };
        let live = usage(Some("2026-12-14T10:32:00.000Z"), false);
        let copy = Confirm::Revoke(kid.clone()).copy(String::new(), String::new(), Some(&live));
        assert!(
            words(&copy.body).ends_with(
                "Tokens it signed would still have been valid until 2026-12-14T10:32:00.000Z."
            ),
            "{}",
            words(&copy.body)
        );
        let done = usage(Some("2026-12-14T10:32:00.000Z"), true);
        let copy = Confirm::Revoke(kid).copy(String::new(), String::new(), Some(&done));
        assert!(
            words(&copy.body).ends_with("It has no live tokens: nothing it signed is still valid.")
        );
    }

    #[test]
    fn the_query_reads_back_and_forged_kids_are_ignored() {
        for confirm in [
            Confirm::Rotate,
            Confirm::RotateAndRevoke,
            Confirm::Schedule,
            Confirm::Algorithm,
            Confirm::Revoke("A".repeat(21)),
        ] {
            let (name, kid) = confirm.query();
            let get = |param: &str| match param {
                "confirm" => Some(name.to_owned()),
                "kid" => kid.clone(),
                _ => None,
            };
            assert_eq!(Confirm::from_query(get), Some(confirm));
        }
        let forged = |param: &str| match param {
            "confirm" => Some("revoke".to_owned()),
            "kid" => Some("<script>".to_owned()),
            _ => None,
        };
        assert_eq!(Confirm::from_query(forged), None);
    }
}
