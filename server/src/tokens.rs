//! Access tokens: RS256 JWTs signed by the current key, verified against the keys Signet holds
//! right now — so a revoked key's tokens fail on the very next request.
//!
//! Signing goes through `jsonwebtoken` on `ring`, whose RSA private-key operation is
//! constant-time and blinded; the `rsa` crate (not constant-time, RUSTSEC-2023-0071) is used only
//! for generation and encodings.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde::{Deserialize, Serialize};

use crate::keys::material::{MaterialError, PrivateKey, PublicMaterial};

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
    key: EncodingKey,
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
        Ok(Self {
            kid: kid.to_owned(),
            key: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
        })
    }
}

/// The public keys tokens may be signed with: current, next and previous.
#[derive(Default, Clone)]
pub struct Verifiers {
    keys: HashMap<String, DecodingKey>,
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
        Ok(Self { keys })
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
        jti: crate::keys::material::new_kid(),
        gty: "client-credentials".to_owned(),
        azp: client_id.to_owned(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(signer.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims, &signer.key)
        .map_err(|e| TokenError::Signing(e.to_string()))?;
    Ok((token, claims))
}

/// Verifies a bearer token: RS256 only, signed by a current, next or previous key, issued by
/// this tenant for the Management API, and unexpired.
pub fn verify(
    verifiers: &Verifiers,
    tenant_domain: &str,
    token: &str,
) -> Result<AccessClaims, TokenError> {
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
    validation.leeway = 30;
    jsonwebtoken::decode::<AccessClaims>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| TokenError::Invalid(e.to_string()))
}
