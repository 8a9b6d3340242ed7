//! RSA signing-key material: generation, the self-signed certificate, and every public encoding of it.
//!
//! A signing key is an RSA-2048 key (e = 65537) plus a self-signed X.509 certificate that carries
//! its public half. Everything Signet publishes about a key (PEM, PKCS#7, fingerprints, the JWK)
//! is derived from the certificate's DER, so the certificate is the single source of truth for
//! the public side.
//!
//! Every private-key operation (generation, PKCS#8 import and export, the certificate's
//! signature) runs in AWS-LC through `aws-lc-rs`, whose RSA is constant-time and blinded; the
//! RustCrypto crates here (`der`, `x509-cert`, `pkcs1`, `pkcs8`) only encode and parse.

use app::keys::Kid;
use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use der::asn1::{BitString, GeneralizedTime, SetOfVec, UtcTime};
use der::oid::db::{rfc4519, rfc5912};
use der::referenced::OwnedToRef as _;
use der::{Any, Decode as _, Encode as _, SecretDocument, Tag};
use rand::RngCore as _;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha1::{Digest as _, Sha1};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::AsExtension as _;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use zeroize::Zeroizing;

use super::pem::{certs_only_pkcs7, pem_armour, pem_body};

/// The only modulus size Signet issues or accepts.
const KEY_BITS: usize = 2048;
/// The only public exponent Signet issues or accepts (F4), big-endian without leading zeros.
const PUBLIC_EXPONENT: &[u8] = &[0x01, 0x00, 0x01];
/// Certificate lifetime. The certificate is only a carrier for the public key (relying parties
/// pin keys through the JWKS, not through a CA), so its validity is deliberately long.
const VALIDITY_DAYS: i64 = 5000;
/// Serial numbers are 9 random bytes with the top bit clear: positive, 71 bits of entropy.
const SERIAL_LEN: usize = 9;
/// RFC 5280's upper bound for a commonName (ub-common-name).
const MAX_COMMON_NAME_CHARS: usize = 64;

// The kid format is defined once, by `app::keys::Kid`: 21 symbols of a 64-symbol alphabet give
// 126 bits, like nanoid's default, and `byte & 63` picks a symbol without bias.
const KID_LEN: usize = Kid::ISSUED_LEN;
const KID_ALPHABET: &[u8; 64] = Kid::ALPHABET;

/// What can go wrong while creating, loading or encoding key material.
///
/// The messages describe the failure only; they never carry key bytes, so they are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    /// The RSA key generator failed.
    #[error("RSA key generation failed: {0}")]
    KeyGeneration(String),
    /// A private key could not be decoded or is not one Signet accepts (RSA-2048, e = 65537).
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
}

/// The private half of a signing key: an AWS-LC RSA key pair.
///
/// Deliberately neither `Clone` nor `Serialize`: the only way out is the explicit
/// [`PrivateKey::to_pkcs8_der`], whose buffer is wiped on drop. AWS-LC wipes the key's numbers
/// when it frees them (`OPENSSL_free` cleanses every allocation).
pub struct PrivateKey(KeyPair);

impl PrivateKey {
    /// Generates an RSA-2048 key with e = 65537 with AWS-LC's generator (seeded from the OS).
    ///
    /// Takes tens to hundreds of milliseconds: call it from `spawn_blocking`.
    pub fn generate() -> Result<Self, MaterialError> {
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|e| MaterialError::KeyGeneration(e.to_string()))?;
        // AWS-LC's default exponent is F4; the gate makes sure of it, as for an imported key.
        let public = pkcs1::RsaPublicKey::from_der(key.public_key().as_ref())
            .map_err(|e| MaterialError::KeyGeneration(format!("public key: {e}")))?;
        check_public_numbers(public.modulus.as_bytes(), public.public_exponent.as_bytes())
            .map_err(|e| MaterialError::KeyGeneration(e.to_string()))?;
        Ok(Self(key))
    }

    /// Loads a PKCS#8 DER private key, rejecting anything but RSA-2048 with e = 65537.
    ///
    /// The structure is read (without any arithmetic) before AWS-LC sees it, so a refusal can
    /// say what is wrong: AWS-LC refuses keys under 2048 bits without saying why.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, MaterialError> {
        let info = pkcs8::PrivateKeyInfo::from_der(der)
            .map_err(|e| MaterialError::InvalidKey(format!("not an RSA PKCS#8 key: {e}")))?;
        if info.algorithm.oid != rfc5912::RSA_ENCRYPTION {
            return Err(MaterialError::InvalidKey(format!(
                "not an RSA PKCS#8 key: algorithm {}",
                info.algorithm.oid
            )));
        }
        let numbers = pkcs1::RsaPrivateKey::from_der(info.private_key)
            .map_err(|e| MaterialError::InvalidKey(format!("not an RSA PKCS#8 key: {e}")))?;
        check_public_numbers(
            numbers.modulus.as_bytes(),
            numbers.public_exponent.as_bytes(),
        )?;
        // AWS-LC checks that the numbers are consistent (RSA_check_key).
        let key = KeyPair::from_pkcs8(der)
            .map_err(|e| MaterialError::InvalidKey(format!("inconsistent RSA key: {e}")))?;
        Ok(Self(key))
    }

    /// Loads a PKCS#8 PEM (`BEGIN PRIVATE KEY`) private key, with the same checks as
    /// [`PrivateKey::from_pkcs8_der`].
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, MaterialError> {
        let (label, der) = SecretDocument::from_pem(pem)
            .map_err(|e| MaterialError::InvalidKey(format!("not an RSA PKCS#8 key: {e}")))?;
        if label != "PRIVATE KEY" {
            return Err(MaterialError::InvalidKey(format!(
                "not an RSA PKCS#8 key: PEM label {label:?}"
            )));
        }
        Self::from_pkcs8_der(der.as_bytes())
    }

    /// Encodes the key as PKCS#8 DER, in a buffer that is wiped when dropped.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, MaterialError> {
        // AWS-LC's buffer wipes itself on drop too.
        let der = self
            .0
            .as_der()
            .map_err(|e| MaterialError::Encoding(format!("PKCS#8: {e}")))?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    /// The AWS-LC key pair, for the code that signs tokens.
    pub fn key_pair(&self) -> &KeyPair {
        &self.0
    }
}

/// The single gate every key passes through, so a weak or odd key (say one imported from a
/// backup) can never become a signing key. `n` and `e` are big-endian without leading zeros.
fn check_public_numbers(n: &[u8], e: &[u8]) -> Result<(), MaterialError> {
    let bits = n
        .first()
        .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
    if bits != KEY_BITS {
        return Err(MaterialError::InvalidKey(format!(
            "modulus is {bits} bits, expected {KEY_BITS}"
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

/// A self-signed X.509 v3 certificate (DER) for `key`, named `CN=<tenant_domain>`.
///
/// Profile: serial of 9 random positive bytes; sha256WithRSAEncryption; validity from `now`
/// (truncated to the second) for 5000 days, as UTCTime before 2050 and GeneralizedTime from
/// then on (RFC 5280 §4.1.2.5); extensions, in this order, basicConstraints (critical, CA:TRUE),
/// subjectKeyIdentifier (SHA-1 of the public key bits) and keyUsage (critical, digitalSignature
/// and keyCertSign). Nothing else: in particular no authorityKeyIdentifier, which a
/// self-signed certificate does not need.
pub fn self_signed_certificate(
    key: &PrivateKey,
    tenant_domain: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, MaterialError> {
    let name = common_name(tenant_domain)?;
    // AWS-LC writes the SubjectPublicKeyInfo as RFC 3279 asks: rsaEncryption with NULL params.
    let spki_der = key.0.public_key().as_der().map_err(cert_error)?;
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der.as_ref()).map_err(cert_error)?;

    // The TBSCertificate is assembled by hand rather than with x509-cert's CertificateBuilder:
    // without the crate's `hazmat` feature (not enabled in this workspace) the builder has no
    // `Profile::Manual`, and `Profile::Root` hard-codes keyUsage = keyCertSign + cRLSign and
    // keeps extensions private, so the profile above cannot be produced through it.
    let extensions = vec![
        BasicConstraints {
            ca: true,
            path_len_constraint: None,
        }
        .to_extension(&name, &[])
        .map_err(cert_error)?,
        SubjectKeyIdentifier::try_from(spki.owned_to_ref())
            .map_err(cert_error)?
            .to_extension(&name, &[])
            .map_err(cert_error)?,
        KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyCertSign)
            .to_extension(&name, &[])
            .map_err(cert_error)?,
    ];
    // RFC 4055 §5: sha256WithRSAEncryption's parameters are present and NULL.
    let signature_algorithm = AlgorithmIdentifierOwned {
        oid: rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
        parameters: Some(Any::null()),
    };
    let not_after = now
        .checked_add_signed(TimeDelta::days(VALIDITY_DAYS))
        .ok_or(MaterialError::Certificate(
            "notAfter is out of range".into(),
        ))?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: random_serial()?,
        signature: signature_algorithm.clone(),
        issuer: name.clone(),
        validity: Validity {
            not_before: rfc5280_time(now)?,
            not_after: rfc5280_time(not_after)?,
        },
        subject: name,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };

    // PKCS#1 v1.5 signatures are deterministic; AWS-LC ignores the random source.
    let tbs_der = tbs.to_der().map_err(cert_error)?;
    let mut signature = vec![0; key.0.public_modulus_len()];
    key.0
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            &tbs_der,
            &mut signature,
        )
        .map_err(|_| MaterialError::Certificate("RSA signing failed".into()))?;
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm,
        signature: BitString::from_bytes(&signature).map_err(cert_error)?,
    }
    .to_der()
    .map_err(cert_error)
}

/// A freshly generated signing key: kid, certificate and private key.
///
/// `Debug` is derived, and safe, because [`PrivateKey`]'s `Debug` is redacted.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The new key id.
    pub kid: String,
    /// The self-signed certificate (DER) carrying the public key.
    pub cert_der: Vec<u8>,
    /// The private key.
    pub private: PrivateKey,
}

/// Generates a key, a kid and the key's self-signed certificate for `tenant_domain`.
///
/// Slow for the same reason as [`PrivateKey::generate`]: call it from `spawn_blocking`.
pub fn generate_signing_key(
    tenant_domain: &str,
    now: DateTime<Utc>,
) -> Result<GeneratedKey, MaterialError> {
    // Validate the cheap input before spending time on key generation.
    common_name(tenant_domain)?;
    let private = PrivateKey::generate()?;
    let cert_der = self_signed_certificate(&private, tenant_domain, now)?;
    Ok(GeneratedKey {
        kid: new_kid(),
        cert_der,
        private,
    })
}

/// Everything public that is derived from a key's certificate. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicMaterial {
    /// The key id.
    pub kid: String,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// PEM `CERTIFICATE`, 64-character base64 lines, CRLF line endings, ends with CRLF.
    pub cert_pem: String,
    /// The base64 lines of `cert_pem` without the BEGIN/END lines, CRLF, ends with CRLF.
    pub raw_pem: String,
    /// PEM `PKCS7` of a certs-only SignedData holding this certificate, CRLF; byte for byte
    /// what `openssl crl2pkcs7 -nocrl -certfile cert.pem` prints, bar the line endings.
    pub pkcs7_pem: String,
    /// SHA-1 of the certificate DER, uppercase hex, colon-separated (`CC:FB:…:25`).
    pub fingerprint: String,
    /// SHA-1 of the certificate DER, uppercase hex, no separators.
    pub thumbprint: String,
    /// The key as published in the JWKS.
    pub jwk: Jwk,
}

impl PublicMaterial {
    /// Derives every public form from the certificate; fails if the DER is not an RSA
    /// certificate.
    ///
    /// All encodings use `cert_der` exactly as given (it is never re-encoded), so the
    /// fingerprint, `x5c` and PEM always describe the stored certificate.
    pub fn from_certificate(kid: &str, cert_der: &[u8]) -> Result<Self, MaterialError> {
        let cert = Certificate::from_der(cert_der).map_err(cert_error)?;
        let spki = &cert.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid != rfc5912::RSA_ENCRYPTION {
            return Err(MaterialError::Certificate(format!(
                "not an RSA certificate: algorithm {}",
                spki.algorithm.oid
            )));
        }
        let public_key = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| cert_error("the public key is not a whole number of bytes"))
            .and_then(|bits| pkcs1::RsaPublicKey::from_der(bits).map_err(cert_error))
            .map_err(|e| MaterialError::Certificate(format!("not an RSA certificate: {e}")))?;
        // `UintRef` strips leading zeros, as a JWK wants.
        let n = URL_SAFE_NO_PAD.encode(public_key.modulus.as_bytes());
        let e = URL_SAFE_NO_PAD.encode(public_key.public_exponent.as_bytes());

        let sha1 = Sha1::digest(cert_der);
        let hex: Vec<String> = sha1.iter().map(|b| format!("{b:02X}")).collect();
        let raw_pem = pem_body(cert_der);
        let pkcs7_der = certs_only_pkcs7(cert)?;

        Ok(Self {
            kid: kid.to_owned(),
            cert_der: cert_der.to_vec(),
            cert_pem: pem_armour("CERTIFICATE", &raw_pem),
            pkcs7_pem: pem_armour("PKCS7", &pem_body(&pkcs7_der)),
            raw_pem,
            fingerprint: hex.join(":"),
            thumbprint: hex.concat(),
            jwk: Jwk {
                alg: "RS256".to_owned(),
                kty: "RSA".to_owned(),
                use_: "sig".to_owned(),
                n,
                e,
                kid: kid.to_owned(),
                x5t: URL_SAFE_NO_PAD.encode(sha1),
                x5c: vec![STANDARD.encode(cert_der)],
            },
        })
    }
}

/// One JSON Web Key as published in the JWKS.
///
/// Field order matters and is the declaration order: it serialises exactly as
/// `{"alg":"RS256","kty":"RSA","use":"sig","n":…,"e":"AQAB","kid":…,"x5t":…,"x5c":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `RS256`.
    pub alg: String,
    /// Always `RSA`.
    pub kty: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Modulus, big-endian without leading zeros, base64url without padding.
    pub n: String,
    /// Public exponent, encoded like `n` (`AQAB` for 65537).
    pub e: String,
    /// The key id.
    pub kid: String,
    /// base64url (no padding) of the SHA-1 of the certificate DER.
    pub x5t: String,
    /// The certificate DER in standard base64 with padding; always exactly one entry.
    pub x5c: Vec<String>,
}

fn cert_error(e: impl fmt::Display) -> MaterialError {
    MaterialError::Certificate(e.to_string())
}

/// `CN=<tenant_domain>` as a UTF8String.
///
/// Built attribute by attribute instead of parsed from an RFC 4514 string, so a domain
/// containing `,`, `+` or `=` stays one literal common name rather than becoming extra RDNs.
fn common_name(tenant_domain: &str) -> Result<Name, MaterialError> {
    if tenant_domain.is_empty() {
        return Err(MaterialError::InvalidTenantDomain("empty"));
    }
    if tenant_domain.chars().count() > MAX_COMMON_NAME_CHARS {
        return Err(MaterialError::InvalidTenantDomain(
            "longer than 64 characters",
        ));
    }
    if tenant_domain.chars().any(char::is_control) {
        return Err(MaterialError::InvalidTenantDomain(
            "contains control characters",
        ));
    }
    let cn = AttributeTypeAndValue {
        oid: rfc4519::CN,
        value: Any::new(Tag::Utf8String, tenant_domain.as_bytes()).map_err(cert_error)?,
    };
    let rdn = SetOfVec::try_from(vec![cn]).map_err(cert_error)?;
    Ok(RdnSequence(vec![RelativeDistinguishedName(rdn)]))
}

/// 9 random bytes read as a positive integer whose DER encoding is exactly 9 bytes long:
/// the top bit is cleared (else DER would need a leading 0x00 to stay positive) and a zero
/// first byte is redrawn (else DER would drop it, shortening the serial).
fn random_serial() -> Result<SerialNumber, MaterialError> {
    let mut bytes = [0u8; SERIAL_LEN];
    loop {
        OsRng.fill_bytes(&mut bytes);
        bytes[0] &= 0x7f;
        if bytes[0] != 0 {
            return SerialNumber::new(&bytes).map_err(cert_error);
        }
    }
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. Sub-second precision
/// is dropped because neither form may carry fractions in a certificate.
fn rfc5280_time(at: DateTime<Utc>) -> Result<Time, MaterialError> {
    let secs = u64::try_from(at.timestamp())
        .map_err(|_| MaterialError::Certificate("certificate time before 1970".into()))?;
    let dt = der::DateTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .map_err(cert_error)?;
    if dt.year() <= UtcTime::MAX_YEAR {
        Ok(Time::UtcTime(
            UtcTime::from_date_time(dt).map_err(cert_error)?,
        ))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use der::Tagged as _;
    use std::collections::HashSet;
    use std::path::Path;
    use std::process::Command;

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
        let public = PublicMaterial::from_certificate("kid-under-test", &cert).unwrap();
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
    fn rejects_keys_that_are_not_rsa_2048_f4() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[&str], &str); 4] = [
            (
                "rsa1024",
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
                "1024 bits",
            ),
            (
                "rsa3072",
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
                "3072 bits",
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
                "p256",
                &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                "not an RSA",
            ),
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
        std::fs::write(dir.path().join("cert.pem"), &public.cert_pem).unwrap();

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
        assert_eq!(public.jwk.n, URL_SAFE_NO_PAD.encode(numbers(&key).n));
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
        assert_eq!(atv.oid, rfc4519::CN);
        assert_eq!(atv.value.tag(), Tag::Utf8String);
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
            (&public.cert_pem, "CERTIFICATE"),
            (&public.pkcs7_pem, "PKCS7"),
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
        let expected_raw = public
            .cert_pem
            .strip_prefix("-----BEGIN CERTIFICATE-----\r\n")
            .and_then(|p| p.strip_suffix("-----END CERTIFICATE-----\r\n"))
            .unwrap();
        assert_eq!(public.raw_pem, expected_raw);
        assert!(public.raw_pem.ends_with("\r\n"));
        let joined: String = public.raw_pem.split("\r\n").collect();
        assert_eq!(STANDARD.decode(joined).unwrap(), public.cert_der);
    }

    #[test]
    fn fingerprints_match_openssl() {
        let dir = tempfile::tempdir().unwrap();
        for pem in [KEY_A, KEY_B, KEY_C] {
            let (_, public) = material(pem, Utc::now());
            std::fs::write(dir.path().join("cert.pem"), &public.cert_pem).unwrap();
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
        let jwk = &public.jwk;

        let expected = format!(
            r#"{{"alg":"RS256","kty":"RSA","use":"sig","n":"{}","e":"AQAB","kid":"kid-under-test","x5t":"{}","x5c":["{}"]}}"#,
            jwk.n, jwk.x5t, jwk.x5c[0]
        );
        assert_eq!(serde_json::to_string(jwk).unwrap(), expected);
        assert_eq!(serde_json::from_str::<Jwk>(&expected).unwrap(), *jwk);

        // n is the modulus openssl reports for the private key, without a leading zero byte.
        let modulus = openssl(dir.path(), &["rsa", "-in", "key.pem", "-noout", "-modulus"]);
        let modulus = hex_decode(modulus.trim().strip_prefix("Modulus=").unwrap());
        let n = URL_SAFE_NO_PAD.decode(&jwk.n).unwrap();
        assert_eq!(n.len(), 256);
        assert_eq!(n, modulus);
        assert!(!jwk.n.contains(['=', '+', '/']));

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
        std::fs::write(dir.path().join("cert.pem"), &public.cert_pem).unwrap();
        std::fs::write(dir.path().join("p7.pem"), &public.pkcs7_pem).unwrap();

        let certs = openssl(dir.path(), &["pkcs7", "-print_certs", "-in", "p7.pem"]);
        assert!(
            certs
                .lines()
                .any(|l| l.starts_with("subject=") && l.ends_with(DOMAIN)),
            "{certs}"
        );
        assert!(certs.contains(public.raw_pem.replace("\r\n", "\n").as_str()));

        let theirs = openssl(
            dir.path(),
            &["crl2pkcs7", "-nocrl", "-certfile", "cert.pem"],
        );
        assert_eq!(public.pkcs7_pem.replace("\r\n", "\n"), theirs);
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
        assert!(matches!(
            PublicMaterial::from_certificate("k", &ec),
            Err(MaterialError::Certificate(_))
        ));

        let (_, public) = material(KEY_A, Utc::now());
        let mut trailing = public.cert_der.clone();
        trailing.push(0);
        for bad in [&b""[..], b"garbage", &public.cert_der[..100], &trailing] {
            assert!(matches!(
                PublicMaterial::from_certificate("k", bad),
                Err(MaterialError::Certificate(_))
            ));
        }
    }

    /// The one test that runs the real (slow) generator.
    #[test]
    fn generate_signing_key_produces_a_usable_key() {
        let generated = generate_signing_key(DOMAIN, Utc::now()).unwrap();
        assert!(is_well_formed_kid(&generated.kid));
        let rsa = numbers(&generated.private);
        assert_eq!((rsa.n.len(), rsa.n[0] >> 7), (256, 1), "2048 bits");
        assert_eq!(rsa.e, [0x01, 0x00, 0x01]);

        let public = PublicMaterial::from_certificate(&generated.kid, &generated.cert_der).unwrap();
        assert_eq!(public.jwk.n, URL_SAFE_NO_PAD.encode(&rsa.n));
        assert_eq!(public.jwk.e, "AQAB");
        assert_eq!(public.jwk.kid, generated.kid);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert.pem"), &public.cert_pem).unwrap();
        let verify = openssl(dir.path(), &["verify", "-CAfile", "cert.pem", "cert.pem"]);
        assert_eq!(verify.trim(), "cert.pem: OK");

        // The key survives a PKCS#8 roundtrip, which is how it will be stored.
        let der = generated.private.to_pkcs8_der().unwrap();
        assert_eq!(numbers(&PrivateKey::from_pkcs8_der(&der).unwrap()), rsa);
        assert!(matches!(
            generate_signing_key("", Utc::now()),
            Err(MaterialError::InvalidTenantDomain(_))
        ));
    }
}
