//! The *Signing Algorithm* card (what the current and the next key sign with) and its dialog
//! (SPEC §13).

use leptos::prelude::*;

use super::{
    Actions,
    confirm::{Confirm, ConfirmButton, FormDialogFooter, Modal},
};
use crate::{
    algorithm::{KeySpec, SigningAlg},
    error::DashboardError,
    keys::KeyView,
};

/// What the tenant signs with now, what its new keys get, and — while they differ — that the
/// next key switches at the next rotation.
#[component]
pub fn SigningAlgorithmCard(
    /// The type new keys get (the policy's).
    policy: Option<KeySpec>,
    current: Option<KeyView>,
    next: Option<KeyView>,
    actions: Actions,
) -> impl IntoView {
    let current_spec = current.as_ref().map(KeyView::spec);
    let switching = next
        .as_ref()
        .map(KeyView::spec)
        .filter(|next| Some(*next) != current_spec)
        .map(|next| {
            view! {
                <p class="notice notice-next" data-testid="next-key-alg">
                    {format!("Next key: {} — becomes current at the next rotation", next.alg)}
                </p>
            }
        });
    view! {
        <section class="card" aria-labelledby="algorithm-title" data-testid="signing-algorithm">
            <h2 id="algorithm-title">"Signing Algorithm"</h2>
            <dl class="schedule-facts">
                <dt>"Current key"</dt>
                <dd data-testid="current-alg">{current_spec.map(KeySpec::label)}</dd>
                <dt>"New keys"</dt>
                <dd data-testid="policy-alg">{policy.map(KeySpec::label)}</dd>
            </dl>
            {switching}
            <p class="hint">
                "A change never touches the current key: the next key is replaced at once by a key \
                 of the new type and published, and it signs from the next rotation on, once \
                 relying parties have had it for the publication window."
            </p>
            <ConfirmButton
                confirm=Confirm::Algorithm
                actions
                label="Change Algorithm"
                class="button button-quiet"
                testid="change-algorithm"
            />
        </section>
    }
}

/// The algorithm's form: an algorithm and, for RSA, a key size.
#[component]
pub fn AlgorithmDialog(policy: KeySpec, actions: Actions) -> impl IntoView {
    let refusal = move || match actions.set_algorithm.value().get() {
        Some(Err(error @ DashboardError::UnsupportedAlgorithm)) => Some(error.to_string()),
        _ => None,
    };
    view! {
        <Modal actions labelled_by="algorithm-dialog-title" testid="algorithm-dialog">
            <h2 id="algorithm-dialog-title">"Signing Algorithm"</h2>
            <ActionForm action=actions.set_algorithm>
                <AlgorithmFields policy />
                <FormDialogFooter
                    actions
                    refusal=Signal::derive(refusal)
                    refusal_testid="algorithm-refused"
                    label="Save Algorithm"
                    pending=actions.set_algorithm.pending()
                />
            </ActionForm>
        </Modal>
    }
}

/// The algorithm and, for RSA, the key size, starting at `policy`. The size is disabled for the
/// curves, whose size is theirs.
#[component]
fn AlgorithmFields(policy: KeySpec) -> impl IntoView {
    let chosen = RwSignal::new(policy.alg);
    let rsa_size = if policy.alg.is_rsa() {
        policy.key_size
    } else {
        KeySpec::DEFAULT.key_size
    };
    view! {
        <div class="field">
            <label for="signing-alg">"Algorithm"</label>
            <select
                id="signing-alg"
                name="signing_alg"
                on:change=move |event| {
                    if let Some(alg) = SigningAlg::parse(&event_target_value(&event)) {
                        chosen.set(alg);
                    }
                }
            >
                {SigningAlg::ALL
                    .into_iter()
                    .map(|alg| {
                        view! {
                            <option value=alg.as_str() selected=alg == policy.alg>
                                {format!("{alg} — {}", alg.description())}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </div>
        <div class="field">
            <label for="key-size">"Key size"</label>
            <select
                id="key-size"
                name="key_size"
                disabled=move || !chosen.get().is_rsa()
                aria-describedby="key-size-hint"
            >
                {SigningAlg::RS256
                    .key_sizes()
                    .iter()
                    .map(|&bits| {
                        view! {
                            <option value=bits.to_string() selected=bits == rsa_size>
                                {format!("{bits} bits")}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <p class="hint" id="key-size-hint">
                "RSA only: ES256 keys are P-256 and EdDSA keys Ed25519. Larger RSA keys \
                 sign more slowly and make larger tokens."
            </p>
        </div>
    }
}
