//! The audit trail as the Logs page and the Management API show it (SPEC §14): the kinds of
//! event, one event, a filter, one page of events.

use serde::{Deserialize, Serialize};

/// Every kind of event the trail records (its `type`), with the sentence the page shows.
pub const LOG_TYPES: &[(&str, &str)] = &[
    ("rotate", "Rotated the signing key"),
    ("rotate_and_revoke", "Rotated and revoked the signing key"),
    ("revoke", "Revoked a signing key"),
    ("replace_next", "Replaced the next key (new algorithm)"),
    ("set_rotation_policy", "Changed the rotation policy"),
    ("provision", "Created the first signing keys"),
    ("rotate_master_key", "Rotated the master key"),
    ("create_client", "Created a client"),
    ("delete_client", "Deleted a client"),
    ("sign_in", "Operator signed in"),
    ("sign_in_failed", "Failed sign-in"),
    ("delete_tenant", "Deleted the tenant"),
];

/// What the page says of an event of `kind`.
pub fn describe(kind: &str) -> &'static str {
    LOG_TYPES
        .iter()
        .find(|(known, _)| *known == kind)
        .map_or("Other event", |(_, description)| description)
}

/// Whether `kind` is one of [`LOG_TYPES`].
pub fn is_log_type(kind: &str) -> bool {
    LOG_TYPES.iter().any(|(known, _)| *known == kind)
}

/// One event, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The tenant's event number, as a string (Auth0's `log_id`).
    pub log_id: String,
    /// RFC 3339, UTC.
    pub date: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    /// `operator`, `cli:<user>`, `schedule`, or a client id.
    pub actor: String,
    pub ip: Option<String>,
    pub kid: Option<String>,
    /// The tenant's domain.
    pub tenant: String,
    pub detail: String,
    /// Where the event sits in the page's order (for "Older" and live updates).
    pub cursor: String,
}

/// The page's filter: its query string, and the server function's arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFilter {
    /// A tenant's domain, or [`ALL_TENANTS`]; `None`: the tenant the dashboard shows.
    pub tenant: Option<String>,
    /// One of [`LOG_TYPES`]; `None`: every kind.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Actors whose name starts with this (`cli:` is every command-line user).
    pub actor: Option<String>,
}

/// The filter's value for every tenant of the deployment.
pub const ALL_TENANTS: &str = "*";

impl LogFilter {
    /// The filter with empty fields dropped (a form posts every field, filled or not).
    pub fn normalized(self) -> Self {
        let keep =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Self {
            tenant: keep(self.tenant),
            kind: keep(self.kind),
            actor: keep(self.actor),
        }
    }

    /// The query string that shows this filter (without `?`), plus `extra` pairs.
    pub fn query(&self, extra: &[(&str, &str)]) -> String {
        let fields = [
            ("tenant", self.tenant.as_deref()),
            ("type", self.kind.as_deref()),
            ("actor", self.actor.as_deref()),
        ];
        fields
            .iter()
            .filter_map(|(name, value)| value.map(|value| (*name, value)))
            .chain(extra.iter().copied())
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `value` percent-encoded for a query string: everything but RFC 3986's unreserved characters.
pub fn encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// One page of the trail, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// The cursor of the page after this one (older events), if there are more.
    pub older: Option<String>,
    /// The domains the tenant filter offers (the live tenants).
    pub tenants: Vec<String>,
    /// The tenant the dashboard shows: the filter's default.
    pub current_tenant: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_sentence_and_unknown_ones_a_plain_one() {
        assert_eq!(describe("rotate"), "Rotated the signing key");
        assert_eq!(describe("sign_in_failed"), "Failed sign-in");
        assert_eq!(describe("drop_table"), "Other event");
        assert!(is_log_type("delete_client"));
        assert!(!is_log_type("Rotate"));
    }

    #[test]
    fn a_filter_drops_empty_fields_and_spells_its_query() {
        let filter = LogFilter {
            tenant: Some(" ".into()),
            kind: Some("rotate".into()),
            actor: Some("cli:ann lee".into()),
        }
        .normalized();
        assert_eq!(filter.tenant, None);
        assert_eq!(
            filter.query(&[("before", "1.2.x")]),
            "type=rotate&actor=cli%3Aann%20lee&before=1.2.x"
        );
    }
}
