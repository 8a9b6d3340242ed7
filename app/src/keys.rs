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

/// A signing key as the dashboard and the Management API show it: public parts only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub kid: String,
    pub state: KeyState,
    /// PEM certificate (CRLF line endings).
    pub cert: String,
    /// PKCS#7 PEM holding the certificate.
    pub pkcs7: String,
    /// SHA-1 of the certificate, colon-separated uppercase hex.
    pub fingerprint: String,
    /// SHA-1 of the certificate, uppercase hex.
    pub thumbprint: String,
    /// ISO-8601 UTC with milliseconds, when set.
    pub current_since: Option<String>,
    pub current_until: Option<String>,
    pub revoked_at: Option<String>,
}

/// How many revoked keys the lists show (Auth0 shows the last three).
pub const REVOKED_KEYS_SHOWN: usize = 3;

#[cfg(test)]
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
    fn state_names_round_trip() {
        for state in KeyState::ALL {
            assert_eq!(KeyState::parse(state.as_str()), Some(state));
        }
        assert_eq!(KeyState::parse("pending"), None);
    }
}
