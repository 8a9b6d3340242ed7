//! The signing service (SPEC §11): tokens of the platform's login service and Signet's own
//! access tokens, signed by the current key and counted in the usage ledger before they exist.

use std::{sync::Arc, time::Duration};

use app::keys::{KeyState, KeyUsage};
use chrono::{DateTime, Utc};

use super::{
    ServiceError,
    keys::KeyService,
    off_the_workers,
    tokens::{self, AccessClaims, Signer},
    usage::{FLUSH_EVERY, UsageLedger, usage_view},
};
use crate::domain::signing_policy::ApprovedClaims;

/// One signed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedToken {
    pub jwt: String,
    pub expires_at: DateTime<Utc>,
}

/// Tokens signed together, by one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBatch {
    pub kid: String,
    pub tokens: Vec<SignedToken>,
}

/// Cheap to clone; every clone is the same service.
#[derive(Clone, Debug)]
pub struct SigningService {
    keys: KeyService,
    ledger: UsageLedger,
}

impl SigningService {
    pub fn new(keys: KeyService, ledger: UsageLedger) -> Self {
        Self { keys, ledger }
    }

    fn signer(&self) -> Result<Arc<Signer>, ServiceError> {
        self.keys
            .published()
            .signer
            .clone()
            .ok_or(ServiceError::NoSigner)
    }

    /// Signs approved claims with the current key.
    pub async fn sign(
        &self,
        approved: ApprovedClaims,
        now: DateTime<Utc>,
    ) -> Result<SignedBatch, ServiceError> {
        let signer = self.signer()?;
        self.ledger
            .record(&signer.kid, 1, approved.exp, now)
            .await?;
        let token = sign_one(&signer, &approved)?;
        Ok(SignedBatch {
            kid: signer.kid.clone(),
            tokens: vec![token],
        })
    }

    /// Signs every claim set with the same current key, on a blocking thread (a hundred RSA
    /// signatures take tens of milliseconds).
    pub async fn sign_batch(
        &self,
        approved: Vec<ApprovedClaims>,
        now: DateTime<Utc>,
    ) -> Result<SignedBatch, ServiceError> {
        let signer = self.signer()?;
        let Some(latest) = approved.iter().map(|a| a.exp).max() else {
            return Ok(SignedBatch {
                kid: signer.kid.clone(),
                tokens: Vec::new(),
            });
        };
        let count = u64::try_from(approved.len()).unwrap_or(u64::MAX);
        self.ledger.record(&signer.kid, count, latest, now).await?;
        let kid = signer.kid.clone();
        let tokens = off_the_workers(move || {
            approved
                .iter()
                .map(|a| sign_one(&signer, a))
                .collect::<Result<Vec<_>, _>>()
        })
        .await??;
        Ok(SignedBatch { kid, tokens })
    }

    /// Issues a Management API access token to `client_id` (the token endpoint's path).
    pub async fn issue_access_token(
        &self,
        client_id: &str,
        scopes: &[String],
        lifetime: Duration,
        now: DateTime<Utc>,
    ) -> Result<(String, AccessClaims), ServiceError> {
        let signer = self.signer()?;
        let claims =
            tokens::access_claims(self.keys.tenant_domain(), client_id, scopes, lifetime, now);
        self.ledger.record(&signer.kid, 1, claims.exp, now).await?;
        let token = signer
            .sign(&claims)
            .map_err(|e| ServiceError::Signing(e.to_string()))?;
        Ok((token, claims))
    }

    /// The usage of one key, valid or revoked; unknown kids are `KeyError::NotFound`.
    pub async fn usage(&self, kid: &str, now: DateTime<Utc>) -> Result<KeyUsage, ServiceError> {
        let key = self.keys.find(kid).await?;
        let usage = self.ledger.usage(std::slice::from_ref(&key.record.kid)).await?;
        let state = key.record.state;
        usage
            .first()
            .map(|u| usage_view(u, state, now))
            .ok_or(ServiceError::Interrupted)
    }

    /// The usage of each of these keys, in order.
    pub async fn usage_of(
        &self,
        keys: &[(String, KeyState)],
        now: DateTime<Utc>,
    ) -> Result<Vec<KeyUsage>, ServiceError> {
        let kids: Vec<String> = keys.iter().map(|(kid, _)| kid.clone()).collect();
        let usage = self.ledger.usage(&kids).await?;
        Ok(usage
            .iter()
            .zip(keys)
            .map(|(usage, (_, state))| usage_view(usage, *state, now))
            .collect())
    }

    /// Flushes the ledger (counts, and retired keys' reservations settled) once.
    pub async fn flush(&self) -> Result<(), ServiceError> {
        let published = self.keys.published();
        let current = published.signer.as_ref().map(|s| s.kid.as_str());
        self.ledger.flush(current).await
    }

    /// Flushes the ledger every [`FLUSH_EVERY`] until the task is dropped.
    pub fn spawn_flusher(&self) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(FLUSH_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = service.flush().await {
                    tracing::warn!(%error, "the usage ledger could not be flushed; will retry");
                }
            }
        })
    }
}

fn sign_one(signer: &Signer, approved: &ApprovedClaims) -> Result<SignedToken, ServiceError> {
    let jwt = signer
        .sign_json(
            approved.typ.as_deref(),
            approved.cty.as_deref(),
            &approved.claims,
        )
        .map_err(|e| ServiceError::Signing(e.to_string()))?;
    Ok(SignedToken {
        jwt,
        expires_at: DateTime::from_timestamp(approved.exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC),
    })
}
