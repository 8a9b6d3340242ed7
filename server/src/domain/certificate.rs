//! A signing key's self-signed certificate, and every public encoding derived from it: PEM,
//! PKCS#7, fingerprints and the JWK (SPEC §2, §13).

use std::fmt;

use app::algorithm::SigningAlg;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use der::asn1::{BitString, GeneralizedTime, SetOfVec, UtcTime};
use der::oid::db::{rfc4519, rfc5912, rfc8410};
use der::referenced::OwnedToRef as _;
use der::{Any, Decode as _, Encode as _, Tag};
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

use super::material::{KeyKind, MaterialError, PrivateKey};
use super::pem::{certs_only_pkcs7, pem_armour, pem_body};

/// Certificate lifetime. The certificate is only a carrier for the public key (relying parties
/// pin keys through the JWKS, not through a CA), so its validity is deliberately long.
const VALIDITY_DAYS: i64 = 5000;
/// Serial numbers are 9 random bytes with the top bit clear: positive, 71 bits of entropy.
const SERIAL_LEN: usize = 9;
/// RFC 5280's upper bound for a commonName (ub-common-name).
const MAX_COMMON_NAME_CHARS: usize = 64;

/// A self-signed X.509 v3 certificate (DER) for `key`, named `CN=<tenant_domain>`.
///
/// Profile: serial of 9 random positive bytes; signed with sha256WithRSAEncryption (RSA keys,
/// RS256 and PS256 alike: every X.509 stack reads it), ecdsa-with-SHA256 (P-256) or Ed25519;
/// validity from `now` (truncated to the second) for 5000 days, as UTCTime before 2050 and
/// GeneralizedTime from then on (RFC 5280 §4.1.2.5); extensions, in this order,
/// basicConstraints (critical, CA:TRUE), subjectKeyIdentifier (SHA-1 of the public key bits)
/// and keyUsage (critical, digitalSignature and keyCertSign). Nothing else: in particular no
/// authorityKeyIdentifier, which a self-signed certificate does not need.
pub fn self_signed_certificate(
    key: &PrivateKey,
    tenant_domain: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, MaterialError> {
    let name = common_name(tenant_domain)?;
    let spki_der = key.public_key_info_der()?;
    let spki = SubjectPublicKeyInfoOwned::from_der(&spki_der).map_err(cert_error)?;

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
    let signature_algorithm = match key.kind() {
        // RFC 4055 §5: sha256WithRSAEncryption's parameters are present and NULL.
        KeyKind::Rsa(_) => AlgorithmIdentifierOwned {
            oid: rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        // RFC 5758 §3.2 and RFC 8410 §3: the parameters are absent.
        KeyKind::P256 => AlgorithmIdentifierOwned {
            oid: rfc5912::ECDSA_WITH_SHA_256,
            parameters: None,
        },
        KeyKind::Ed25519 => AlgorithmIdentifierOwned {
            oid: rfc8410::ID_ED_25519,
            parameters: None,
        },
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

    let signature = key.sign_certificate(&tbs.to_der().map_err(cert_error)?)?;
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm,
        signature: BitString::from_bytes(&signature).map_err(cert_error)?,
    }
    .to_der()
    .map_err(cert_error)
}

/// Everything public that is derived from a key's certificate. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicMaterial {
    /// The key id.
    pub kid: String,
    /// What the key signs.
    pub alg: SigningAlg,
    /// The key's type, read from the certificate.
    pub kind: KeyKind,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The certificate's `SubjectPublicKeyInfo`, DER: what verifiers are built from.
    pub public_key_info_der: Vec<u8>,
    /// SHA-1 of the certificate DER, uppercase hex, colon-separated (`CC:FB:…:25`).
    pub fingerprint: String,
    /// SHA-1 of the certificate DER, uppercase hex, no separators.
    pub thumbprint: String,
    /// Subject, issuer, serial and validity, as the dashboard shows them.
    pub facts: app::keys::CertificateFacts,
}

/// The JWK members that carry the public key: `n`/`e` (RSA), `crv`/`x`/`y` (EC), `crv`/`x` (OKP).
struct PublicNumbers {
    kind: KeyKind,
    kty: &'static str,
    n: Option<String>,
    e: Option<String>,
    crv: Option<&'static str>,
    x: Option<String>,
    y: Option<String>,
}

/// Reads the public key of a certificate Signet accepts: RSA (2048/3072/4096 bits), P-256 or
/// Ed25519.
fn public_numbers(spki: &SubjectPublicKeyInfoOwned) -> Result<PublicNumbers, MaterialError> {
    let unsupported = |what: &dyn fmt::Display| {
        MaterialError::Certificate(format!("not an RSA, P-256 or Ed25519 certificate: {what}"))
    };
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| unsupported(&"the public key is not a whole number of bytes"))?;
    let oid = spki.algorithm.oid;
    let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
    if oid == rfc5912::RSA_ENCRYPTION {
        let key = pkcs1::RsaPublicKey::from_der(bits).map_err(|e| unsupported(&e))?;
        let n = key.modulus.as_bytes();
        let size = n
            .first()
            .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
        // `UintRef` strips leading zeros, as a JWK wants.
        return Ok(PublicNumbers {
            kind: KeyKind::Rsa(u32::try_from(size).unwrap_or(u32::MAX)),
            kty: "RSA",
            n: b64(n),
            e: b64(key.public_exponent.as_bytes()),
            crv: None,
            x: None,
            y: None,
        });
    }
    if oid == rfc5912::ID_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
            .ok_or_else(|| unsupported(&"an EC key without a named curve"))?;
        // An uncompressed point: 0x04, then x and y of 32 bytes each (SEC 1 §2.3.3).
        match bits {
            [0x04, point @ ..] if curve == rfc5912::SECP_256_R_1 && point.len() == 64 => {
                return Ok(PublicNumbers {
                    kind: KeyKind::P256,
                    kty: "EC",
                    n: None,
                    e: None,
                    crv: Some("P-256"),
                    x: b64(&point[..32]),
                    y: b64(&point[32..]),
                });
            }
            _ => {
                return Err(unsupported(
                    &"an EC key that is not an uncompressed P-256 point",
                ));
            }
        }
    }
    if oid == rfc8410::ID_ED_25519 && bits.len() == 32 {
        return Ok(PublicNumbers {
            kind: KeyKind::Ed25519,
            kty: "OKP",
            n: None,
            e: None,
            crv: Some("Ed25519"),
            x: b64(bits),
            y: None,
        });
    }
    Err(unsupported(&format_args!("algorithm {oid}")))
}

impl PublicMaterial {
    /// Derives every public form from the certificate of a key that signs `alg`; fails if the
    /// DER is not a certificate for a key of a type Signet issues, or its key cannot sign `alg`.
    ///
    /// All encodings use `cert_der` exactly as given (it is never re-encoded), so the
    /// fingerprint, `x5c` and PEM always describe the stored certificate.
    pub fn from_certificate(
        kid: &str,
        alg: SigningAlg,
        cert_der: &[u8],
    ) -> Result<Self, MaterialError> {
        let cert = Certificate::from_der(cert_der).map_err(cert_error)?;
        let spki = &cert.tbs_certificate.subject_public_key_info;
        let numbers = public_numbers(spki)?;
        if !numbers.kind.signs(alg) {
            return Err(MaterialError::Certificate(format!(
                "a {} key cannot sign {alg}",
                numbers.kind
            )));
        }
        let public_key_info_der = spki.to_der().map_err(cert_error)?;
        let facts = certificate_facts(&cert);

        let sha1 = Sha1::digest(cert_der);
        let hex: Vec<String> = sha1.iter().map(|b| format!("{b:02X}")).collect();
        // Made again on demand (`pkcs7_pem`); wrapped once here so that it cannot fail then.
        certs_only_pkcs7(cert)?;

        Ok(Self {
            kid: kid.to_owned(),
            alg,
            kind: numbers.kind,
            cert_der: cert_der.to_vec(),
            public_key_info_der,
            fingerprint: hex.join(":"),
            thumbprint: hex.concat(),
            facts,
        })
    }

    /// The key as published in the JWKS. Made when asked for (once per key, when the key set
    /// first publishes it), not kept: the published key keeps its JSON.
    pub fn jwk(&self) -> Result<Jwk, MaterialError> {
        let spki =
            SubjectPublicKeyInfoOwned::from_der(&self.public_key_info_der).map_err(cert_error)?;
        let numbers = public_numbers(&spki)?;
        Ok(Jwk {
            alg: self.alg.as_str().to_owned(),
            kty: numbers.kty.to_owned(),
            use_: "sig".to_owned(),
            n: numbers.n,
            e: numbers.e,
            crv: numbers.crv.map(str::to_owned),
            x: numbers.x,
            y: numbers.y,
            kid: self.kid.clone(),
            x5t: URL_SAFE_NO_PAD.encode(Sha1::digest(&self.cert_der)),
            x5c: vec![STANDARD.encode(&self.cert_der)],
        })
    }

    // The PEM forms are made when asked for (a download, a key list built once per change),
    // not kept: at a thousand keys they were 3.7 MB of the key set in memory.

    /// PEM `CERTIFICATE`, 64-character base64 lines, CRLF line endings, ends with CRLF.
    pub fn cert_pem(&self) -> String {
        pem_armour("CERTIFICATE", &self.raw_pem())
    }

    /// The base64 lines of [`cert_pem`](Self::cert_pem) without the BEGIN/END lines, CRLF,
    /// ends with CRLF.
    pub fn raw_pem(&self) -> String {
        pem_body(&self.cert_der)
    }

    /// PEM `PKCS7` of a certs-only SignedData holding this certificate, CRLF; byte for byte
    /// what `openssl crl2pkcs7 -nocrl -certfile cert.pem` prints, bar the line endings.
    pub fn pkcs7_pem(&self) -> String {
        // `from_certificate` parsed and wrapped this very certificate: neither step can fail
        // now, and an empty string is never seen.
        Certificate::from_der(&self.cert_der)
            .map_err(cert_error)
            .and_then(certs_only_pkcs7)
            .map(|der| pem_armour("PKCS7", &pem_body(&der)))
            .unwrap_or_default()
    }
}

/// What a certificate says of itself.
fn certificate_facts(cert: &Certificate) -> app::keys::CertificateFacts {
    let tbs = &cert.tbs_certificate;
    let iso = |time: &x509_cert::time::Time| {
        let since_epoch = time.to_unix_duration();
        chrono::DateTime::<chrono::Utc>::UNIX_EPOCH
            .checked_add_signed(chrono::Duration::from_std(since_epoch).unwrap_or_default())
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    let serial: Vec<String> = tbs
        .serial_number
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    app::keys::CertificateFacts {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        serial: serial.join(":"),
        not_before: iso(&tbs.validity.not_before),
        not_after: iso(&tbs.validity.not_after),
    }
}

/// One JSON Web Key as published in the JWKS (RFC 7517, 7518 §6, RFC 8037).
///
/// Field order matters and is the declaration order: an RSA key serialises exactly as
/// `{"alg":"RS256","kty":"RSA","use":"sig","n":…,"e":"AQAB","kid":…,"x5t":…,"x5c":[…]}`, a
/// P-256 key as `{"alg":"ES256","kty":"EC","use":"sig","crv":"P-256","x":…,"y":…,"kid":…,…}`,
/// an Ed25519 key as `{"alg":"EdDSA","kty":"OKP","use":"sig","crv":"Ed25519","x":…,"kid":…,…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `RS256`, `PS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// RSA: the modulus, big-endian without leading zeros, base64url without padding.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// RSA: the public exponent, encoded like `n` (`AQAB` for 65537).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
    /// EC and OKP: `P-256` or `Ed25519`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// EC: the point's x coordinate (32 bytes); OKP: the public key. base64url, no padding.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// EC: the point's y coordinate (32 bytes), base64url, no padding.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
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
pub(super) fn common_name(tenant_domain: &str) -> Result<Name, MaterialError> {
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
