//! The textual and container encodings of a certificate: PEM (64-character base64 lines, CRLF)
//! and the certs-only PKCS#7 that `openssl crl2pkcs7 -nocrl` prints (docs/design.md §2).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerInfos};
use der::asn1::SetOfVec;
use der::oid::db::rfc5911;
use der::{Any, Encode as _};
use x509_cert::certificate::Certificate;

use super::material::MaterialError;

/// A degenerate ("certs-only") PKCS#7 SignedData holding `cert`, as `openssl crl2pkcs7 -nocrl`
/// writes it: version 1, no digest algorithms, id-data content without eContent, the
/// certificate, no crls field at all, and an empty signerInfos.
///
/// Built as a plain struct rather than with cms's `SignedDataBuilder`, whose `build` unwraps
/// internally; there is nothing to sign here, so the builder would add nothing.
pub fn certs_only_pkcs7(cert: Certificate) -> Result<Vec<u8>, MaterialError> {
    let encoding_error = |e: der::Error| MaterialError::Encoding(format!("PKCS#7: {e}"));
    let certificates =
        SetOfVec::try_from(vec![CertificateChoices::Certificate(cert)]).map_err(encoding_error)?;
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: rfc5911::ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(certificates)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::new()),
    };
    ContentInfo {
        content_type: rfc5911::ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(encoding_error)?,
    }
    .to_der()
    .map_err(encoding_error)
}

/// Standard base64 of `der` in 64-character lines, each ending in CRLF.
pub fn pem_body(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut body = String::with_capacity(b64.len() + b64.len() / 32 + 2);
    // Base64 output is ASCII, so splitting the bytes never cuts a character.
    for line in b64.as_bytes().chunks(64) {
        body.extend(line.iter().map(|&b| char::from(b)));
        body.push_str("\r\n");
    }
    body
}

/// Wraps a [`pem_body`] in RFC 7468 BEGIN/END lines, CRLF throughout.
pub fn pem_armour(label: &str, body: &str) -> String {
    format!("-----BEGIN {label}-----\r\n{body}-----END {label}-----\r\n")
}
