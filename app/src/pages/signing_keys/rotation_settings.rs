//! Rotation Settings: the *Rotate Signing Key* and *Rotate & Revoke Signing Key* cards.

use leptos::prelude::*;

use super::{
    Actions,
    confirm::{Confirm, ConfirmButton},
};

#[component]
pub fn RotationSettings(actions: Actions) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="rotation-title">
            <h2 id="rotation-title">"Rotation Settings"</h2>
            <div class="rotation-cards">
                <article class="rotation-card" aria-labelledby="rotate-title">
                    <h3 id="rotate-title">"Rotate Signing Key"</h3>
                    <p>
                        "The next key becomes current and signs new tokens. The current key stays \
                         valid as previously used, so tokens it signed keep working."
                    </p>
                    <ConfirmButton
                        confirm=Confirm::Rotate
                        actions
                        label="Rotate Key"
                        class="button button-primary"
                        testid="rotate-key"
                    />
                </article>
                <article class="rotation-card rotation-card-danger" aria-labelledby="rotate-revoke-title">
                    <h3 id="rotate-revoke-title">"Rotate & Revoke Signing Key"</h3>
                    <p>
                        "Rotates, then revokes the key that was current at once: for a key you believe \
                         is compromised. Tokens it signed stop validating immediately."
                    </p>
                    <ConfirmButton
                        confirm=Confirm::RotateAndRevoke
                        actions
                        label="Rotate & Revoke Key"
                        class="button button-danger"
                        testid="rotate-and-revoke-key"
                    />
                </article>
            </div>
        </section>
    }
}
