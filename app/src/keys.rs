//! The signing-key view shared by the server and the browser, and the lifecycle rules both must agree on.

use serde::{Deserialize, Serialize};

/// Where a signing key is in its life: next → current → previous → revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, waiting to become current at the next rotation.
    Next,
    /// The one key that signs new tokens.
    Current,
    /// Signed tokens in the past; they still verify until it is revoked.
    Previous,
    /// Terminal: unpublished, private part destroyed, its tokens no longer verify.
    Revoked,
}

impl KeyState {
    /// Every state, in the order keys are listed (current first).
    pub const ALL: [KeyState; 4] = [
        KeyState::Current,
        KeyState::Next,
        KeyState::Previous,
        KeyState::Revoked,
    ];

    /// The name used in storage, the CLI and the page's `data-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Previous => "previous",
            KeyState::Revoked => "revoked",
        }
    }

    /// Parses [`KeyState::as_str`] back.
    pub fn parse(s: &str) -> Option<KeyState> {
        KeyState::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// The dashboard's label, as on Auth0's Signing Keys page.
    pub fn label(self) -> &'static str {
        match self {
            KeyState::Next => "Next in Queue",
            KeyState::Current => "Currently Used",
            KeyState::Previous => "Previously Used",
            KeyState::Revoked => "Revoked",
        }
    }

    /// Only a previously used key may be revoked: the current key still signs, and the next key
    /// has never signed anything (rotate first). The server refuses and the page hides *Revoke Key*
    /// by this one rule.
    pub fn can_revoke(self) -> bool {
        self == KeyState::Previous
    }

    /// Whether keys in this state are published in the JWKS and verify tokens.
    pub fn is_valid(self) -> bool {
        self != KeyState::Revoked
    }

    /// Sort rank: current, next, previous, revoked.
    pub fn rank(self) -> u8 {
        match self {
            KeyState::Current => 0,
            KeyState::Next => 1,
            KeyState::Previous => 2,
            KeyState::Revoked => 3,
        }
    }
}

impl std::fmt::Display for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signing key as the dashboard, the CLI and the Management API show it: public facts only.
/// Its certificate's PEM and PKCS#7 forms are not here: the Management API adds them to its own
/// object, and the page fetches a certificate when asked to copy it, so a page of keys does not
/// carry two PEM blocks per key in its hydration data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub kid: String,
    pub state: KeyState,
    /// SHA-1 of the certificate, colon-separated uppercase hex.
    pub fingerprint: String,
    /// SHA-1 of the certificate, uppercase hex.
    pub thumbprint: String,
    /// What the key signs (SPEC §13).
    pub alg: crate::algorithm::SigningAlg,
    /// The key's size in bits: the RSA modulus, 256 for P-256 and Ed25519.
    pub key_size: u32,
    /// ISO-8601 UTC with milliseconds, when set.
    pub current_since: Option<String>,
    pub current_until: Option<String>,
    pub revoked_at: Option<String>,
    /// What the certificate says of itself, for the key's detail panel.
    pub certificate: CertificateFacts,
}

/// A certificate's subject, issuer, serial and validity, as the key's detail panel shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateFacts {
    /// RFC 4514, e.g. `CN=tenant.example.com`.
    pub subject: String,
    pub issuer: String,
    /// Uppercase hex, colon-separated.
    pub serial: String,
    /// ISO-8601 UTC.
    pub not_before: String,
    pub not_after: String,
}

impl KeyView {
    /// The key's type.
    pub fn spec(&self) -> crate::algorithm::KeySpec {
        crate::algorithm::KeySpec {
            alg: self.alg,
            key_size: self.key_size,
        }
    }
}

/// What a key has signed, from the usage ledger: the same for the page, the CLI and the
/// Management API's `GET /api/v2/keys/signing/{kid}/usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KeyUsage {
    pub kid: String,
    /// Tokens it signed, through every path.
    pub tokens_signed: u64,
    /// ISO-8601 UTC with milliseconds, `None` if it never signed.
    pub first_signed_at: Option<String>,
    pub last_signed_at: Option<String>,
    /// No token it signed is valid after this instant (ISO-8601); `None` if it never signed.
    pub live_tokens_until: Option<String>,
    /// A previously used key whose tokens have all expired (or that never signed).
    pub safe_to_revoke: bool,
}

/// How many revoked keys the lists show (Auth0 shows the last three).
pub const REVOKED_KEYS_SHOWN: usize = 3;

/// What the Signing Keys page shows: the tenant, and its keys as of one store version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    /// The tenant whose keys these are (the certificates' CN).
    pub tenant_domain: String,
    /// The key set's version; the live stream announces newer ones.
    pub version: i64,
    /// Valid keys (current, next, then one page of the previous keys, newest first), then the
    /// most recent revoked keys.
    pub keys: Vec<KeyView>,
    /// Which page of the previous keys `keys` holds (from 1), of how many keys in all.
    pub previous: PreviousPage,
    /// The valid keys' usage, when the ledger could be read.
    pub usage: Vec<KeyUsage>,
    /// The rotation schedule and what it will do.
    pub schedule: crate::schedule::RotationSchedule,
    /// Seconds a rotation would wait for the next key to have been published for the window,
    /// as of this list; `None` if it may rotate now.
    pub rotate_wait_seconds: Option<i64>,
    /// Seconds from this list to the next automatic rotation, if one is scheduled.
    pub next_rotation_in_seconds: Option<i64>,
}

/// One page of the previously used keys: however long the history, the page sends and renders
/// a handful of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousPage {
    /// From 1.
    pub page: u32,
    pub per_page: u32,
    /// Previously used keys in all.
    pub total: u32,
}

impl PreviousPage {
    /// Previous keys per page.
    pub const PER_PAGE: u32 = 10;

    /// How many pages the previous keys fill (at least one).
    pub fn pages(self) -> u32 {
        self.total.div_ceil(self.per_page.max(1)).max(1)
    }

    /// The 1-based positions of the first and last key shown, if any is.
    pub fn shown(self) -> Option<(u32, u32)> {
        let first = (self.page - 1) * self.per_page + 1;
        (first <= self.total).then(|| (first, (first + self.per_page - 1).min(self.total)))
    }
}

impl KeyList {
    /// The key in `state` (the newest one, for previous keys).
    pub fn first_in(&self, state: KeyState) -> Option<&KeyView> {
        self.keys.iter().find(|key| key.state == state)
    }

    /// The usage of the key `kid`, if the ledger was read.
    pub fn usage_of(&self, kid: &str) -> Option<&KeyUsage> {
        self.usage.iter().find(|usage| usage.kid == kid)
    }
}

/// A lifecycle action the dashboard performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAction {
    Rotate,
    Revoke,
    RotateAndRevoke,
}

impl KeyAction {
    /// The name used in the page's URL after a form post.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAction::Rotate => "rotate",
            KeyAction::Revoke => "revoke",
            KeyAction::RotateAndRevoke => "rotate_and_revoke",
        }
    }

    pub fn parse(s: &str) -> Option<KeyAction> {
        [
            KeyAction::Rotate,
            KeyAction::Revoke,
            KeyAction::RotateAndRevoke,
        ]
        .into_iter()
        .find(|action| action.as_str() == s)
    }
}

/// What a successful action did, for the toast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyActionDone {
    pub action: KeyAction,
    /// The key that became current (rotations), or the key revoked (revocation).
    pub kid: String,
    /// The key a rotate-and-revoke revoked.
    pub revoked: Option<String>,
}

impl KeyActionDone {
    /// The toast's sentence.
    pub fn message(&self) -> String {
        match (self.action, &self.revoked) {
            (KeyAction::Revoke, _) => format!("Key {} revoked.", self.kid),
            (KeyAction::RotateAndRevoke, Some(revoked)) => format!(
                "Key {revoked} revoked. Key {} now signs new tokens.",
                self.kid
            ),
            _ => format!(
                "Signing key rotated. Key {} now signs new tokens.",
                self.kid
            ),
        }
    }

    /// The query string a plain form post is redirected back with.
    pub fn to_query(&self) -> String {
        let mut query = format!("done={}&kid={}", self.action.as_str(), self.kid);
        if let Some(revoked) = &self.revoked {
            query.push_str("&revoked=");
            query.push_str(revoked);
        }
        query
    }

    /// Reads [`KeyActionDone::to_query`]'s parameters back; kids are checked, as the URL is
    /// anybody's to edit.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let action = KeyAction::parse(&get("done")?)?;
        let kid = get("kid").filter(|kid| is_kid(kid))?;
        let revoked = get("revoked").filter(|kid| is_kid(kid));
        Some(Self {
            action,
            kid,
            revoked,
        })
    }
}

/// The value of `name` in `query` (`a=1&b=2`), for tests of the redirect queries.
#[cfg(test)]
pub(crate) fn query_param(query: &str) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
    }
}

/// A key id, parsed once: 1–64 characters of `[A-Za-z0-9_-]` (the Management API's pattern).
/// Signet issues [`Kid::ISSUED_LEN`] characters of [`Kid::ALPHABET`]; anything that is not a
/// `Kid` is refused at the edge (path, query, form) before it reaches a service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Kid(String);

/// Why a text is not a key id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a key id is 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_'")]
pub struct NotAKid;

impl Kid {
    /// The longest key id accepted.
    pub const MAX_LEN: usize = 64;
    /// The length of the key ids Signet issues (126 random bits).
    pub const ISSUED_LEN: usize = 21;
    /// The characters of a key id: URL-safe base64's, exactly 64.
    pub const ALPHABET: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// Parses a key id.
    pub fn parse(text: &str) -> Result<Self, NotAKid> {
        let well_formed = (1..=Self::MAX_LEN).contains(&text.len())
            && text.bytes().all(|b| Self::ALPHABET.contains(&b));
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(NotAKid)
        }
    }

    /// The key id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it has the shape of a key id Signet issues.
    pub fn is_issued_shape(&self) -> bool {
        self.0.len() == Self::ISSUED_LEN
    }
}

impl TryFrom<String> for Kid {
    type Error = NotAKid;

    fn try_from(text: String) -> Result<Self, NotAKid> {
        Self::parse(&text)
    }
}

impl From<Kid> for String {
    fn from(kid: Kid) -> Self {
        kid.0
    }
}

impl std::fmt::Display for Kid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `s` is a key id ([`Kid::parse`] accepts it).
pub fn is_kid(s: &str) -> bool {
    Kid::parse(s).is_ok()
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_previous_keys_can_be_revoked() {
        let revocable: Vec<_> = KeyState::ALL
            .into_iter()
            .filter(|s| s.can_revoke())
            .collect();
        assert_eq!(revocable, vec![KeyState::Previous]);
    }

    #[test]
    fn a_done_action_survives_the_redirect_query() {
        let done = KeyActionDone {
            action: KeyAction::RotateAndRevoke,
            kid: "new_Kid-1".into(),
            revoked: Some("oldKid".into()),
        };
        let query = done.to_query();
        assert_eq!(KeyActionDone::from_query(query_param(&query)), Some(done));
    }

    #[test]
    fn a_forged_result_query_is_ignored() {
        let get = |name: &str| match name {
            "done" => Some("rotate".to_owned()),
            "kid" => Some("<script>".to_owned()),
            _ => None,
        };
        assert_eq!(KeyActionDone::from_query(get), None);
        assert!(!is_kid(&"a".repeat(65)));
        assert!(is_kid("Ab_9-z"));
    }

    #[test]
    fn kids_are_parsed_once_by_one_rule() {
        let kid = Kid::parse("V1StGXR8_Z5jdHi6B-myT").unwrap();
        assert!(kid.is_issued_shape());
        assert_eq!(kid.as_str(), "V1StGXR8_Z5jdHi6B-myT");
        assert!(Kid::parse(&"a".repeat(Kid::MAX_LEN)).is_ok());
        for bad in ["", "a b", "ä", "a/b", "a.b", &"a".repeat(Kid::MAX_LEN + 1)] {
            assert_eq!(Kid::parse(bad), Err(NotAKid), "{bad:?}");
        }
        assert_eq!(Kid::try_from(String::from(kid.clone())), Ok(kid));
    }

    #[test]
    fn state_names_round_trip() {
        for state in KeyState::ALL {
            assert_eq!(KeyState::parse(state.as_str()), Some(state));
        }
        assert_eq!(KeyState::parse("pending"), None);
    }
}
