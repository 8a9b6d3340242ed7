//! The *Rotation Schedule* card (what the schedule will do, and when) and its dialog.

use leptos::prelude::*;

use super::{
    Actions,
    confirm::{Confirm, ConfirmButton, FormDialogFooter, Modal},
};
use crate::{
    components::timestamp::Timestamp,
    error::DashboardError,
    schedule::{DurationUnit, OFF, RotationSchedule, duration_words, soon_words},
};

#[component]
pub fn RotationScheduleCard(
    schedule: RotationSchedule,
    /// Seconds from the list to the next automatic rotation.
    next_rotation_in: Option<i64>,
    actions: Actions,
) -> impl IntoView {
    let period = schedule.rotate_every_seconds.map_or_else(
        || "Off: keys rotate only when you rotate them.".to_owned(),
        |every| format!("Every {}.", duration_words(every)),
    );
    let revocation = schedule.revoke_previous_after_seconds.map_or_else(
        || "Never: previous keys stay valid until you revoke them.".to_owned(),
        |grace| match grace {
            0 => "As soon as the last token a previous key signed has expired.".to_owned(),
            grace => format!(
                "{} after the last token a previous key signed has expired.",
                capitalised(&duration_words(grace))
            ),
        },
    );
    let next = schedule.next_rotation_at.clone().map(|at| {
        let soon = next_rotation_in.map(|s| format!(" ({})", soon_words(s)));
        view! {
            <p data-testid="next-rotation">
                "Next automatic rotation: " <Timestamp value=Some(at) /> {soon}
            </p>
        }
    });
    let window = schedule.publication_window_seconds;
    view! {
        <section class="card" aria-labelledby="schedule-title" data-testid="rotation-schedule">
            <h2 id="schedule-title">"Rotation Schedule"</h2>
            <dl class="schedule-facts">
                <dt>"Automatic rotation"</dt>
                <dd data-testid="schedule-period">{period}</dd>
                <dt>"Automatic revocation"</dt>
                <dd data-testid="schedule-revocation">{revocation}</dd>
            </dl>
            {next}
            <p class="hint">{window_words(window)}</p>
            <ConfirmButton
                confirm=Confirm::Schedule
                actions
                label="Edit Schedule"
                class="button button-quiet"
                testid="edit-schedule"
            />
        </section>
    }
}

/// What the publication window and the revocation rule promise, in words.
fn window_words(window: i64) -> String {
    let revocation = "previous keys are revoked only once no token they signed can still be live.";
    if window > 0 {
        format!(
            "A key becomes current only after it has been published for {}, so relying parties \
             that cache the key set have it before it signs; {revocation}",
            duration_words(window)
        )
    } else {
        format!(
            "The publication window is off (SIGNET_PUBLICATION_WINDOW_SECS=0): a key may become \
             current as soon as it is published; {revocation}"
        )
    }
}

fn capitalised(words: &str) -> String {
    let mut chars = words.chars();
    chars.next().map_or_else(String::new, |first| {
        // ASCII only: the page's own words, and no Unicode case tables in the WASM.
        std::iter::once(first.to_ascii_uppercase())
            .chain(chars)
            .collect()
    })
}

/// The schedule's form: a period and a grace, each a count and a unit, or off.
#[component]
pub fn ScheduleDialog(schedule: RotationSchedule, actions: Actions) -> impl IntoView {
    let refusal = move || match actions.set_schedule.value().get() {
        Some(Err(error @ DashboardError::InvalidSchedule(_))) => Some(error.to_string()),
        _ => None,
    };
    view! {
        <Modal actions labelled_by="schedule-dialog-title">
            <h2 id="schedule-dialog-title">"Rotation schedule"</h2>
            <ActionForm action=actions.set_schedule>
                <DurationField
                    legend="Rotate the signing key every"
                    count_name="rotate_every"
                    unit_name="rotate_unit"
                    off_label="Off (no schedule)"
                    seconds=schedule.rotate_every_seconds
                    default_count=30
                    testid="schedule-every"
                />
                <DurationField
                    legend="Revoke previous keys, after their last token expired, by"
                    count_name="revoke_after"
                    unit_name="revoke_unit"
                    off_label="Never"
                    seconds=schedule.revoke_previous_after_seconds
                    default_count=1
                    testid="schedule-grace"
                />
                <p class="hint">
                    "At least one hour between rotations. Scheduled rotations wait until the next \
                     key has been published for the publication window."
                </p>
                <FormDialogFooter
                    actions
                    refusal=Signal::derive(refusal)
                    refusal_testid="schedule-refused"
                    label="Save schedule"
                    pending=actions.set_schedule.pending()
                />
            </ActionForm>
        </Modal>
    }
}

/// A duration as a number and a unit (or off), starting at `seconds`.
#[component]
fn DurationField(
    legend: &'static str,
    count_name: &'static str,
    unit_name: &'static str,
    off_label: &'static str,
    seconds: Option<i64>,
    default_count: i64,
    testid: &'static str,
) -> impl IntoView {
    let (count, unit) = seconds.map_or((default_count, None), |seconds| {
        let (count, unit) = DurationUnit::split(seconds);
        (count, Some(unit))
    });
    let count_id = format!("{count_name}-count");
    let unit_id = format!("{count_name}-unit");
    view! {
        <fieldset class="duration-field" data-testid=testid>
            <legend>{legend}</legend>
            <label for=count_id.clone() class="visually-hidden">
                "Number"
            </label>
            <input
                id=count_id
                type="number"
                name=count_name
                min="0"
                step="1"
                inputmode="numeric"
                value=count.to_string()
                data-testid=format!("{testid}-count")
            />
            <label for=unit_id.clone() class="visually-hidden">
                "Unit"
            </label>
            <select id=unit_id name=unit_name data-testid=format!("{testid}-unit")>
                {DurationUnit::ALL
                    .into_iter()
                    .map(|choice| {
                        view! {
                            <option value=choice.as_str() selected=unit == Some(choice)>
                                {choice.as_str()}
                            </option>
                        }
                    })
                    .collect_view()}
                <option value=OFF selected=unit.is_none()>
                    {off_label}
                </option>
            </select>
        </fieldset>
    }
}
