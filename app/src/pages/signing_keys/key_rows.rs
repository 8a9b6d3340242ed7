//! The rows of the List of Valid Keys and of the List of Revoked Keys, as markup.
//!
//! A row needs no reactivity of its own: when the keys change the page fetches the lists and renders
//! them again whole. Built as Leptos views, each valid key's row cost the server about 55 µs of CPU
//! (a signed-in page with 12 keys 835 µs, with 2 keys 260 µs); written straight into one string
//! with maud, which escapes every value, a row costs a few microseconds. The same functions write
//! the rows in the browser when the lists change; the table's listeners ([`super::key_menu`]) do
//! what the menus' items do, and the browser shows the times in local time
//! ([`show_local_times`](crate::components::timestamp::show_local_times)).

use maud::{Markup, html};

use super::key_menu::menu;
use crate::{
    components::timestamp::timestamp_markup,
    keys::{KeyState, KeyUsage, KeyView},
    schedule::RotationSchedule,
};

/// The body of the List of Valid Keys: one row for each of `valid`, with its usage and, when the
/// schedule will revoke it, when. `page` is the page of previous keys shown; `interactive` says
/// whether the copy items show (the page is hydrated).
pub(super) fn valid_rows(
    valid: &[KeyView],
    usage: &[KeyUsage],
    schedule: &RotationSchedule,
    page: u32,
    interactive: bool,
) -> String {
    html! {
        @for key in valid {
            (valid_row(
                key,
                usage.iter().find(|u| u.kid == key.kid),
                schedule.revocation_of(&key.kid),
                page,
                interactive,
            ))
        }
    }
    .into_string()
}

fn valid_row(
    key: &KeyView,
    usage: Option<&KeyUsage>,
    revoke_at: Option<&str>,
    page: u32,
    interactive: bool,
) -> Markup {
    let state = key.state;
    html! {
        tr data-testid="key-row" data-kid=(key.kid) data-state=(state.as_str()) {
            td data-label="Status" {
                span class={ "badge badge-" (state.as_str()) } { (state.label()) }
            }
            td.mono data-testid="kid" data-label="Key ID" { (key.kid) }
            td data-testid="key-alg" data-label="Algorithm" { (key.spec().label()) }
            td.mono.fingerprint data-testid="fingerprint" data-label="Fingerprint" { (key.fingerprint) }
            td data-label="Current since" { (timestamp_markup(key.current_since.as_deref())) }
            td data-label="Current until" {
                (timestamp_markup(key.current_until.as_deref()))
                @if let Some(at) = revoke_at {
                    span.auto-revoke data-testid="auto-revoke" {
                        "Will be revoked automatically on " (timestamp_markup(Some(at)))
                    }
                }
            }
            (usage_cell(usage, state))
            td.row-actions { (menu(key, page, interactive)) }
        }
    }
}

/// What a key signed and, for a previously used key, whether revoking it would cut off live
/// tokens. Read when the page loads.
fn usage_cell(usage: Option<&KeyUsage>, state: KeyState) -> Markup {
    let Some(usage) = usage else {
        return html! { td.muted data-label="Usage" data-testid="key-usage" { "—" } };
    };
    let signed = match usage.tokens_signed {
        0 => "Never signed".to_owned(),
        1 => "1 token signed".to_owned(),
        n => format!("{n} tokens signed"),
    };
    let live_until = usage.live_tokens_until.as_deref();
    html! {
        td.usage data-label="Usage" data-testid="key-usage"
            data-tokens-signed=(usage.tokens_signed)
            data-safe-to-revoke=(usage.safe_to_revoke)
            data-live-until=(live_until.unwrap_or_default())
        {
            span.usage-count { (signed) }
            @if state == KeyState::Previous {
                @if usage.safe_to_revoke {
                    span.usage-verdict.usage-safe { "No live tokens — safe to revoke" }
                } @else {
                    span.usage-verdict.usage-live {
                        "Tokens valid until " (timestamp_markup(live_until))
                    }
                }
            }
        }
    }
}

/// The body of the List of Revoked Keys.
pub(super) fn revoked_rows(revoked: &[KeyView]) -> String {
    html! {
        @for key in revoked {
            tr data-testid="revoked-row" data-kid=(key.kid) {
                td.mono data-label="Key ID" { (key.kid) }
                td data-testid="key-alg" data-label="Algorithm" { (key.spec().label()) }
                td.mono.fingerprint data-label="Fingerprint" { (key.fingerprint) }
                td data-label="Revoked at" { (timestamp_markup(key.revoked_at.as_deref())) }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{algorithm::SigningAlg, keys::CertificateFacts};

    fn key(kid: &str, state: KeyState) -> KeyView {
        KeyView {
            kid: kid.to_owned(),
            state,
            fingerprint: "02:00:72:E9".to_owned(),
            thumbprint: "020072E9".to_owned(),
            alg: SigningAlg::RS256,
            key_size: 2048,
            current_since: Some("2026-11-20T10:00:00.000Z".to_owned()),
            current_until: Some("2026-11-22T10:04:00.000Z".to_owned()),
            revoked_at: None,
            certificate: CertificateFacts::default(),
        }
    }

    fn schedule(revocations: &[(&str, &str)]) -> RotationSchedule {
        RotationSchedule {
            rotate_every_seconds: None,
            revoke_previous_after_seconds: None,
            next_rotation_at: None,
            publication_window_seconds: 30,
            signing_alg: "RS256".to_owned(),
            key_size: 2048,
            next_revocation_at: None,
            scheduled_revocations: revocations
                .iter()
                .map(|(kid, at)| crate::schedule::ScheduledRevocation {
                    kid: (*kid).to_owned(),
                    revoke_at: (*at).to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_previous_key_row_offers_revocation_and_says_what_its_tokens_need() {
        let usage = [KeyUsage {
            kid: "old-key".to_owned(),
            tokens_signed: 3,
            first_signed_at: Some("2026-11-21T10:04:00.000Z".to_owned()),
            last_signed_at: Some("2026-11-22T10:04:00.000Z".to_owned()),
            live_tokens_until: Some("2026-11-23T10:04:00.000Z".to_owned()),
            safe_to_revoke: false,
        }];
        let rows = valid_rows(
            &[key("old-key", KeyState::Previous)],
            &usage,
            &schedule(&[("old-key", "2026-11-30T00:00:00.000Z")]),
            2,
            false,
        );
        assert!(
            rows.starts_with(
                r#"<tr data-testid="key-row" data-kid="old-key" data-state="previous">"#
            )
        );
        assert!(
            rows.contains(r#"<span class="badge badge-previous">"#),
            "{rows}"
        );
        assert!(rows.contains(">RS256 (2048-bit)</td>"), "{rows}");
        assert!(rows.contains(r#"data-tokens-signed="3" data-safe-to-revoke="false" data-live-until="2026-11-23T10:04:00.000Z""#), "{rows}");
        assert!(rows.contains("3 tokens signed"), "{rows}");
        assert!(
            rows.contains(r#"Tokens valid until <time datetime="2026-11-23T10:04:00.000Z""#),
            "{rows}"
        );
        assert!(
            rows.contains(r#"href="/tenant/signing_keys?page=2&amp;key=old-key""#),
            "{rows}"
        );
        assert!(rows.contains(r#"<input type="hidden" name="confirm" value="revoke"><input type="hidden" name="kid" value="old-key">"#), "{rows}");
        assert_eq!(rows.matches(" hidden data-copy=").count(), 3, "{rows}");
        assert!(
            rows.contains(
                r#"Will be revoked automatically on <time datetime="2026-11-30T00:00:00.000Z""#
            ),
            "{rows}"
        );
    }

    #[test]
    fn current_and_next_keys_cannot_be_revoked_and_copy_items_show_once_interactive() {
        let keys = [key("now", KeyState::Current), key("soon", KeyState::Next)];
        let rows = valid_rows(&keys, &[], &schedule(&[]), 1, true);
        assert_eq!(rows.matches(r#"data-testid="key-row""#).count(), 2);
        assert!(!rows.contains("revoke-key"), "{rows}");
        assert!(!rows.contains(" hidden"), "{rows}");
        assert_eq!(
            rows.matches(r#"data-testid="key-usage">—</td>"#).count(),
            2,
            "{rows}"
        );
    }

    #[test]
    fn values_are_escaped() {
        let mut odd = key(r#"a"<b>&"#, KeyState::Previous);
        odd.fingerprint = "<script>".to_owned();
        let rows = valid_rows(&[odd], &[], &schedule(&[]), 1, false);
        assert!(
            !rows.contains("<script>") && !rows.contains(r#"a"<b>"#),
            "{rows}"
        );
        assert!(rows.contains("a&quot;&lt;b&gt;&amp;"), "{rows}");
        let revoked = revoked_rows(&[key("<i>", KeyState::Revoked)]);
        assert!(
            revoked.contains("&lt;i&gt;") && !revoked.contains("<i>"),
            "{revoked}"
        );
    }
}
