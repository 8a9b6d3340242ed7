//! Access tokens: RS256 JWTs signed by the current key, verified against the keys Signet holds
//! right now — so a revoked key's tokens fail on the very next request.
//!
//! Signing uses `aws-lc-rs` (AWS-LC, the library rustls defaults to), whose RSA private-key
//! operation is constant-time and blinded and, on CPUs with AVX-512 IFMA, about 2.5× faster than
//! `ring`'s (benches/hot_paths.rs). The `rsa` crate (not constant-time, RUSTSEC-2023-0071) is used
//! only for generation and encodings. The key pair is parsed and checked once per key, not once
//! per token. Verification goes through `jsonwebtoken` on `ring`.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use aws_lc_rs::{
    rand::SystemRandom,
    signature::{RSA_PKCS1_SHA256, RsaKeyPair},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde::{Deserialize, Serialize};

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
    key: RsaKeyPair,
    /// The token header, `{"typ":"JWT","alg":"RS256","kid":…}`, base64url-encoded.
    header: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}, <redacted>)", self.kid)
    }
}

impl Signer {
    /// A signer for `kid` from its decrypted private key.
    pub fn new(kid: &str, private: &PrivateKey) -> Result<Self, MaterialError> {
        let pkcs1 = private
            .rsa()
            .to_pkcs1_der()
            .map_err(|e| MaterialError::Encoding(format!("PKCS#1: {e}")))?;
        let key = RsaKeyPair::from_der(pkcs1.as_bytes())
            .map_err(|e| MaterialError::Encoding(format!("RSA key pair: {e}")))?;
        // The field order jsonwebtoken's `Header` uses, so tokens look the same as before.
        #[derive(Serialize)]
        struct JwtHeader<'a> {
            typ: &'a str,
            alg: &'a str,
            kid: &'a str,
        }
        let header = serde_json::to_vec(&JwtHeader {
            typ: "JWT",
            alg: "RS256",
            kid,
        })
        .map_err(|e| MaterialError::Encoding(e.to_string()))?;
        Ok(Self {
            kid: kid.to_owned(),
            key,
            header: URL_SAFE_NO_PAD.encode(header),
            rng: SystemRandom::new(),
        })
    }

    /// A compact JWS (RS256) of `claims`.
    fn sign(&self, claims: &impl Serialize) -> Result<String, TokenError> {
        let claims = serde_json::to_vec(claims).map_err(|e| TokenError::Signing(e.to_string()))?;
        let mut token = String::with_capacity(
            self.header.len() + claims.len() * 4 / 3 + self.key.public_modulus_len() * 4 / 3 + 8,
        );
        token.push_str(&self.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| TokenError::Signing("RSA signing failed".into()))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// How many verified tokens [`Verifiers`] remembers (about 1 KB each).
const ACCEPTED_TOKENS: usize = 1024;
/// Clock skew allowed on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 30;

/// The public keys tokens may be signed with: current, next and previous.
///
/// A token that verified is remembered with its claims, so a client calling again with the same
/// token costs a lookup instead of an RSA verification (28 µs). The memory belongs to this key
/// set: every key change builds new `Verifiers`, so a revoked key's tokens fail at once; expiry
/// is checked on every use.
#[derive(Default, Clone)]
pub struct Verifiers {
    keys: HashMap<String, DecodingKey>,
    accepted: Arc<RwLock<HashMap<String, AccessClaims>>>,
}

impl std::fmt::Debug for Verifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.keys.keys()).finish()
    }
}

impl Verifiers {
    /// Verifiers for the given valid keys.
    pub fn new<'a>(
        keys: impl IntoIterator<Item = &'a PublicMaterial>,
    ) -> Result<Self, MaterialError> {
        let keys = keys
            .into_iter()
            .map(|public| {
                DecodingKey::from_rsa_components(&public.jwk.n, &public.jwk.e)
                    .map(|key| (public.kid.clone(), key))
                    .map_err(|e| MaterialError::Encoding(format!("JWK: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            keys,
            accepted: Arc::default(),
        })
    }

    /// The claims of `token` if it verified before and has not expired since.
    fn remembered(&self, token: &str, now: i64) -> Option<AccessClaims> {
        let accepted = self
            .accepted
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let claims = accepted.get(token)?;
        let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(i64::MAX);
        (claims.exp.saturating_add(leeway) >= now).then(|| claims.clone())
    }

    fn remember(&self, token: &str, claims: &AccessClaims) {
        let mut accepted = self
            .accepted
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Full: start over rather than track ages; the next call of each client verifies again.
        if accepted.len() >= ACCEPTED_TOKENS {
            accepted.clear();
        }
        accepted.insert(token.to_owned(), claims.clone());
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
    #[error("the token is not a valid RS256 access token for this API: {0}")]
    Invalid(String),
}

/// Issues a client-credentials access token for the Management API.
pub fn issue(
    signer: &Signer,
    tenant_domain: &str,
    client_id: &str,
    scopes: &[String],
    lifetime: Duration,
    now: DateTime<Utc>,
) -> Result<(String, AccessClaims), TokenError> {
    let iat = now.timestamp();
    let claims = AccessClaims {
        iss: issuer(tenant_domain),
        sub: format!("{client_id}@clients"),
        aud: management_audience(tenant_domain),
        iat,
        exp: iat.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
        scope: scopes.join(" "),
        jti: crate::domain::material::new_kid(),
        gty: "client-credentials".to_owned(),
        azp: client_id.to_owned(),
    };
    let token = signer.sign(&claims)?;
    Ok((token, claims))
}

/// Verifies a bearer token: RS256 only, signed by a current, next or previous key, issued by
/// this tenant for the Management API, and unexpired.
pub fn verify(
    verifiers: &Verifiers,
    tenant_domain: &str,
    token: &str,
) -> Result<AccessClaims, TokenError> {
    if let Some(claims) = verifiers.remembered(token, Utc::now().timestamp()) {
        return Ok(claims);
    }
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(TokenError::Invalid(format!("algorithm {:?}", header.alg)));
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| verifiers.keys.get(kid))
        .ok_or(TokenError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer(tenant_domain)]);
    validation.set_audience(&[management_audience(tenant_domain)]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECS;
    let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| TokenError::Invalid(e.to_string()))?;
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
        let private = PrivateKey::from_pkcs8_pem(pem).unwrap();
        let cert = self_signed_certificate(&private, TENANT, Utc::now()).unwrap();
        let public = PublicMaterial::from_certificate(kid, &cert).unwrap();
        (Signer::new(kid, &private).unwrap(), public)
    }

    fn part(token: &str, index: usize) -> serde_json::Value {
        let part = token.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn issued_tokens_are_rs256_jws_that_verify_against_the_signing_key_only() {
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
        let verified = verify(&Verifiers::new([&public]).unwrap(), TENANT, &token).unwrap();
        assert_eq!(verified, claims);
        // Same kid, another key: the signature does not hold.
        assert!(verify(&Verifiers::new([&other]).unwrap(), TENANT, &token).is_err());
        // A payload changed after signing does not hold either.
        let mut parts: Vec<&str> = token.split('.').collect();
        let widened = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&serde_json::json!({"scope": "delete:everything"})).unwrap(),
        );
        parts[1] = &widened;
        let tampered = parts.join(".");
        assert!(verify(&Verifiers::new([&public]).unwrap(), TENANT, &tampered).is_err());
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
        assert_eq!(verify(&verifiers, TENANT, &token).unwrap(), claims);
        assert_eq!(
            verifiers.remembered(&token, claims.iat),
            Some(claims.clone())
        );
        // Past `exp` and the leeway, the memory does not answer for it.
        assert_eq!(verifiers.remembered(&token, claims.exp + 31), None);
        // The key set after a change (here: the kid now names another key) remembers nothing,
        // so the token is checked again, and fails.
        assert!(verify(&Verifiers::new([&other]).unwrap(), TENANT, &token).is_err());
    }
}
