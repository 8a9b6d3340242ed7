//! Access tokens: JWTs signed by the current key with its algorithm (RS256, PS256, ES256 or
//! EdDSA), verified against the keys Signet holds right now — so a revoked key's tokens fail on
//! the very next request — and only with the algorithm of the key the `kid` names.
//!
//! Signing and verification both use `aws-lc-rs` (AWS-LC, the library rustls defaults to), the
//! one engine for every private-key operation in Signet: its RSA is constant-time and blinded
//! and, on CPUs with AVX-512 IFMA, about 2.5× faster than `ring`'s (benches/hot_paths.rs). Key
//! pairs and public keys are parsed and checked once per key, not once per token.
//!
//! The JWS is parsed here rather than by a JWT library: Signet accepts exactly one shape (a
//! compact JWS with a kid, signed with that key's algorithm), so the parser is short and refuses
//! everything else.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use app::algorithm::SigningAlg;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA256, VerificationAlgorithm,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::IgnoredAny};

use crate::domain::material::{MaterialError, PrivateKey, PublicMaterial};

/// The `iss` of every token: `https://<tenant>/`.
pub fn issuer(tenant_domain: &str) -> String {
    format!("https://{tenant_domain}/")
}

/// The Management API's audience: `https://<tenant>/api/v2/`.
pub fn management_audience(tenant_domain: &str) -> String {
    format!("https://{tenant_domain}/api/v2/")
}

/// The current key, ready to sign. Debug never shows the key.
pub struct Signer {
    pub kid: String,
    pub alg: SigningAlg,
    key: PrivateKey,
    /// The token header, `{"typ":"JWT","alg":…,"kid":…}`, base64url-encoded.
    header: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}, <redacted>)", self.kid)
    }
}

impl Signer {
    /// A signer for `kid`, which signs `alg`, from its decrypted private key.
    pub fn new(kid: &str, alg: SigningAlg, private: &PrivateKey) -> Result<Self, MaterialError> {
        if !private.kind().signs(alg) {
            return Err(MaterialError::WrongAlgorithm {
                kind: private.kind(),
                alg,
            });
        }
        // A second handle on the same AWS-LC key, already checked by `PrivateKey`.
        let key = private.handle();
        // `typ` first, as tokens have always been written.
        #[derive(Serialize)]
        struct JwtHeader<'a> {
            typ: &'a str,
            alg: &'a str,
            kid: &'a str,
        }
        let header = serde_json::to_vec(&JwtHeader {
            typ: "JWT",
            alg: alg.as_str(),
            kid,
        })
        .map_err(|e| MaterialError::Encoding(e.to_string()))?;
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            key,
            header: URL_SAFE_NO_PAD.encode(header),
        })
    }

    /// A compact JWS of `claims`.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, TokenError> {
        let claims = serde_json::to_vec(claims).map_err(|e| TokenError::Signing(e.to_string()))?;
        self.sign_encoded(&self.header, &claims)
    }

    /// A compact JWS of already serialised `claims`, with the header `typ` (default
    /// `JWT`) and `cty` the caller chose; `alg` and `kid` are always Signet's.
    pub fn sign_json(
        &self,
        typ: Option<&str>,
        cty: Option<&str>,
        claims: &[u8],
    ) -> Result<String, TokenError> {
        if typ.is_none() && cty.is_none() {
            return self.sign_encoded(&self.header, claims);
        }
        #[derive(Serialize)]
        struct JwtHeader<'a> {
            typ: &'a str,
            alg: &'a str,
            kid: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            cty: Option<&'a str>,
        }
        let header = serde_json::to_vec(&JwtHeader {
            typ: typ.unwrap_or("JWT"),
            alg: self.alg.as_str(),
            kid: &self.kid,
            cty,
        })
        .map_err(|e| TokenError::Signing(e.to_string()))?;
        self.sign_encoded(&URL_SAFE_NO_PAD.encode(header), claims)
    }

    fn sign_encoded(&self, header: &str, claims: &[u8]) -> Result<String, TokenError> {
        // The signature is at most 512 bytes (RSA-4096), 683 in base64url.
        let mut token = String::with_capacity(header.len() + claims.len() * 4 / 3 + 692);
        token.push_str(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = self
            .key
            .sign(self.alg, token.as_bytes())
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// How AWS-LC verifies `alg` (RFC 7518 §3): RSA keys of 2048 to 8192 bits, P-256 signatures
/// in the fixed `r || s` form.
fn verification(alg: SigningAlg) -> &'static dyn VerificationAlgorithm {
    match alg {
        SigningAlg::RS256 => &RSA_PKCS1_2048_8192_SHA256,
        SigningAlg::PS256 => &RSA_PSS_2048_8192_SHA256,
        SigningAlg::ES256 => &ECDSA_P256_SHA256_FIXED,
        SigningAlg::EdDSA => &ED25519,
    }
}

/// How many verified tokens [`Verifiers`] remembers (about 1 KB each).
const ACCEPTED_TOKENS: usize = 1024;
/// Clock skew allowed on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 30;

/// One key's verifier: its kid, the one algorithm it verifies, and its public key, parsed and
/// checked once per key. Kept with the key as published, so a key set rebuilt after a change
/// gathers the verifiers it has rather than parsing or copying anything.
pub struct KeyVerifier {
    kid: Arc<str>,
    alg: SigningAlg,
    key: ParsedPublicKey,
}

impl KeyVerifier {
    pub fn new(public: &PublicMaterial) -> Result<Self, MaterialError> {
        let key = ParsedPublicKey::new(verification(public.alg), &public.public_key_info_der)
            .map_err(|e| MaterialError::Encoding(format!("public key: {e}")))?;
        Ok(Self {
            kid: public.kid.as_str().into(),
            alg: public.alg,
            key,
        })
    }
}

impl std::fmt::Debug for KeyVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVerifier")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The same kid and algorithm: the same key, since a kid names one key's material for good.
impl PartialEq for KeyVerifier {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.alg == other.alg
    }
}

impl Eq for KeyVerifier {}

/// The public keys tokens may be signed with: current, next and previous.
///
/// A token that verified is remembered with its claims, so a client calling again with the same
/// token costs a lookup instead of an RSA verification (28 µs). The memory belongs to this key
/// set: every key change builds new `Verifiers`, so a revoked key's tokens fail at once; expiry
/// is checked on every use.
#[derive(Default, Clone)]
pub struct Verifiers {
    /// Each valid key's verifier by kid, shared with the key as published.
    keys: HashMap<Arc<str>, Arc<KeyVerifier>>,
    /// Shared with the callers they answer for: a hit copies no claim.
    accepted: Arc<RwLock<HashMap<String, Arc<AccessClaims>>>>,
}

impl std::fmt::Debug for Verifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.keys.keys()).finish()
    }
}

impl Verifiers {
    /// Verifiers for the given valid keys, each parsed.
    pub fn new<'a>(
        keys: impl IntoIterator<Item = &'a PublicMaterial>,
    ) -> Result<Self, MaterialError> {
        let parsed = keys
            .into_iter()
            .map(|public| KeyVerifier::new(public).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::of(&parsed))
    }

    /// Verifiers for the valid keys whose verifiers are `keys` (a thousand keys: a thousand
    /// reference counts and hashes, no parsing, no copy). Tokens verified before are verified
    /// again: a key may be gone.
    pub fn of<'a>(keys: impl IntoIterator<Item = &'a Arc<KeyVerifier>>) -> Self {
        Self {
            keys: keys
                .into_iter()
                .map(|verifier| (Arc::clone(&verifier.kid), Arc::clone(verifier)))
                .collect(),
            accepted: Arc::default(),
        }
    }

    /// The claims of `token` if it verified before and has not expired since.
    fn remembered(&self, token: &str, now: i64) -> Option<Arc<AccessClaims>> {
        let accepted = self
            .accepted
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let claims = accepted.get(token)?;
        let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(i64::MAX);
        (claims.exp.saturating_add(leeway) >= now).then(|| Arc::clone(claims))
    }

    fn remember(&self, token: &str, claims: &Arc<AccessClaims>) {
        let mut accepted = self
            .accepted
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Full: start over rather than track ages; the next call of each client verifies again.
        if accepted.len() >= ACCEPTED_TOKENS {
            accepted.clear();
        }
        accepted.insert(token.to_owned(), Arc::clone(claims));
    }
}

/// The claims of a Management API access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub scope: String,
    pub jti: String,
    pub gty: String,
    pub azp: String,
}

impl AccessClaims {
    /// The client the token was issued to.
    pub fn client_id(&self) -> &str {
        &self.azp
    }

    /// The granted scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_whitespace()
    }
}

/// Why a token cannot be issued or is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no current signing key is loaded")]
    NoSigner,
    #[error("token signing failed: {0}")]
    Signing(String),
    #[error("the token's signing key is not a valid key of this tenant")]
    UnknownKey,
    /// A genuine token of this tenant whose `exp` (plus the leeway) has passed.
    #[error("the token has expired")]
    Expired,
    #[error("the token is not a valid access token for this API: {0}")]
    Invalid(String),
}

/// The claims of a client-credentials access token for the Management API, issued at `now`.
pub fn access_claims(
    tenant_domain: &str,
    client_id: &str,
    scopes: &[String],
    lifetime: Duration,
    now: DateTime<Utc>,
) -> AccessClaims {
    let iat = now.timestamp();
    AccessClaims {
        iss: issuer(tenant_domain),
        sub: format!("{client_id}@clients"),
        aud: management_audience(tenant_domain),
        iat,
        exp: iat.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
        scope: scopes.join(" "),
        jti: crate::domain::material::new_kid(),
        gty: "client-credentials".to_owned(),
        azp: client_id.to_owned(),
    }
}

/// Issues a client-credentials access token for the Management API (no usage is recorded:
/// the server issues through the signing service, which does).
pub fn issue(
    signer: &Signer,
    tenant_domain: &str,
    client_id: &str,
    scopes: &[String],
    lifetime: Duration,
    now: DateTime<Utc>,
) -> Result<(String, AccessClaims), TokenError> {
    let claims = access_claims(tenant_domain, client_id, scopes, lifetime, now);
    let token = signer.sign(&claims)?;
    Ok((token, claims))
}

/// Verifies a bearer token: signed by a current, next or previous key with that key's own
/// algorithm (never the one the header would choose: algorithm confusion), issued by
/// this tenant for the Management API, and unexpired at `now`.
pub fn verify(
    verifiers: &Verifiers,
    tenant_domain: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Arc<AccessClaims>, TokenError> {
    verify_at(verifiers, tenant_domain, token, now.timestamp())
}

/// The JOSE header members Signet reads. Others are ignored, as RFC 7515 allows, except `crit`:
/// it names extensions the verifier must understand, and Signet understands none.
/// A member given twice is refused (serde reports a duplicate field).
#[derive(Deserialize)]
struct JwsHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Read only so a non-string `typ` is refused; any string is fine.
    #[serde(default, rename = "typ")]
    _typ: Option<String>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// The one optional time claim [`AccessClaims`] does not carry.
#[derive(Deserialize)]
struct NotBefore {
    #[serde(default)]
    nbf: Option<f64>,
}

/// Parses a JSON object into `T`. serde's derived structs also accept a JSON array (the fields
/// by position), which neither a JOSE header nor a claims set may be.
fn json_object<'a, T: Deserialize<'a>>(json: &'a [u8], what: &str) -> Result<T, TokenError> {
    if !json.trim_ascii_start().starts_with(b"{") {
        return Err(TokenError::Invalid(format!("{what}: not a JSON object")));
    }
    serde_json::from_slice(json).map_err(|e| TokenError::Invalid(format!("{what}: {e}")))
}

/// [`verify`] at the given Unix time, in seconds.
///
/// The checks run in a fixed order (the order `jsonwebtoken` used, so callers see the same
/// errors): the shape and the header, the key, the signature, then the claims, with expiry
/// before the issuer and the audience.
fn verify_at(
    verifiers: &Verifiers,
    tenant_domain: &str,
    token: &str,
    now: i64,
) -> Result<Arc<AccessClaims>, TokenError> {
    if let Some(claims) = verifiers.remembered(token, now) {
        return Ok(claims);
    }
    let invalid = |reason: &str| TokenError::Invalid(reason.to_owned());
    // Compact serialisation: exactly three base64url parts, no padding.
    let (message, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| invalid("not a compact JWS"))?;
    let (header, payload) = message
        .split_once('.')
        .filter(|(_, payload)| !payload.contains('.'))
        .ok_or_else(|| invalid("not a compact JWS"))?;
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| TokenError::Invalid(format!("{what}: {e}")))
    };

    let header: JwsHeader = json_object(&decode(header, "header")?, "header")?;
    let alg = SigningAlg::parse(&header.alg)
        .ok_or_else(|| TokenError::Invalid(format!("algorithm {:?}", header.alg)))?;
    if header.crit.is_some() {
        return Err(invalid("critical header extensions"));
    }
    let KeyVerifier {
        alg: key_alg, key, ..
    } = header
        .kid
        .as_deref()
        .and_then(|kid| verifiers.keys.get(kid))
        .map(|verifier| &**verifier)
        .ok_or(TokenError::UnknownKey)?;
    if alg != *key_alg {
        return Err(TokenError::Invalid(format!(
            "algorithm {alg} is not the {key_alg} of the key it names"
        )));
    }
    key.verify_sig(message.as_bytes(), &decode(signature, "signature")?)
        .map_err(|_| invalid("bad signature"))?;

    let payload = decode(payload, "payload")?;
    let claims: AccessClaims = json_object(&payload, "claims")?;
    let NotBefore { nbf } = json_object(&payload, "nbf")?;
    let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(i64::MAX);
    // A NumericDate is never negative; such an `exp` is malformed, not merely expired.
    if claims.exp < 0 {
        return Err(invalid("exp is negative"));
    }
    if claims.exp < now.saturating_sub(leeway) {
        return Err(TokenError::Expired);
    }
    // A NumericDate may have a fraction; round it to the second, as `exp` is.
    if nbf.is_some_and(|nbf| nbf.round() > now.saturating_add(leeway) as f64) {
        return Err(invalid("not valid yet (nbf)"));
    }
    if claims.iss != issuer(tenant_domain) {
        return Err(invalid("issuer"));
    }
    if claims.aud != management_audience(tenant_domain) {
        return Err(invalid("audience"));
    }
    let claims = Arc::new(claims);
    verifiers.remember(token, &claims);
    Ok(claims)
}

#[cfg(test)]
#[expect(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::material::self_signed_certificate;

    const TENANT: &str = "tokens.signet.test";

    fn fixture(pem: &str, kid: &str) -> (Signer, PublicMaterial) {
        fixture_for(SigningAlg::RS256, pem, kid)
    }

    fn fixture_for(alg: SigningAlg, pem: &str, kid: &str) -> (Signer, PublicMaterial) {
        let private = PrivateKey::from_pkcs8_pem(pem).unwrap();
        let cert = self_signed_certificate(&private, TENANT, Utc::now()).unwrap();
        let public = PublicMaterial::from_certificate(kid, alg, &cert).unwrap();
        (Signer::new(kid, alg, &private).unwrap(), public)
    }

    #[test]
    fn every_algorithm_signs_and_verifies_with_its_own_key_only() {
        let cases = [
            (
                SigningAlg::RS256,
                include_str!("../../fixtures/rsa-3072-a.pk8.pem"),
                512,
            ),
            (
                SigningAlg::PS256,
                include_str!("../../fixtures/rsa-4096-a.pk8.pem"),
                683,
            ),
            (
                SigningAlg::ES256,
                include_str!("../../fixtures/p256-a.pk8.pem"),
                86,
            ),
            (
                SigningAlg::EdDSA,
                include_str!("../../fixtures/ed25519-a.pk8.pem"),
                86,
            ),
        ];
        let scopes = ["read:signing_keys".to_owned()];
        let lifetime = Duration::from_secs(600);
        for (alg, pem, signature_chars) in cases {
            let (signer, public) = fixture_for(alg, pem, "kid-x");
            let verifiers = Verifiers::new([&public]).unwrap();
            let (token, claims) =
                issue(&signer, TENANT, "c", &scopes, lifetime, Utc::now()).unwrap();
            assert_eq!(part(&token, 0)["alg"], alg.as_str());
            assert_eq!(
                token.rsplit('.').next().unwrap().len(),
                signature_chars,
                "{alg}"
            );
            assert_eq!(
                *verify(&verifiers, TENANT, &token, Utc::now()).unwrap(),
                claims
            );
        }
        // A key only ever signs the algorithm it was made for.
        let p256 = PrivateKey::from_pkcs8_pem(cases[2].1).unwrap();
        assert!(Signer::new("k", SigningAlg::RS256, &p256).is_err());
        assert!(Signer::new("k", SigningAlg::EdDSA, &p256).is_err());
    }

    #[test]
    fn a_header_naming_another_algorithm_than_its_keys_is_refused() {
        // One RSA key, published for RS256: a PSS signature by that very key is mathematically
        // sound, and still refused, because the key is not a PS256 key.
        let pem = include_str!("../../fixtures/rsa-2048-a.pk8.pem");
        let (rs256, public) = fixture_for(SigningAlg::RS256, pem, "kid-a");
        let (ps256, _) = fixture_for(SigningAlg::PS256, pem, "kid-a");
        let now = Utc::now().timestamp();
        let claims = claims_json(now, serde_json::json!({}));
        let genuine = sign_raw(&rs256, r#"{"alg":"RS256","kid":"kid-a"}"#, &claims);
        assert!(check(&public, &genuine, now).is_ok());
        let confused = sign_raw(&ps256, r#"{"alg":"PS256","kid":"kid-a"}"#, &claims);
        let refused = check(&public, &confused, now).unwrap_err().to_string();
        assert!(refused.contains("PS256 is not the RS256"), "{refused}");
        // An EdDSA header on an RS256 signature fails the same way.
        let relabelled = sign_raw(&rs256, r#"{"alg":"EdDSA","kid":"kid-a"}"#, &claims);
        assert!(check(&public, &relabelled, now).is_err());
        for alg in ["HS256", "none", "RS512", "ES384"] {
            let header = format!(r#"{{"alg":"{alg}","kid":"kid-a"}}"#);
            let token = sign_raw(&rs256, &header, &claims);
            assert!(matches!(
                check(&public, &token, now),
                Err(TokenError::Invalid(_))
            ));
        }
    }

    fn part(token: &str, index: usize) -> serde_json::Value {
        let part = token.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn issued_tokens_are_jws_that_verify_against_the_signing_key_only() {
        let (signer, public) = fixture(include_str!("../../fixtures/rsa-2048-a.pk8.pem"), "kid-a");
        let (_, other) = fixture(include_str!("../../fixtures/rsa-2048-b.pk8.pem"), "kid-a");
        let scopes = ["read:signing_keys".to_owned()];
        let lifetime = Duration::from_secs(600);
        let (token, claims) =
            issue(&signer, TENANT, "client-1", &scopes, lifetime, Utc::now()).unwrap();

        assert_eq!(
            part(&token, 0),
            serde_json::json!({"typ": "JWT", "alg": "RS256", "kid": "kid-a"})
        );
        assert_eq!(part(&token, 1)["azp"], "client-1");
        let verified = verify(
            &Verifiers::new([&public]).unwrap(),
            TENANT,
            &token,
            Utc::now(),
        )
        .unwrap();
        assert_eq!(*verified, claims);
        // Same kid, another key: the signature does not hold.
        assert!(
            verify(
                &Verifiers::new([&other]).unwrap(),
                TENANT,
                &token,
                Utc::now()
            )
            .is_err()
        );
        // A payload changed after signing does not hold either.
        let mut parts: Vec<&str> = token.split('.').collect();
        let widened = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&serde_json::json!({"scope": "delete:everything"})).unwrap(),
        );
        parts[1] = &widened;
        let tampered = parts.join(".");
        assert!(
            verify(
                &Verifiers::new([&public]).unwrap(),
                TENANT,
                &tampered,
                Utc::now()
            )
            .is_err()
        );
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_new_key_set_remembers_nothing() {
        let (signer, public) = fixture(include_str!("../../fixtures/rsa-2048-a.pk8.pem"), "kid-a");
        let (_, other) = fixture(include_str!("../../fixtures/rsa-2048-b.pk8.pem"), "kid-a");
        let verifiers = Verifiers::new([&public]).unwrap();
        let scopes = ["read:signing_keys".to_owned()];
        let (token, claims) = issue(
            &signer,
            TENANT,
            "client-1",
            &scopes,
            Duration::from_secs(60),
            Utc::now(),
        )
        .unwrap();
        let verified = verify(&verifiers, TENANT, &token, Utc::now()).unwrap();
        assert_eq!(*verified, claims);
        let remembered = verifiers.remembered(&token, claims.iat).unwrap();
        assert!(
            Arc::ptr_eq(&remembered, &verified),
            "the claims verified before, not a copy"
        );
        // Past `exp` and the leeway, the memory does not answer for it.
        assert_eq!(verifiers.remembered(&token, claims.exp + 31), None);
        // The key set after a change (here: the kid now names another key) remembers nothing,
        // so the token is checked again, and fails.
        assert!(
            verify(
                &Verifiers::new([&other]).unwrap(),
                TENANT,
                &token,
                Utc::now()
            )
            .is_err()
        );
    }

    /// A token over exactly these header and payload texts, signed by `signer`'s key.
    fn sign_raw(signer: &Signer, header: &str, payload: &str) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = signer.key.sign(signer.alg, message.as_bytes()).unwrap();
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Claims this tenant would issue at `now`, with `changes` on top (`null` removes a claim).
    fn claims_json(now: i64, changes: serde_json::Value) -> String {
        let mut claims = serde_json::json!({
            "iss": issuer(TENANT),
            "sub": "c@clients",
            "aud": management_audience(TENANT),
            "iat": now,
            "exp": now + 60,
            "scope": "read:signing_keys",
            "jti": "j",
            "gty": "client-credentials",
            "azp": "c",
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims.to_string()
    }

    /// Verified against a fresh key set, so no remembered token answers for it.
    fn check(public: &PublicMaterial, token: &str, now: i64) -> Result<AccessClaims, TokenError> {
        verify_at(&Verifiers::new([public]).unwrap(), TENANT, token, now).map(Arc::unwrap_or_clone)
    }

    #[test]
    fn expiry_is_its_own_error_after_the_leeway() {
        let (signer, public) = fixture(include_str!("../../fixtures/rsa-2048-a.pk8.pem"), "kid-a");
        let issued = Utc::now();
        let scopes = ["read:signing_keys".to_owned()];
        let (token, claims) = issue(
            &signer,
            TENANT,
            "client-1",
            &scopes,
            Duration::from_secs(60),
            issued,
        )
        .unwrap();
        assert_eq!(check(&public, &token, claims.exp + 30).unwrap(), claims);
        assert!(matches!(
            check(&public, &token, claims.exp + 31),
            Err(TokenError::Expired)
        ));
        // Expiry is checked before the issuer and the audience, as before.
        let now = issued.timestamp();
        let stale_elsewhere = sign_raw(
            &signer,
            r#"{"alg":"RS256","kid":"kid-a"}"#,
            &claims_json(
                now,
                serde_json::json!({"exp": now - 31, "iss": "https://x/"}),
            ),
        );
        assert!(matches!(
            check(&public, &stale_elsewhere, now),
            Err(TokenError::Expired)
        ));
        // A bad signature is never reported as expired.
        let other = fixture(include_str!("../../fixtures/rsa-2048-b.pk8.pem"), "kid-a").0;
        let forged = sign_raw(
            &other,
            r#"{"alg":"RS256","kid":"kid-a"}"#,
            &claims_json(now, serde_json::json!({"exp": now - 31})),
        );
        assert!(matches!(
            check(&public, &forged, now),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn the_header_must_be_rs256_with_a_known_kid_and_nothing_critical() {
        let (signer, public) = fixture(include_str!("../../fixtures/rsa-2048-a.pk8.pem"), "kid-a");
        let now = Utc::now().timestamp();
        let payload = claims_json(now, serde_json::json!({}));
        let invalid = [
            r#"{"alg":"none","kid":"kid-a"}"#,
            r#"{"alg":"HS256","kid":"kid-a"}"#,
            r#"{"alg":"rs256","kid":"kid-a"}"#,
            r#"{"alg":"RS512","kid":"kid-a"}"#,
            r#"{"alg":"RS256","alg":"RS256","kid":"kid-a"}"#,
            r#"{"alg":"RS256","kid":"kid-a","kid":"kid-a"}"#,
            r#"{"alg":"RS256","kid":"kid-a","crit":["exp"]}"#,
            r#"{"alg":"RS256","kid":"kid-a","typ":5}"#,
            r#"{"alg":"RS256","kid":1}"#,
            r#"{"alg":null,"kid":"kid-a"}"#,
            r#"{"kid":"kid-a"}"#,
            r#"["RS256","kid-a"]"#,
            r#"{"alg":"RS256","kid":"kid-a"}x"#,
        ];
        for header in invalid {
            let token = sign_raw(&signer, header, &payload);
            let result = check(&public, &token, now);
            assert!(
                matches!(result, Err(TokenError::Invalid(_))),
                "{header}: {result:?}"
            );
        }
        for header in [
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"RS256","kid":null}"#,
            r#"{"alg":"RS256","kid":"kid-b"}"#,
        ] {
            let token = sign_raw(&signer, header, &payload);
            assert!(
                matches!(check(&public, &token, now), Err(TokenError::UnknownKey)),
                "{header}"
            );
        }
        // Members Signet does not use are ignored.
        let token = sign_raw(
            &signer,
            r#"{"typ":"at+jwt","alg":"RS256","kid":"kid-a","x5t":"whatever","cty":"JWT"}"#,
            &payload,
        );
        assert!(check(&public, &token, now).is_ok());
    }

    #[test]
    fn the_claims_must_name_this_tenant_and_be_valid_now() {
        let (signer, public) = fixture(include_str!("../../fixtures/rsa-2048-a.pk8.pem"), "kid-a");
        let header = r#"{"alg":"RS256","kid":"kid-a"}"#;
        let now = Utc::now().timestamp();
        for (changes, accepted) in [
            (serde_json::json!({}), true),
            (serde_json::json!({"nbf": now + 30}), true),
            (serde_json::json!({"nbf": now as f64 + 30.4}), true),
            (serde_json::json!({"nbf": now + 31}), false),
            (serde_json::json!({"nbf": "now"}), false),
            (serde_json::json!({"exp": -1}), false),
            (serde_json::json!({"exp": 1.5e12}), false),
            (serde_json::json!({"exp": null}), false),
            (serde_json::json!({"sub": null}), false),
            (serde_json::json!({"iss": "https://evil.example/"}), false),
            (serde_json::json!({"iss": [issuer(TENANT)]}), false),
            (
                serde_json::json!({"aud": "https://evil.example/api/v2/"}),
                false,
            ),
            (
                serde_json::json!({"aud": [management_audience(TENANT)]}),
                false,
            ),
            (serde_json::json!({"scope": 42}), false),
        ] {
            let token = sign_raw(&signer, header, &claims_json(now, changes.clone()));
            let result = check(&public, &token, now);
            if accepted {
                assert!(result.is_ok(), "{changes}: {result:?}");
            } else {
                assert!(
                    matches!(result, Err(TokenError::Invalid(_))),
                    "{changes}: {result:?}"
                );
            }
        }
    }

    #[test]
    fn claims_by_position_are_refused() {
        let (signer, public) = fixture(include_str!("../../fixtures/rsa-2048-a.pk8.pem"), "kid-a");
        let now = Utc::now().timestamp();
        let positional = serde_json::json!([
            issuer(TENANT),
            "c@clients",
            management_audience(TENANT),
            now,
            now + 60,
            "read:signing_keys",
            "j",
            "client-credentials",
            "c"
        ]);
        let token = sign_raw(
            &signer,
            r#"{"alg":"RS256","kid":"kid-a"}"#,
            &positional.to_string(),
        );
        assert!(matches!(
            check(&public, &token, now),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn only_the_compact_serialisation_without_padding_is_read() {
        let (signer, public) = fixture(include_str!("../../fixtures/rsa-2048-a.pk8.pem"), "kid-a");
        let (token, _) = issue(
            &signer,
            TENANT,
            "client-1",
            &["read:signing_keys".to_owned()],
            Duration::from_secs(60),
            Utc::now(),
        )
        .unwrap();
        let now = Utc::now().timestamp();
        assert!(check(&public, &token, now).is_ok());
        let (message, signature) = token.rsplit_once('.').unwrap();
        for bad in [
            format!("{token}."),
            format!("{message}.{signature}="),
            format!("{message}.{signature}.{signature}"),
            format!(".{token}"),
            message.to_owned(),
            token.replace('-', "+").replace('_', "/"),
            String::new(),
        ] {
            if bad == token {
                continue;
            }
            assert!(
                matches!(check(&public, &bad, now), Err(TokenError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
