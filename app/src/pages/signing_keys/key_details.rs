//! A key's detail panel, opened from its row's menu: what its certificate says (subject, issuer,
//! serial, validity), its type and fingerprint, when it was current, and what it signed.
//!
//! The menu item is a link (`?key=<kid>`), so the panel also opens without JavaScript: the
//! server renders it open. Once hydrated, the link opens it in place as a modal.

use leptos::prelude::*;

use super::{Actions, confirm::Modal};
use crate::{
    components::timestamp::Timestamp,
    keys::{KeyUsage, KeyView},
};

/// The panel of `key`, with its `usage` if the ledger was read.
#[component]
pub fn KeyDetails(key: KeyView, usage: Option<KeyUsage>, actions: Actions) -> impl IntoView {
    let facts = key.certificate.clone();
    let signed = usage.as_ref().map_or_else(
        || "Not known (the usage ledger could not be read)".to_owned(),
        |usage| match usage.tokens_signed {
            0 => "Never signed a token".to_owned(),
            1 => "1 token signed".to_owned(),
            n => format!("{n} tokens signed"),
        },
    );
    let first = usage.as_ref().and_then(|u| u.first_signed_at.clone());
    let last = usage.as_ref().and_then(|u| u.last_signed_at.clone());
    let live = usage.as_ref().and_then(|u| u.live_tokens_until.clone());
    view! {
        <Modal actions labelled_by="key-details-title" testid="key-details">
            <h2 id="key-details-title">"Key details"</h2>
            <dl class="key-facts">
                <dt>"Key ID"</dt>
                <dd class="mono" data-testid="details-kid">{key.kid.clone()}</dd>
                <dt>"Status"</dt>
                <dd>{key.state.label()}</dd>
                <dt>"Algorithm"</dt>
                <dd data-testid="details-alg">{key.spec().label()}</dd>
                <dt>"Certificate subject"</dt>
                <dd class="mono" data-testid="details-subject">{facts.subject}</dd>
                <dt>"Issuer"</dt>
                <dd class="mono">{facts.issuer}</dd>
                <dt>"Serial number"</dt>
                <dd class="mono" data-testid="details-serial">{facts.serial}</dd>
                <dt>"Valid from"</dt>
                <dd data-testid="details-not-before">
                    <Timestamp value=Some(facts.not_before) />
                </dd>
                <dt>"Valid until"</dt>
                <dd>
                    <Timestamp value=Some(facts.not_after) />
                </dd>
                <dt>"SHA-1 fingerprint"</dt>
                <dd class="mono fingerprint">{key.fingerprint.clone()}</dd>
                <dt>"Current since"</dt>
                <dd>
                    <Timestamp value=key.current_since.clone() />
                </dd>
                <dt>"Current until"</dt>
                <dd>
                    <Timestamp value=key.current_until.clone() />
                </dd>
                <dt>"Usage"</dt>
                <dd data-testid="details-usage">{signed}</dd>
                <dt>"First and last signature"</dt>
                <dd>
                    <Timestamp value=first /> " – " <Timestamp value=last />
                </dd>
                <dt>"Tokens valid until"</dt>
                <dd>
                    <Timestamp value=live />
                </dd>
            </dl>
            <div class="dialog-buttons">
                <form method="dialog">
                    <button type="submit" class="button" data-testid="close-details">
                        "Close"
                    </button>
                </form>
            </div>
        </Modal>
    }
}
