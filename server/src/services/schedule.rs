//! The rotation schedule of one tenant (SPEC §12): what it will do and when, and the tick that
//! does what is due. The rules are the domain's (`domain/schedule.rs`); exactly-once comes from
//! the key set's lock: a due rotation is checked again inside the transaction that makes it,
//! and a key can be revoked only once.

use std::sync::{Arc, Mutex, PoisonError};

use app::{
    keys::KeyState,
    schedule::{RotationSchedule, ScheduledRevocation},
};
use chrono::{DateTime, TimeDelta, Utc};

use super::{
    ServiceError,
    key_change::PolicyUpdate,
    keys::KeyService,
    published::{Published, iso},
    signing::SigningService,
};
use crate::domain::{
    Actor,
    lifecycle::KeyError,
    schedule::{Schedule, manual_wait},
};

/// How long a plan is reused by the tick before the ledger is read again: revocation times
/// only move earlier as processes settle their reservations, never later.
const PLAN_REUSED_FOR: TimeDelta = TimeDelta::seconds(10);

/// What the schedule will do, as of one key-set version and one read of the usage ledger.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchedulePlan {
    /// When the schedule rotates next.
    pub rotation_at: Option<DateTime<Utc>>,
    /// Each previous key the schedule will revoke, and when; soonest first.
    pub revocations: Vec<(String, DateTime<Utc>)>,
}

impl SchedulePlan {
    /// The first moment the schedule changes the key set.
    pub fn next_change(&self) -> Option<DateTime<Utc>> {
        let first_revocation = self.revocations.first().map(|(_, at)| *at);
        match (self.rotation_at, first_revocation) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ticked {
    /// The key that became current, if the schedule rotated.
    pub rotated_to: Option<String>,
    /// The keys the schedule revoked.
    pub revoked: Vec<String>,
}

/// A plan, the key-set version it was made for, and when it was made.
type Planned = (i64, DateTime<Utc>, SchedulePlan);

/// Cheap to clone; every clone is the same schedule.
#[derive(Clone, Debug)]
pub struct ScheduleService {
    keys: KeyService,
    signing: SigningService,
    /// The tick's last plan: the key-set version and the time it was made at.
    planned: Arc<Mutex<Option<Planned>>>,
}

impl ScheduleService {
    pub fn new(keys: KeyService, signing: SigningService) -> Self {
        Self {
            keys,
            signing,
            planned: Arc::default(),
        }
    }

    /// What the schedule will do, from the key set as served and the usage ledger as it stands.
    pub async fn plan(&self) -> Result<SchedulePlan, ServiceError> {
        let published = self.keys.published();
        let schedule = self.keys.schedule();
        let rotation_at = rotation_at(&published, &schedule);
        let previous: Vec<_> = published
            .keys
            .iter()
            .filter(|k| k.record.state == KeyState::Previous)
            .collect();
        let mut revocations = Vec::new();
        if schedule.policy.revoke_previous_after_seconds.is_some() && !previous.is_empty() {
            let kids: Vec<String> = previous.iter().map(|k| k.record.kid.clone()).collect();
            let live = self.signing.live_tokens_until(&kids).await?;
            for (key, live_until) in previous.iter().zip(live) {
                if let Some(at) = schedule.revocation_at(&key.record, live_until) {
                    revocations.push((key.record.kid.clone(), at));
                }
            }
            revocations.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        }
        Ok(SchedulePlan {
            rotation_at,
            revocations,
        })
    }

    /// The tick's plan: reused while the key set is unchanged and the plan is recent.
    async fn recent_plan(&self, now: DateTime<Utc>) -> Result<SchedulePlan, ServiceError> {
        let version = self.keys.published().version;
        let reusable = self
            .planned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .filter(|(v, at, _)| *v == version && now >= *at && now < *at + PLAN_REUSED_FOR);
        if let Some((_, _, plan)) = reusable {
            return Ok(plan);
        }
        let plan = self.plan().await?;
        *self.planned.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((version, now, plan.clone()));
        Ok(plan)
    }

    /// Does what the schedule has due at `now`: the rotation (if no other process made it
    /// first) and the revocations; then notes when the key set next changes, so the JWKS is
    /// never cached past it.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Ticked, ServiceError> {
        let mut ticked = Ticked::default();
        if self.keys.published().policy.is_off() {
            self.keys.set_next_change(None);
            return Ok(ticked);
        }
        let plan = self.recent_plan(now).await?;
        if plan.rotation_at.is_some_and(|at| at <= now)
            && let Some(rotated) = self.keys.rotate_on_schedule(now).await?
        {
            tracing::info!(
                tenant = self.keys.tenant_domain(),
                kid = rotated.current.record.kid,
                "the schedule rotated the signing key"
            );
            ticked.rotated_to = Some(rotated.current.record.kid);
        }
        if plan.revocations.first().is_some_and(|(_, at)| *at <= now) {
            // Confirmed on a fresh read of the ledger: a plan is at most a few seconds old.
            for (kid, at) in self.plan().await?.revocations {
                if at > now {
                    break;
                }
                match self.keys.revoke(&kid, &Actor::schedule(), now).await {
                    Ok(_) => {
                        tracing::info!(
                            tenant = self.keys.tenant_domain(),
                            kid,
                            "the schedule revoked a previous key"
                        );
                        ticked.revoked.push(kid);
                    }
                    // Another process revoked it a moment ago.
                    Err(ServiceError::Key(
                        KeyError::NotRevocable { .. } | KeyError::NotFound(_),
                    )) => {}
                    Err(error) => return Err(error),
                }
            }
        }
        let plan = if ticked == Ticked::default() {
            plan
        } else {
            self.recent_plan(now).await?
        };
        self.keys.set_next_change(plan.next_change());
        Ok(ticked)
    }

    /// The policy and what it will do, as the API, the CLI and the page show it.
    pub async fn view(&self) -> Result<RotationSchedule, ServiceError> {
        let plan = self.plan().await?;
        Ok(schedule_view(&self.keys.schedule(), &plan))
    }

    /// [`view`](Self::view) without the revocations, which need the usage ledger: for the page
    /// while the database is away.
    pub fn view_without_ledger(&self) -> RotationSchedule {
        let plan = SchedulePlan {
            rotation_at: self.next_rotation_at(),
            revocations: Vec::new(),
        };
        schedule_view(&self.keys.schedule(), &plan)
    }

    /// When the schedule rotates next, from the key set as served.
    pub fn next_rotation_at(&self) -> Option<DateTime<Utc>> {
        rotation_at(&self.keys.published(), &self.keys.schedule())
    }

    /// Seconds a manual rotation at `now` would wait for the next key to be published for
    /// the window; `None` if it may rotate now.
    pub fn rotate_wait(&self, now: DateTime<Utc>) -> Option<i64> {
        let published = self.keys.published();
        let next = published
            .keys
            .iter()
            .find(|k| k.record.state == KeyState::Next)?;
        let set = crate::domain::lifecycle::KeySet::new(vec![
            published.current()?.record.clone(),
            next.record.clone(),
        ])
        .ok()?;
        manual_wait(&set, self.keys.publication_window(), now)
    }

    /// Changes the policy (the fields `update` names) and answers with the new schedule.
    pub async fn set_policy(
        &self,
        update: PolicyUpdate,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<RotationSchedule, ServiceError> {
        self.keys.set_policy(update, actor, now).await?;
        self.view().await
    }
}

/// When `schedule` rotates the key set `published`.
pub(super) fn rotation_at(published: &Published, schedule: &Schedule) -> Option<DateTime<Utc>> {
    let next = published
        .keys
        .iter()
        .find(|k| k.record.state == KeyState::Next)?;
    schedule.rotation_at(&published.current()?.record, &next.record)
}

/// The schedule's view: the policy object of SPEC §12.
fn schedule_view(schedule: &Schedule, plan: &SchedulePlan) -> RotationSchedule {
    let scheduled_revocations: Vec<ScheduledRevocation> = plan
        .revocations
        .iter()
        .map(|(kid, at)| ScheduledRevocation {
            kid: kid.clone(),
            revoke_at: iso(*at),
        })
        .collect();
    RotationSchedule {
        rotate_every_seconds: schedule.policy.rotate_every_seconds,
        revoke_previous_after_seconds: schedule.policy.revoke_previous_after_seconds,
        next_rotation_at: plan.rotation_at.map(iso),
        publication_window_seconds: schedule.window.seconds,
        signing_alg: schedule.policy.key.alg.as_str().to_owned(),
        key_size: schedule.policy.key.key_size,
        next_revocation_at: scheduled_revocations.first().map(|r| r.revoke_at.clone()),
        scheduled_revocations,
    }
}
