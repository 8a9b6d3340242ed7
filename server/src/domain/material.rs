//! Signing-key material: the key pairs Signet issues (RSA, P-256, Ed25519), their generation,
//! PKCS#8 encoding and signatures.
//!
//! A signing key is a key pair plus a self-signed X.509 certificate that carries its public half
//! ([`super::certificate`]). Everything Signet publishes about a key (PEM, PKCS#7, fingerprints,
//! the JWK) is derived from the certificate's DER, so the certificate is the single source of
//! truth for the public side.
//!
//! Every private-key operation (generation, PKCS#8 import and export, the certificate's and the
//! tokens' signatures) runs in AWS-LC through `aws-lc-rs`, constant-time (RSA blinded); the
//! RustCrypto crates here (`der`, `pkcs1`, `pkcs8`) only encode and parse.

use app::algorithm::{KeySpec, SigningAlg};
use app::keys::Kid;
use std::fmt;

use aws_lc_rs::encoding::{AsDer as _, Pkcs8V2Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair as _, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};
use der::oid::db::{rfc5912, rfc8410};
use der::{Decode as _, SecretDocument};
use rand::RngCore as _;
use rand::rngs::OsRng;
use zeroize::Zeroizing;

pub use super::certificate::{Jwk, PublicMaterial, self_signed_certificate};

/// The RSA modulus sizes Signet issues or accepts.
pub const RSA_KEY_BITS: [u32; 3] = [2048, 3072, 4096];
/// The only public exponent Signet issues or accepts (F4), big-endian without leading zeros.
const PUBLIC_EXPONENT: &[u8] = &[0x01, 0x00, 0x01];

// The kid format is defined once, by `app::keys::Kid`: 21 symbols of a 64-symbol alphabet give
// 126 bits, like nanoid's default, and `byte & 63` picks a symbol without bias.
const KID_LEN: usize = Kid::ISSUED_LEN;
const KID_ALPHABET: &[u8; 64] = Kid::ALPHABET;

/// What can go wrong while creating, loading or encoding key material.
///
/// The messages describe the failure only; they never carry key bytes, so they are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    /// The key generator failed.
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
    /// A private key could not be decoded or is not one Signet accepts.
    #[error("invalid private key: {0}")]
    InvalidKey(String),
    /// The tenant domain cannot be used as the certificate's common name.
    #[error("invalid tenant domain: {0}")]
    InvalidTenantDomain(&'static str),
    /// Building, signing or parsing a certificate failed.
    #[error("certificate error: {0}")]
    Certificate(String),
    /// Encoding public material (DER, PEM, PKCS#7) failed.
    #[error("encoding error: {0}")]
    Encoding(String),
    /// A key was asked to sign with an algorithm its type cannot (an RSA key for ES256, say).
    #[error("a {kind} key cannot sign {alg}")]
    WrongAlgorithm { kind: KeyKind, alg: SigningAlg },
}

/// The type of a key pair: what generation makes and the spare-key pool keeps apart. RS256 and
/// PS256 keys of one size are the same kind of pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA with e = 65537 and a modulus of this many bits (one of [`RSA_KEY_BITS`]).
    Rsa(u32),
    /// ECDSA on NIST P-256.
    P256,
    /// Ed25519.
    Ed25519,
}

impl KeyKind {
    /// The kind of key `spec` signs with.
    pub fn of(spec: KeySpec) -> KeyKind {
        match spec.alg {
            SigningAlg::RS256 | SigningAlg::PS256 => KeyKind::Rsa(spec.key_size),
            SigningAlg::ES256 => KeyKind::P256,
            SigningAlg::EdDSA => KeyKind::Ed25519,
        }
    }

    /// Whether a key of this kind signs `alg`.
    pub fn signs(self, alg: SigningAlg) -> bool {
        KeyKind::of(KeySpec {
            alg,
            key_size: self.bits(),
        }) == self
    }

    /// The key's size in bits, as the API's `key_size` reports it.
    pub fn bits(self) -> u32 {
        match self {
            KeyKind::Rsa(bits) => bits,
            KeyKind::P256 | KeyKind::Ed25519 => 256,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Rsa(bits) => write!(f, "RSA-{bits}"),
            KeyKind::P256 => f.write_str("P-256"),
            KeyKind::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

/// The private half of a signing key: an AWS-LC key pair.
///
/// Deliberately neither `Clone` nor `Serialize`: the only way out is the explicit
/// [`PrivateKey::to_pkcs8_der`], whose buffer is wiped on drop. AWS-LC wipes the key's numbers
/// when it frees them (`OPENSSL_free` cleanses every allocation).
pub struct PrivateKey(Pair);

enum Pair {
    Rsa(RsaKeyPair),
    /// Signs in JWS's fixed-length `r || s` form.
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl PrivateKey {
    /// Generates a key pair of `kind` with AWS-LC's generator (seeded from the OS).
    ///
    /// RSA takes tens of milliseconds to seconds (4096 bits): call it from `spawn_blocking`.
    pub fn generate(kind: KeyKind) -> Result<Self, MaterialError> {
        let failed = |e: aws_lc_rs::error::Unspecified| MaterialError::KeyGeneration(e.to_string());
        let pair = match kind {
            KeyKind::Rsa(bits) => {
                let size = match bits {
                    2048 => KeySize::Rsa2048,
                    3072 => KeySize::Rsa3072,
                    4096 => KeySize::Rsa4096,
                    _ => {
                        return Err(MaterialError::KeyGeneration(format!(
                            "RSA keys are 2048, 3072 or 4096 bits, not {bits}"
                        )));
                    }
                };
                let key = RsaKeyPair::generate(size).map_err(failed)?;
                // AWS-LC's default exponent is F4; the gate makes sure of it, as for an imported key.
                let public = pkcs1::RsaPublicKey::from_der(key.public_key().as_ref())
                    .map_err(|e| MaterialError::KeyGeneration(format!("public key: {e}")))?;
                check_rsa_numbers(public.modulus.as_bytes(), public.public_exponent.as_bytes())
                    .map_err(|e| MaterialError::KeyGeneration(e.to_string()))?;
                Pair::Rsa(key)
            }
            KeyKind::P256 => Pair::P256(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?,
            ),
            KeyKind::Ed25519 => Pair::Ed25519(Ed25519KeyPair::generate().map_err(failed)?),
        };
        Ok(Self(pair))
    }

    /// Loads a PKCS#8 DER private key: RSA (2048, 3072 or 4096 bits, e = 65537), P-256 or
    /// Ed25519, and nothing else.
    ///
    /// The structure is read (without any arithmetic) before AWS-LC sees it, so a refusal can
    /// say what is wrong: AWS-LC refuses keys under 2048 bits without saying why.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, MaterialError> {
        let invalid = |e: &dyn fmt::Display| {
            MaterialError::InvalidKey(format!("not an RSA, P-256 or Ed25519 PKCS#8 key: {e}"))
        };
        let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|e| invalid(&e))?;
        let oid = info.algorithm.oid;
        let pair = if oid == rfc5912::RSA_ENCRYPTION {
            let numbers =
                pkcs1::RsaPrivateKey::from_der(info.private_key).map_err(|e| invalid(&e))?;
            check_rsa_numbers(
                numbers.modulus.as_bytes(),
                numbers.public_exponent.as_bytes(),
            )?;
            // AWS-LC checks that the numbers are consistent (RSA_check_key).
            Pair::Rsa(
                RsaKeyPair::from_pkcs8(der)
                    .map_err(|e| MaterialError::InvalidKey(format!("inconsistent RSA key: {e}")))?,
            )
        } else if oid == rfc5912::ID_EC_PUBLIC_KEY {
            let curve = info.algorithm.parameters_oid().map_err(|e| invalid(&e))?;
            if curve != rfc5912::SECP_256_R_1 {
                return Err(MaterialError::InvalidKey(format!(
                    "EC keys must be on P-256, not curve {curve}"
                )));
            }
            // AWS-LC checks the point is on the curve and matches the scalar (EC_KEY_check_key).
            Pair::P256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| MaterialError::InvalidKey(format!("invalid P-256 key: {e}")))?,
            )
        } else if oid == rfc8410::ID_ED_25519 {
            // v1 (what `openssl genpkey` writes) or v2; a v2 key's public half is checked.
            Pair::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|e| MaterialError::InvalidKey(format!("invalid Ed25519 key: {e}")))?,
            )
        } else {
            return Err(invalid(&format_args!("algorithm {oid}")));
        };
        Ok(Self(pair))
    }

    /// Loads a PKCS#8 PEM (`BEGIN PRIVATE KEY`) private key, with the same checks as
    /// [`PrivateKey::from_pkcs8_der`].
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, MaterialError> {
        let (label, der) = SecretDocument::from_pem(pem)
            .map_err(|e| MaterialError::InvalidKey(format!("not a PKCS#8 key: {e}")))?;
        if label != "PRIVATE KEY" {
            return Err(MaterialError::InvalidKey(format!(
                "not a PKCS#8 key: PEM label {label:?}"
            )));
        }
        Self::from_pkcs8_der(der.as_bytes())
    }

    /// Encodes the key as PKCS#8 DER, in a buffer that is wiped when dropped.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, MaterialError> {
        let failed =
            |e: aws_lc_rs::error::Unspecified| MaterialError::Encoding(format!("PKCS#8: {e}"));
        // AWS-LC's buffers wipe themselves on drop too.
        let der = match &self.0 {
            Pair::Rsa(key) => key.as_der().map_err(failed)?.as_ref().to_vec(),
            Pair::P256(key) => key.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
            Pair::Ed25519(key) => {
                let der: Pkcs8V2Der<'_> = key.as_der().map_err(failed)?;
                der.as_ref().to_vec()
            }
        };
        Ok(Zeroizing::new(der))
    }

    /// What kind of key pair this is.
    pub fn kind(&self) -> KeyKind {
        match &self.0 {
            Pair::Rsa(key) => {
                KeyKind::Rsa(u32::try_from(key.public_modulus_len() * 8).unwrap_or(u32::MAX))
            }
            Pair::P256(_) => KeyKind::P256,
            Pair::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// The public key as an X.509 `SubjectPublicKeyInfo` (DER), as AWS-LC writes it: RSA with
    /// NULL parameters (RFC 3279), id-ecPublicKey with the named curve, id-Ed25519 (RFC 8410).
    pub fn public_key_info_der(&self) -> Result<Vec<u8>, MaterialError> {
        let failed =
            |e: aws_lc_rs::error::Unspecified| MaterialError::Encoding(format!("public key: {e}"));
        let der: PublicKeyX509Der<'_> = match &self.0 {
            Pair::Rsa(key) => key.public_key().as_der().map_err(failed)?,
            Pair::P256(key) => key.public_key().as_der().map_err(failed)?,
            Pair::Ed25519(key) => key.public_key().as_der().map_err(failed)?,
        };
        Ok(der.as_ref().to_vec())
    }

    /// A JWS signature of `message` with `alg`, in JWS's form (RFC 7518 §3): PKCS#1 v1.5 or PSS
    /// (salt 32 bytes) for RSA, `r || s` for ES256, the 64-byte signature for EdDSA.
    pub fn sign(&self, alg: SigningAlg, message: &[u8]) -> Result<Vec<u8>, MaterialError> {
        let failed = |_| MaterialError::Encoding(format!("{alg} signing failed"));
        match (&self.0, alg) {
            (Pair::Rsa(key), SigningAlg::RS256 | SigningAlg::PS256) => {
                let padding = if alg == SigningAlg::PS256 {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(padding, &SystemRandom::new(), message, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
            (Pair::P256(key), SigningAlg::ES256) => Ok(key
                .sign(&SystemRandom::new(), message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            (Pair::Ed25519(key), SigningAlg::EdDSA) => {
                Ok(key.try_sign(message).map_err(failed)?.as_ref().to_vec())
            }
            _ => Err(MaterialError::WrongAlgorithm {
                kind: self.kind(),
                alg,
            }),
        }
    }

    /// The signature of a certificate's `TBSCertificate`: sha256WithRSAEncryption, DER-encoded
    /// ecdsa-with-SHA256 or Ed25519 (RFC 5280, RFC 5758, RFC 8410).
    pub(super) fn sign_certificate(&self, tbs: &[u8]) -> Result<Vec<u8>, MaterialError> {
        let failed = |_| MaterialError::Certificate(format!("{} signing failed", self.kind()));
        match &self.0 {
            // PKCS#1 v1.5 signatures are deterministic; AWS-LC ignores the random source.
            Pair::Rsa(_) => self.sign(SigningAlg::RS256, tbs),
            Pair::P256(_) => {
                // The same scalar, in a handle that signs in X.509's DER form.
                let pkcs8 = self.to_pkcs8_der()?;
                let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8)
                    .map_err(|e| MaterialError::Certificate(e.to_string()))?;
                Ok(key
                    .sign(&SystemRandom::new(), tbs)
                    .map_err(failed)?
                    .as_ref()
                    .to_vec())
            }
            Pair::Ed25519(key) => Ok(key.try_sign(tbs).map_err(failed)?.as_ref().to_vec()),
        }
    }

    /// A second handle on the same AWS-LC key, for a signer that outlives this value.
    pub fn handle(&self) -> PrivateKey {
        PrivateKey(match &self.0 {
            Pair::Rsa(key) => Pair::Rsa(key.clone()),
            Pair::P256(key) => Pair::P256(key.clone()),
            Pair::Ed25519(key) => Pair::Ed25519(key.clone()),
        })
    }
}

/// The single gate every RSA key passes through, so a weak or odd key (say one imported from a
/// backup) can never become a signing key. `n` and `e` are big-endian without leading zeros.
fn check_rsa_numbers(n: &[u8], e: &[u8]) -> Result<(), MaterialError> {
    let bits = n
        .first()
        .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
    if !RSA_KEY_BITS.iter().any(|&b| b as usize == bits) {
        return Err(MaterialError::InvalidKey(format!(
            "modulus is {bits} bits, expected 2048, 3072 or 4096"
        )));
    }
    if e != PUBLIC_EXPONENT {
        return Err(MaterialError::InvalidKey(
            "public exponent is not 65537".into(),
        ));
    }
    Ok(())
}

impl fmt::Debug for PrivateKey {
    // AWS-LC's Debug prints only the public key, but a log needs no key at all.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// A new key id: 21 characters of `[A-Za-z0-9_-]` from the OS CSPRNG (like nanoid).
pub fn new_kid() -> String {
    let mut bytes = [0u8; KID_LEN];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(KID_ALPHABET[usize::from(b & 63)]))
        .collect()
}

/// True when `s` has the shape of a kid Signet issues (exactly 21 chars of `[A-Za-z0-9_-]`).
pub fn is_well_formed_kid(s: &str) -> bool {
    Kid::parse(s).is_ok_and(|kid| kid.is_issued_shape())
}

/// A freshly generated signing key: kid, algorithm, certificate and private key.
///
/// `Debug` is derived, and safe, because [`PrivateKey`]'s `Debug` is redacted.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The new key id.
    pub kid: String,
    /// The key's type: what it signs, and its size.
    pub spec: KeySpec,
    /// The self-signed certificate (DER) carrying the public key.
    pub cert_der: Vec<u8>,
    /// The private key.
    pub private: PrivateKey,
}

/// Generates a key of type `spec`, a kid and the key's self-signed certificate for
/// `tenant_domain`.
///
/// Slow for the same reason as [`PrivateKey::generate`]: call it from `spawn_blocking`.
pub fn generate_signing_key(
    spec: KeySpec,
    tenant_domain: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<GeneratedKey, MaterialError> {
    // Validate the cheap input before spending time on key generation.
    super::certificate::common_name(tenant_domain)?;
    let private = PrivateKey::generate(KeyKind::of(spec))?;
    let cert_der = self_signed_certificate(&private, tenant_domain, now)?;
    Ok(GeneratedKey {
        kid: new_kid(),
        spec,
        cert_der,
        private,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use chrono::{DateTime, TimeDelta, Utc};
    use der::Tagged as _;
    use sha1::{Digest as _, Sha1};
    use std::collections::HashSet;
    use std::path::Path;
    use std::process::Command;
    use x509_cert::certificate::Certificate;
    use x509_cert::time::Time;

    const KEY_A: &str = include_str!("../../fixtures/rsa-2048-a.pk8.pem");
    const KEY_B: &str = include_str!("../../fixtures/rsa-2048-b.pk8.pem");
    const KEY_C: &str = include_str!("../../fixtures/rsa-2048-c.pk8.pem");
    const DOMAIN: &str = "contoso.signet.test";

    /// Runs `openssl` in `dir`, asserts it succeeded and returns its stdout.
    fn openssl(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl binary must be on PATH for these tests");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A fixture key, its certificate issued at `now`, and the certificate's public material.
    fn material(pem: &str, now: DateTime<Utc>) -> (PrivateKey, PublicMaterial) {
        let key = PrivateKey::from_pkcs8_pem(pem).unwrap();
        let cert = self_signed_certificate(&key, DOMAIN, now).unwrap();
        let public =
            PublicMaterial::from_certificate("kid-under-test", SigningAlg::RS256, &cert).unwrap();
        (key, public)
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    /// A key's RSA numbers, big-endian without leading zeros, read back from its PKCS#8.
    #[derive(Debug, PartialEq, Eq)]
    struct Numbers {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Vec<u8>,
        p: Vec<u8>,
        q: Vec<u8>,
    }

    fn numbers(key: &PrivateKey) -> Numbers {
        let der = key.to_pkcs8_der().unwrap();
        let info = pkcs8::PrivateKeyInfo::from_der(&der).unwrap();
        let rsa = pkcs1::RsaPrivateKey::from_der(info.private_key).unwrap();
        Numbers {
            n: rsa.modulus.as_bytes().to_vec(),
            e: rsa.public_exponent.as_bytes().to_vec(),
            d: rsa.private_exponent.as_bytes().to_vec(),
            p: rsa.prime1.as_bytes().to_vec(),
            q: rsa.prime2.as_bytes().to_vec(),
        }
    }

    /// A big-endian number in decimal, as a bignum's `Display` prints it.
    fn decimal(big_endian: &[u8]) -> String {
        let mut number = big_endian.to_vec();
        let mut digits = Vec::new();
        while number.iter().any(|&b| b != 0) {
            let mut remainder = 0u32;
            for byte in &mut number {
                let value = (remainder << 8) | u32::from(*byte);
                *byte = u8::try_from(value / 10).unwrap();
                remainder = value % 10;
            }
            digits.push(char::from_digit(remainder, 10).unwrap());
        }
        digits.iter().rev().collect()
    }

    fn hex_decode(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn kids_are_well_formed_unique_and_use_the_whole_alphabet() {
        let kids: Vec<String> = (0..2000).map(|_| new_kid()).collect();
        assert!(kids.iter().all(|k| is_well_formed_kid(k)), "{kids:?}");
        assert_eq!(kids.iter().collect::<HashSet<_>>().len(), kids.len());
        // 42,000 draws miss one of 64 symbols with probability ~1e-280; a missing symbol means a
        // biased or truncated alphabet.
        let seen: HashSet<u8> = kids.iter().flat_map(|k| k.bytes()).collect();
        assert_eq!(seen.len(), 64);
    }

    #[test]
    fn kid_shape_check_rejects_near_misses() {
        assert!(is_well_formed_kid("V1StGXR8_Z5jdHi6B-myT"));
        for bad in [
            "",
            "V1StGXR8_Z5jdHi6B-my",   // 20
            "V1StGXR8_Z5jdHi6B-myTx", // 22
            "V1StGXR8+Z5jdHi6B-myT",  // standard-base64 symbol
            "V1StGXR8/Z5jdHi6B-myT",
            "V1StGXR8 Z5jdHi6B-myT",
            "V1StGXR8=Z5jdHi6B-myT",
            "V1StGXR8éZ5jdHi6B-my", // 21 bytes, 20 chars
            "V1StGXR8éZ5jdHi6B-myT",
        ] {
            assert!(!is_well_formed_kid(bad), "{bad:?}");
        }
    }

    #[test]
    fn pkcs8_roundtrip_matches_openssl_der() {
        let dir = tempfile::tempdir().unwrap();
        for (name, pem) in [("a", KEY_A), ("b", KEY_B), ("c", KEY_C)] {
            let key = PrivateKey::from_pkcs8_pem(pem).unwrap();
            let der = key.to_pkcs8_der().unwrap();
            let again = PrivateKey::from_pkcs8_der(&der).unwrap();
            assert_eq!(numbers(&key), numbers(&again));
            assert_eq!(*again.to_pkcs8_der().unwrap(), *der);

            std::fs::write(dir.path().join("key.pem"), pem).unwrap();
            // Not `openssl pkey -outform DER`: that writes PKCS#1, not PKCS#8.
            openssl(
                dir.path(),
                &[
                    "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out",
                    "key.der",
                ],
            );
            let theirs = std::fs::read(dir.path().join("key.der")).unwrap();
            assert_eq!(theirs, *der, "fixture {name}: DER differs from openssl's");
        }
    }

    #[test]
    fn rejects_keys_signet_does_not_issue() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[&str], &str); 5] = [
            (
                "rsa1024",
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
                "1024 bits",
            ),
            (
                "rsa2560",
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2560"],
                "2560 bits",
            ),
            (
                "rsa2048e3",
                &[
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-pkeyopt",
                    "rsa_keygen_pubexp:3",
                ],
                "exponent",
            ),
            (
                "p384",
                &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
                "must be on P-256",
            ),
            ("ed448", &["-algorithm", "ED448"], "algorithm"),
        ];
        for (name, opts, reason) in cases {
            let file = format!("{name}.pem");
            let mut args = vec!["genpkey"];
            args.extend_from_slice(opts);
            args.extend_from_slice(&["-out", &file]);
            openssl(dir.path(), &args);
            let pem = std::fs::read_to_string(dir.path().join(&file)).unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            openssl(
                dir.path(),
                &[
                    "pkcs8", "-topk8", "-nocrypt", "-in", &file, "-outform", "DER", "-out", "k.der",
                ],
            );
            let der = std::fs::read(dir.path().join("k.der")).unwrap();

            let from_pem = PrivateKey::from_pkcs8_pem(&pem).unwrap_err();
            let from_der = PrivateKey::from_pkcs8_der(&der).unwrap_err();
            for err in [from_pem, from_der] {
                assert!(
                    matches!(&err, MaterialError::InvalidKey(m) if m.contains(reason)),
                    "{name}: {err:?}"
                );
            }
        }
        assert!(matches!(
            PrivateKey::from_pkcs8_der(b"not a key"),
            Err(MaterialError::InvalidKey(_))
        ));
        // PKCS#1 ("BEGIN RSA PRIVATE KEY") is not PKCS#8.
        let pkcs1 = openssl(dir.path(), &["genrsa", "-traditional", "2048"]);
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(matches!(
            PrivateKey::from_pkcs8_pem(&pkcs1),
            Err(MaterialError::InvalidKey(_))
        ));
    }

    #[test]
    fn debug_output_never_contains_key_material() {
        let key = PrivateKey::from_pkcs8_pem(KEY_A).unwrap();
        assert_eq!(format!("{key:?}"), "PrivateKey(<redacted>)");
        assert_eq!(format!("{key:#?}"), "PrivateKey(<redacted>)");

        let generated = GeneratedKey {
            kid: new_kid(),
            spec: KeySpec::DEFAULT,
            cert_der: self_signed_certificate(&key, DOMAIN, Utc::now()).unwrap(),
            private: key,
        };
        let debug = format!("{generated:?}");
        assert!(debug.contains("private: PrivateKey(<redacted>)"), "{debug}");
        let rsa = numbers(&generated.private);
        assert_eq!(decimal(&[0x01, 0x00, 0x01]), "65537");
        for secret in [&rsa.d, &rsa.p, &rsa.q] {
            let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            let hex = hex.trim_start_matches('0');
            for text in [decimal(secret), hex.to_owned(), hex.to_uppercase()] {
                assert!(!debug.contains(&text[..24]));
            }
        }
    }

    #[test]
    fn certificate_matches_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let (key, public) = material(KEY_B, now);
        std::fs::write(dir.path().join("cert.pem"), public.cert_pem()).unwrap();

        let text = openssl(dir.path(), &["x509", "-in", "cert.pem", "-text", "-noout"]);
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for expected in [
            "Version: 3 (0x2)",
            "Signature Algorithm: sha256WithRSAEncryption",
            &format!("Issuer: CN = {DOMAIN}"),
            &format!("Subject: CN = {DOMAIN}"),
            "Public-Key: (2048 bit)",
            "Exponent: 65537 (0x10001)",
            "X509v3 Basic Constraints: critical CA:TRUE X509v3",
            "X509v3 Subject Key Identifier:",
            "X509v3 Key Usage: critical Digital Signature, Certificate Sign Signature Algorithm",
        ] {
            assert!(
                collapsed.contains(expected),
                "missing {expected:?} in\n{text}"
            );
        }
        assert_eq!(
            text.matches("X509v3 ").count(),
            4,
            "exactly three extensions:\n{text}"
        );
        assert!(!text.contains("Authority Key Identifier"));

        // Exactly 5000 days, starting at `now` to the second.
        let dates = openssl(
            dir.path(),
            &[
                "x509",
                "-in",
                "cert.pem",
                "-noout",
                "-startdate",
                "-enddate",
            ],
        );
        let parse = |prefix: &str| {
            let line = dates.lines().find_map(|l| l.strip_prefix(prefix)).unwrap();
            chrono::NaiveDateTime::parse_from_str(line, "%b %e %H:%M:%S %Y GMT")
                .unwrap()
                .and_utc()
        };
        let (not_before, not_after) = (parse("notBefore="), parse("notAfter="));
        assert_eq!(not_before.timestamp(), now.timestamp());
        assert_eq!(not_after - not_before, TimeDelta::days(5000));

        // 9-byte positive serial; openssl prints it as hex without a sign byte.
        let serial = openssl(
            dir.path(),
            &["x509", "-in", "cert.pem", "-noout", "-serial"],
        );
        let serial = serial.trim().strip_prefix("serial=").unwrap();
        assert_eq!(serial.len(), 18, "{serial}");
        let serial = hex_decode(serial);
        assert!(serial[0] != 0 && serial[0] < 0x80, "{serial:02x?}");

        // The SKI is SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1).
        let cert = Certificate::from_der(&public.cert_der).unwrap();
        let spk = cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let ski: Vec<String> = Sha1::digest(spk)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        assert!(
            collapsed.contains(&format!("Identifier: {}", ski.join(":"))),
            "{text}"
        );

        // It is the key's own certificate, and its self-signature verifies.
        let n = public.jwk().unwrap().n;
        assert_eq!(n, Some(URL_SAFE_NO_PAD.encode(numbers(&key).n)));
        let verify = openssl(dir.path(), &["verify", "-CAfile", "cert.pem", "cert.pem"]);
        assert_eq!(verify.trim(), "cert.pem: OK");

        // A fresh serial every time.
        let other = self_signed_certificate(&key, DOMAIN, now).unwrap();
        let other = Certificate::from_der(&other).unwrap();
        assert_ne!(
            other.tbs_certificate.serial_number,
            cert.tbs_certificate.serial_number
        );
    }

    #[test]
    fn certificate_times_switch_to_generalized_time_in_2050() {
        let key = PrivateKey::from_pkcs8_pem(KEY_C).unwrap();
        let cases = [
            ("2024-02-29T23:59:59.999Z", true, true),
            // notAfter = 2049-12-31T23:59:59Z, the last second UTCTime can express...
            ("2036-04-23T23:59:59Z", true, true),
            // ...and one second later it must be GeneralizedTime.
            ("2036-04-24T00:00:00Z", true, false),
            ("2055-01-01T00:00:00Z", false, false),
        ];
        for (now, before_is_utc, after_is_utc) in cases {
            let der = self_signed_certificate(&key, DOMAIN, at(now)).unwrap();
            let validity = Certificate::from_der(&der)
                .unwrap()
                .tbs_certificate
                .validity;
            assert_eq!(
                matches!(validity.not_before, Time::UtcTime(_)),
                before_is_utc,
                "{now}"
            );
            assert_eq!(
                matches!(validity.not_after, Time::UtcTime(_)),
                after_is_utc,
                "{now}"
            );
            let secs = at(now).timestamp().unsigned_abs();
            assert_eq!(validity.not_before.to_unix_duration().as_secs(), secs);
            assert_eq!(
                validity.not_after.to_unix_duration().as_secs(),
                secs + 5000 * 86_400
            );
        }
    }

    #[test]
    fn common_name_is_taken_literally_and_validated() {
        let key = PrivateKey::from_pkcs8_pem(KEY_A).unwrap();
        let odd = "a,b+c=d.example";
        let der = self_signed_certificate(&key, odd, Utc::now()).unwrap();
        let tbs = Certificate::from_der(&der).unwrap().tbs_certificate;
        assert_eq!(tbs.subject, tbs.issuer);
        assert_eq!(tbs.subject.0.len(), 1, "one RDN");
        let atv = tbs.subject.0[0].0.get(0).unwrap();
        assert_eq!(atv.oid, der::oid::db::rfc4519::CN);
        assert_eq!(atv.value.tag(), der::Tag::Utf8String);
        assert_eq!(atv.value.value(), odd.as_bytes());

        for bad in ["", "line\nbreak", &"x".repeat(65)] {
            assert!(matches!(
                self_signed_certificate(&key, bad, Utc::now()),
                Err(MaterialError::InvalidTenantDomain(_))
            ));
        }
        assert!(self_signed_certificate(&key, &"é".repeat(64), Utc::now()).is_ok());
    }

    #[test]
    fn pems_use_crlf_and_64_character_lines() {
        let (_, public) = material(KEY_A, Utc::now());
        for (pem, label) in [
            (&public.cert_pem(), "CERTIFICATE"),
            (&public.pkcs7_pem(), "PKCS7"),
        ] {
            assert!(pem.starts_with(&format!("-----BEGIN {label}-----\r\n")));
            assert!(pem.ends_with(&format!("-----END {label}-----\r\n")));
            assert_eq!(pem.matches('\n').count(), pem.matches("\r\n").count());
            let lines: Vec<&str> = pem.split_terminator("\r\n").collect();
            let body = &lines[1..lines.len() - 1];
            let (last, full) = body.split_last().unwrap();
            assert!(full.iter().all(|l| l.len() == 64), "{pem}");
            assert!(!last.is_empty() && last.len() <= 64);
        }
        let cert_pem = public.cert_pem();
        let expected_raw = cert_pem
            .strip_prefix("-----BEGIN CERTIFICATE-----\r\n")
            .and_then(|p| p.strip_suffix("-----END CERTIFICATE-----\r\n"))
            .unwrap();
        assert_eq!(public.raw_pem(), expected_raw);
        assert!(public.raw_pem().ends_with("\r\n"));
        let joined: String = public.raw_pem().split("\r\n").collect();
        assert_eq!(STANDARD.decode(joined).unwrap(), public.cert_der);
    }

    #[test]
    fn fingerprints_match_openssl() {
        let dir = tempfile::tempdir().unwrap();
        for pem in [KEY_A, KEY_B, KEY_C] {
            let (_, public) = material(pem, Utc::now());
            std::fs::write(dir.path().join("cert.pem"), public.cert_pem()).unwrap();
            let out = openssl(
                dir.path(),
                &["x509", "-in", "cert.pem", "-noout", "-fingerprint", "-sha1"],
            );
            let (_, theirs) = out.trim().split_once('=').unwrap();
            assert_eq!(public.fingerprint, theirs);
            assert_eq!(public.fingerprint.len(), 59);
            assert!(
                public
                    .fingerprint
                    .bytes()
                    .all(|b| b == b':' || b.is_ascii_digit() || b.is_ascii_uppercase())
            );
            assert_eq!(public.thumbprint, public.fingerprint.replace(':', ""));
        }
    }

    #[test]
    fn jwk_serialises_in_order_with_the_right_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.pem"), KEY_C).unwrap();
        let (_, public) = material(KEY_C, Utc::now());
        let jwk = &public.jwk().unwrap();

        let expected = format!(
            r#"{{"alg":"RS256","kty":"RSA","use":"sig","n":"{}","e":"AQAB","kid":"kid-under-test","x5t":"{}","x5c":["{}"]}}"#,
            jwk.n.as_deref().unwrap(),
            jwk.x5t,
            jwk.x5c[0]
        );
        assert_eq!(serde_json::to_string(jwk).unwrap(), expected);
        assert_eq!(serde_json::from_str::<Jwk>(&expected).unwrap(), *jwk);

        // n is the modulus openssl reports for the private key, without a leading zero byte.
        let modulus = openssl(dir.path(), &["rsa", "-in", "key.pem", "-noout", "-modulus"]);
        let modulus = hex_decode(modulus.trim().strip_prefix("Modulus=").unwrap());
        let n = URL_SAFE_NO_PAD.decode(jwk.n.as_deref().unwrap()).unwrap();
        assert_eq!(n.len(), 256);
        assert_eq!(n, modulus);
        assert!(!jwk.n.as_deref().unwrap().contains(['=', '+', '/']));

        assert_eq!(
            URL_SAFE_NO_PAD.decode(&jwk.x5t).unwrap(),
            hex_decode(&public.thumbprint)
        );
        assert_eq!(jwk.x5c.len(), 1);
        assert_eq!(STANDARD.decode(&jwk.x5c[0]).unwrap(), public.cert_der);
    }

    #[test]
    fn pkcs7_is_what_openssl_crl2pkcs7_prints() {
        let dir = tempfile::tempdir().unwrap();
        let (_, public) = material(KEY_B, Utc::now());
        std::fs::write(dir.path().join("cert.pem"), public.cert_pem()).unwrap();
        std::fs::write(dir.path().join("p7.pem"), public.pkcs7_pem()).unwrap();

        let certs = openssl(dir.path(), &["pkcs7", "-print_certs", "-in", "p7.pem"]);
        assert!(
            certs
                .lines()
                .any(|l| l.starts_with("subject=") && l.ends_with(DOMAIN)),
            "{certs}"
        );
        assert!(certs.contains(public.raw_pem().replace("\r\n", "\n").as_str()));

        let theirs = openssl(
            dir.path(),
            &["crl2pkcs7", "-nocrl", "-certfile", "cert.pem"],
        );
        assert_eq!(public.pkcs7_pem().replace("\r\n", "\n"), theirs);
    }

    #[test]
    fn from_certificate_rejects_non_rsa_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ec.key",
                "-subj",
                "/CN=ec.test",
                "-days",
                "1",
                "-outform",
                "DER",
                "-out",
                "ec.der",
            ],
        );
        let ec = std::fs::read(dir.path().join("ec.der")).unwrap();
        // A P-256 certificate is an ES256 key's, and no other algorithm's.
        let es256 = PublicMaterial::from_certificate("k", SigningAlg::ES256, &ec).unwrap();
        assert_eq!(es256.kind, KeyKind::P256);
        for alg in [SigningAlg::RS256, SigningAlg::PS256, SigningAlg::EdDSA] {
            assert!(matches!(
                PublicMaterial::from_certificate("k", alg, &ec),
                Err(MaterialError::Certificate(_))
            ));
        }

        let (_, public) = material(KEY_A, Utc::now());
        let mut trailing = public.cert_der.clone();
        trailing.push(0);
        for bad in [&b""[..], b"garbage", &public.cert_der[..100], &trailing] {
            assert!(matches!(
                PublicMaterial::from_certificate("k", SigningAlg::RS256, bad),
                Err(MaterialError::Certificate(_))
            ));
        }
    }

    /// The one test that runs the real (slow) generator.
    #[test]
    fn generate_signing_key_produces_a_usable_key() {
        let generated = generate_signing_key(KeySpec::DEFAULT, DOMAIN, Utc::now()).unwrap();
        assert!(is_well_formed_kid(&generated.kid));
        let rsa = numbers(&generated.private);
        assert_eq!((rsa.n.len(), rsa.n[0] >> 7), (256, 1), "2048 bits");
        assert_eq!(rsa.e, [0x01, 0x00, 0x01]);

        let public = PublicMaterial::from_certificate(
            &generated.kid,
            SigningAlg::RS256,
            &generated.cert_der,
        )
        .unwrap();
        assert_eq!(
            public.jwk().unwrap().n,
            Some(URL_SAFE_NO_PAD.encode(&rsa.n))
        );
        assert_eq!(public.jwk().unwrap().e.as_deref(), Some("AQAB"));
        assert_eq!(public.jwk().unwrap().kid, generated.kid);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), public.cert_pem()).unwrap();
        let verify = openssl(dir.path(), &["verify", "-CAfile", "cert.pem", "cert.pem"]);
        assert_eq!(verify.trim(), "cert.pem: OK");

        // The key survives a PKCS#8 roundtrip, which is how it will be stored.
        let der = generated.private.to_pkcs8_der().unwrap();
        assert_eq!(numbers(&PrivateKey::from_pkcs8_der(&der).unwrap()), rsa);
        assert!(matches!(
            generate_signing_key(KeySpec::DEFAULT, "", Utc::now()),
            Err(MaterialError::InvalidTenantDomain(_))
        ));
    }

    #[test]
    #[expect(
        clippy::too_many_lines,
        reason = "one table of four key types, checked end to end"
    )]
    fn every_key_type_gets_a_certificate_and_a_jwk_openssl_agrees_with() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                include_str!("../../fixtures/rsa-3072-a.pk8.pem"),
                SigningAlg::RS256,
                KeyKind::Rsa(3072),
                "sha256WithRSAEncryption",
                "Public-Key: (3072 bit)",
            ),
            (
                include_str!("../../fixtures/rsa-4096-a.pk8.pem"),
                SigningAlg::PS256,
                KeyKind::Rsa(4096),
                "sha256WithRSAEncryption",
                "Public-Key: (4096 bit)",
            ),
            (
                include_str!("../../fixtures/p256-a.pk8.pem"),
                SigningAlg::ES256,
                KeyKind::P256,
                "ecdsa-with-SHA256",
                "Public-Key: (256 bit)",
            ),
            (
                include_str!("../../fixtures/ed25519-a.pk8.pem"),
                SigningAlg::EdDSA,
                KeyKind::Ed25519,
                "ED25519",
                "ED25519 Public-Key:",
            ),
        ];
        for (pem, alg, kind, signature_algorithm, key_line) in cases {
            let key = PrivateKey::from_pkcs8_pem(pem).unwrap();
            assert_eq!(key.kind(), kind);
            let again = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
            assert_eq!(
                again.public_key_info_der().unwrap(),
                key.public_key_info_der().unwrap()
            );
            let cert = self_signed_certificate(&key, DOMAIN, Utc::now()).unwrap();
            let public = PublicMaterial::from_certificate("k", alg, &cert).unwrap();
            assert_eq!((public.alg, public.kind), (alg, kind));
            std::fs::write(dir.path().join("cert.pem"), public.cert_pem()).unwrap();
            std::fs::write(dir.path().join("p7.pem"), public.pkcs7_pem()).unwrap();
            std::fs::write(dir.path().join("key.pem"), pem).unwrap();
            let text = openssl(dir.path(), &["x509", "-in", "cert.pem", "-text", "-noout"]);
            assert!(
                text.contains(&format!("Signature Algorithm: {signature_algorithm}")),
                "{text}"
            );
            assert!(text.contains(key_line), "{text}");
            let verify = openssl(dir.path(), &["verify", "-CAfile", "cert.pem", "cert.pem"]);
            assert_eq!(verify.trim(), "cert.pem: OK", "{alg}");
            let certs = openssl(dir.path(), &["pkcs7", "-print_certs", "-in", "p7.pem"]);
            assert!(certs.contains(public.raw_pem().replace("\r\n", "\n").as_str()));
            // The certificate carries exactly the key's public half, as openssl writes it.
            openssl(
                dir.path(),
                &[
                    "pkey", "-in", "key.pem", "-pubout", "-outform", "DER", "-out", "pub.der",
                ],
            );
            let theirs = std::fs::read(dir.path().join("pub.der")).unwrap();
            assert_eq!(public.public_key_info_der, theirs, "{alg}");
            assert_eq!(key.public_key_info_der().unwrap(), theirs, "{alg}");
            // The JWK members of its type, and nothing of another's.
            let text = serde_json::to_string(&public.jwk().unwrap()).unwrap();
            let jwk: serde_json::Value = serde_json::from_str(&text).unwrap();
            // In the order written (`Value`'s map sorts its keys).
            let mut members: Vec<&str> = jwk
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            members.sort_by_key(|m| text.find(&format!("\"{m}\":")).unwrap());
            let expected: &[&str] = match kind {
                KeyKind::Rsa(_) => &["alg", "kty", "use", "n", "e", "kid", "x5t", "x5c"],
                KeyKind::P256 => &["alg", "kty", "use", "crv", "x", "y", "kid", "x5t", "x5c"],
                KeyKind::Ed25519 => &["alg", "kty", "use", "crv", "x", "kid", "x5t", "x5c"],
            };
            assert_eq!(members, expected, "{alg}");
            assert_eq!(jwk["alg"], alg.as_str());
            // A key signs its own algorithm only.
            for other in SigningAlg::ALL {
                assert_eq!(
                    key.sign(other, b"m").is_ok(),
                    kind.signs(other),
                    "{alg} {other}"
                );
            }
        }
    }

    #[test]
    fn ec_and_ed25519_keys_are_generated_in_aws_lc() {
        for kind in [KeyKind::P256, KeyKind::Ed25519] {
            let a = PrivateKey::generate(kind).unwrap();
            let b = PrivateKey::generate(kind).unwrap();
            assert_eq!(a.kind(), kind);
            assert_ne!(
                a.public_key_info_der().unwrap(),
                b.public_key_info_der().unwrap()
            );
            let der = a.to_pkcs8_der().unwrap();
            let again = PrivateKey::from_pkcs8_der(&der).unwrap();
            assert_eq!(
                again.public_key_info_der().unwrap(),
                a.public_key_info_der().unwrap()
            );
        }
        assert!(matches!(
            PrivateKey::generate(KeyKind::Rsa(1024)),
            Err(MaterialError::KeyGeneration(_))
        ));
    }
}
