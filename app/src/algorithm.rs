//! The signing algorithms a tenant may choose (SPEC §13), and the key type each one needs: the
//! one vocabulary of the API, the CLI, the page and storage.

use serde::{Deserialize, Serialize};

/// A JWS signing algorithm Signet issues tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, 32-byte salt).
    PS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlg {
    /// Every algorithm, in the order the page and the CLI offer them.
    pub const ALL: [SigningAlg; 4] = [
        SigningAlg::RS256,
        SigningAlg::PS256,
        SigningAlg::ES256,
        SigningAlg::EdDSA,
    ];

    /// The JWS `alg` name, also used in storage, the API, the CLI and the page.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::PS256 => "PS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    /// Parses [`SigningAlg::as_str`] back (exactly: JWS names are case-sensitive).
    pub fn parse(s: &str) -> Option<SigningAlg> {
        SigningAlg::ALL.into_iter().find(|alg| alg.as_str() == s)
    }

    /// The key sizes offered for this algorithm, smallest first; the first is the default.
    /// For ES256 and EdDSA the size is fixed by the curve.
    pub fn key_sizes(self) -> &'static [u32] {
        match self {
            SigningAlg::RS256 | SigningAlg::PS256 => &[2048, 3072, 4096],
            SigningAlg::ES256 | SigningAlg::EdDSA => &[256],
        }
    }

    /// Whether the key is RSA (its size is the operator's choice).
    pub fn is_rsa(self) -> bool {
        matches!(self, SigningAlg::RS256 | SigningAlg::PS256)
    }

    /// What the page says the algorithm is.
    pub fn description(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RSA PKCS#1 v1.5 with SHA-256",
            SigningAlg::PS256 => "RSA-PSS with SHA-256",
            SigningAlg::ES256 => "ECDSA P-256 with SHA-256",
            SigningAlg::EdDSA => "Ed25519",
        }
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An algorithm and a key size offered for it: the type of a tenant's signing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeySpec {
    pub alg: SigningAlg,
    pub key_size: u32,
}

/// Why a requested key type is refused: what the API's `unsupported_algorithm` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AlgorithmRefusal {
    #[error("{0:?} is not a signing algorithm Signet offers: use RS256, PS256, ES256 or EdDSA")]
    UnknownAlgorithm(String),
    #[error("{alg} keys are {offered}; {key_size} is not offered")]
    UnsupportedKeySize {
        alg: SigningAlg,
        key_size: u32,
        offered: String,
    },
}

impl KeySpec {
    /// What a deployment signs with unless configured otherwise.
    pub const DEFAULT: KeySpec = KeySpec {
        alg: SigningAlg::RS256,
        key_size: 2048,
    };

    /// `alg` with `key_size` (its default size when `None`), if that size is offered for it.
    pub fn new(alg: SigningAlg, key_size: Option<u32>) -> Result<KeySpec, AlgorithmRefusal> {
        let sizes = alg.key_sizes();
        let key_size = key_size.unwrap_or(sizes[0]);
        if !sizes.contains(&key_size) {
            let offered: Vec<String> = sizes.iter().map(u32::to_string).collect();
            let offered = match offered.as_slice() {
                [only] => format!("always {only} bits"),
                _ => format!("{} bits", offered.join(", ")),
            };
            return Err(AlgorithmRefusal::UnsupportedKeySize {
                alg,
                key_size,
                offered,
            });
        }
        Ok(KeySpec { alg, key_size })
    }

    /// Parses an algorithm name and an optional size, as the API, the CLI and the page send them.
    pub fn parse(alg: &str, key_size: Option<u32>) -> Result<KeySpec, AlgorithmRefusal> {
        let parsed = SigningAlg::parse(alg)
            .ok_or_else(|| AlgorithmRefusal::UnknownAlgorithm(alg.to_owned()))?;
        KeySpec::new(parsed, key_size)
    }

    /// The page's and the CLI's name for the type: `RS256 (2048-bit)`, `ES256 (P-256)`,
    /// `EdDSA (Ed25519)`.
    pub fn label(self) -> String {
        match self.alg {
            SigningAlg::RS256 | SigningAlg::PS256 => {
                format!("{} ({}-bit)", self.alg, self.key_size)
            }
            SigningAlg::ES256 => "ES256 (P-256)".to_owned(),
            SigningAlg::EdDSA => "EdDSA (Ed25519)".to_owned(),
        }
    }
}

impl Default for KeySpec {
    fn default() -> Self {
        KeySpec::DEFAULT
    }
}

impl std::fmt::Display for KeySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(alg.as_str()), Some(alg));
        }
        for bad in ["rs256", "HS256", "none", "", "EDDSA", "ES384"] {
            assert_eq!(SigningAlg::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes_are_checked_against_the_algorithm() {
        assert_eq!(KeySpec::parse("RS256", None), Ok(KeySpec::DEFAULT));
        assert_eq!(
            KeySpec::parse("PS256", Some(4096)).map(KeySpec::label),
            Ok("PS256 (4096-bit)".to_owned())
        );
        assert_eq!(
            KeySpec::parse("ES256", None).map(KeySpec::label),
            Ok("ES256 (P-256)".to_owned())
        );
        assert_eq!(
            KeySpec::parse("EdDSA", Some(256)).map(KeySpec::label),
            Ok("EdDSA (Ed25519)".to_owned())
        );
        let refused = KeySpec::parse("ES256", Some(3072)).unwrap_err().to_string();
        assert_eq!(
            refused,
            "ES256 keys are always 256 bits; 3072 is not offered"
        );
        let refused = KeySpec::parse("RS256", Some(1024)).unwrap_err().to_string();
        assert_eq!(
            refused,
            "RS256 keys are 2048, 3072, 4096 bits; 1024 is not offered"
        );
        assert!(matches!(
            KeySpec::parse("HS256", None),
            Err(AlgorithmRefusal::UnknownAlgorithm(_))
        ));
    }
}
