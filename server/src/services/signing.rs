//! The signing service (SPEC §11): tokens of the platform's login service and Signet's own
//! access tokens, signed by the current key and counted in the usage ledger before they exist.

use std::{sync::Arc, time::Duration};

use app::{
    algorithm::SigningAlg,
    keys::{KeyState, KeyUsage},
};
use chrono::{DateTime, Utc};

use super::{
    ServiceError,
    keys::KeyService,
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
    pub alg: SigningAlg,
    pub tokens: Vec<SignedToken>,
}

/// Cheap to clone; every clone is the same service.
#[derive(Clone, Debug)]
pub struct SigningService {
    keys: KeyService,
    ledger: UsageLedger,
    /// Threads that do the RSA work, one per core.
    pool: SigningThreads,
}

impl SigningService {
    pub fn new(keys: KeyService, ledger: UsageLedger) -> Self {
        Self {
            keys,
            ledger,
            pool: SigningThreads::of_the_process(),
        }
    }

    /// Runs signing work with `alg`: RSA on one of the signing threads; ECDSA and Ed25519 in
    /// place, since a P-256 or Ed25519 signature (15 to 30 µs) costs less than the hand-over to
    /// a signing thread and back (measured: the sign API at 25% of `openssl speed ecdsap256`
    /// through the threads).
    async fn on_a_core<T: Send + 'static>(
        &self,
        alg: SigningAlg,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        if alg.is_rsa() {
            self.pool.run(work).await
        } else {
            Ok(work())
        }
    }

    fn signer(&self) -> Result<Arc<Signer>, ServiceError> {
        self.keys
            .published()
            .signer
            .clone()
            .ok_or(ServiceError::NoSigner)
    }

    /// Signs approved claims with the current key (RSA on a signing thread); returns the key's
    /// kid and the token.
    pub async fn sign(
        &self,
        approved: ApprovedClaims,
        now: DateTime<Utc>,
    ) -> Result<(String, SigningAlg, SignedToken), ServiceError> {
        let signer = self.signer()?;
        self.ledger
            .record(&signer.kid, 1, approved.exp, now)
            .await?;
        let (kid, alg) = (signer.kid.clone(), signer.alg);
        let token = self
            .on_a_core(alg, move || sign_one(&signer, &approved))
            .await??;
        self.counted(alg, "sign", 1);
        Ok((kid, alg, token))
    }

    /// Signs every claim set with the same current key, on one signing thread.
    pub async fn sign_batch(
        &self,
        approved: Vec<ApprovedClaims>,
        now: DateTime<Utc>,
    ) -> Result<SignedBatch, ServiceError> {
        let signer = self.signer()?;
        let Some(latest) = approved.iter().map(|a| a.exp).max() else {
            return Ok(SignedBatch {
                kid: signer.kid.clone(),
                alg: signer.alg,
                tokens: Vec::new(),
            });
        };
        let count = u64::try_from(approved.len()).unwrap_or(u64::MAX);
        self.ledger.record(&signer.kid, count, latest, now).await?;
        let (kid, alg) = (signer.kid.clone(), signer.alg);
        // A batch of curve signatures is milliseconds of work: a signing thread takes it, so the
        // async workers keep answering the network.
        let tokens = self
            .pool
            .run(move || {
                approved
                    .iter()
                    .map(|a| sign_one(&signer, a))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await??;
        self.counted(alg, "sign_batch", count);
        Ok(SignedBatch { kid, alg, tokens })
    }

    /// `count` tokens signed with `alg` through `path`, for the metrics.
    fn counted(&self, alg: SigningAlg, path: &str, count: u64) {
        let tenant = self.keys.tenant_domain();
        self.keys.metrics().tokens_signed(tenant, alg, path, count);
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
        let alg = signer.alg;
        let claims =
            tokens::access_claims(self.keys.tenant_domain(), client_id, scopes, lifetime, now);
        self.ledger.record(&signer.kid, 1, claims.exp, now).await?;
        let (token, claims) = self
            .on_a_core(alg, move || {
                let token = signer.sign(&claims);
                (token, claims)
            })
            .await?;
        let token = token.map_err(|e| ServiceError::Signing(e.to_string()))?;
        self.counted(alg, "oauth_token", 1);
        Ok((token, claims))
    }

    /// The usage of one key, valid or revoked; unknown kids are `KeyError::NotFound`.
    pub async fn usage(&self, kid: &str, now: DateTime<Utc>) -> Result<KeyUsage, ServiceError> {
        let key = self.keys.find(kid).await?;
        let usage = self
            .ledger
            .usage(std::slice::from_ref(&key.record.kid))
            .await?;
        let state = key.record.state;
        usage
            .first()
            .map(|u| usage_view(u, state, now))
            .ok_or(ServiceError::Interrupted)
    }

    /// The usage of each of these keys, in order, as the dashboard and the CLI show it (other
    /// processes' rows as read within the last second: [`UsageLedger::usage_shown`]).
    pub async fn usage_of(
        &self,
        keys: &[(String, KeyState)],
        now: DateTime<Utc>,
    ) -> Result<Vec<KeyUsage>, ServiceError> {
        let kids: Vec<String> = keys.iter().map(|(kid, _)| kid.clone()).collect();
        let usage = self.ledger.usage_shown(&kids, now).await?;
        Ok(usage
            .iter()
            .zip(keys)
            .map(|(usage, (_, state))| usage_view(usage, *state, now))
            .collect())
    }

    /// For each of these keys, the instant (Unix seconds) after which no token it signed is
    /// valid; `None` for a key that never signed.
    pub async fn live_tokens_until(
        &self,
        kids: &[String],
    ) -> Result<Vec<Option<i64>>, ServiceError> {
        let usage = self.ledger.usage(kids).await?;
        Ok(usage.into_iter().map(|u| u.live_tokens_until).collect())
    }

    /// Flushes the ledger (counts, and retired keys' reservations settled) once.
    pub async fn flush(&self) -> Result<(), ServiceError> {
        let published = self.keys.published();
        let current = published.signer.as_ref().map(|s| s.kid.as_str());
        self.ledger.flush(current).await
    }

    /// Flushes the ledgers of several tenants' signing services together: one commit for every
    /// count that changed ([`UsageLedger::flush_together`]).
    pub async fn flush_together(services: &[SigningService]) -> Result<(), ServiceError> {
        let published: Vec<_> = services.iter().map(|s| s.keys.published()).collect();
        let ledgers: Vec<_> = services
            .iter()
            .zip(&published)
            .map(|(service, published)| {
                let current = published.signer.as_ref().map(|s| s.kid.as_str());
                (&service.ledger, current)
            })
            .collect();
        UsageLedger::flush_together(&ledgers).await
    }

    /// Flushes the ledgers of the services `services` names at each tick, together, every
    /// [`FLUSH_EVERY`] until the task is dropped: one task and one commit a second for a
    /// process, however many tenants it serves.
    pub fn spawn_flusher_of(
        services: impl Fn() -> Vec<SigningService> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(FLUSH_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = Self::flush_together(&services()).await {
                    tracing::warn!(%error, "the usage ledger could not be flushed; will retry");
                }
            }
        })
    }
}

/// A unit of signing work for a signing thread.
type Job = Box<dyn FnOnce() + Send>;

/// One thread per core for signing work (RSA, and batches), taken from one queue.
///
/// An RSA-2048 signature takes half a millisecond. Signed on the async workers, it leaves them
/// deaf to the network while it runs and the cores partly idle (measured: 54% of the openssl
/// ceiling). Signed on tokio's blocking pool, sixteen connections make sixteen threads sign at
/// once on two cores, evicting each other's caches (61%). A fixed thread per core that picks
/// the next signature as soon as it finishes one signs at the rate openssl does, and the async
/// workers keep answering the network. The threads live as long as the process.
#[derive(Clone)]
struct SigningThreads {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl std::fmt::Debug for SigningThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningThreads")
    }
}

impl SigningThreads {
    /// The process's signing threads, started by the first signing service: one set for every
    /// tenant, as many threads as cores, however many tenants a process serves.
    fn of_the_process() -> Self {
        static THREADS: std::sync::OnceLock<SigningThreads> = std::sync::OnceLock::new();
        THREADS.get_or_init(Self::start).clone()
    }

    fn start() -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        for n in 0..cores {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("signet-sign-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held while waiting: the one thread waiting takes the next
                        // job, the others wait their turn for the lock.
                        let job = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a signing thread");
            }
        }
        Self { jobs }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| ServiceError::Interrupted)?;
        result.await.map_err(|_| ServiceError::Interrupted)
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
