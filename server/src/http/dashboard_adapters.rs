//! The dashboard's ports (`app::service`) implemented on the services: each call reads the
//! clock once, makes one service call, and turns its error into the dashboard's words
//! (`errors.rs`).

use std::net::IpAddr;

use app::algorithm::KeySpec;
use app::{
    error::DashboardError,
    keys::{KeyAction, KeyActionDone, KeyList, KeyState},
    schedule::RotationSchedule,
    service::{Operator, SigningKeys},
};

use super::{
    errors::{dashboard_error, sign_in_error},
    session::{session_cookie, session_from_cookies},
};
use crate::{
    domain::Actor,
    services::{
        clock::SharedClock, key_change::PolicyUpdate, keys::KeyService, operator::OperatorService,
        published::PublishedKey, schedule::ScheduleService, signing::SigningService,
    },
};

/// The key service as the dashboard sees it.
#[derive(Debug, Clone)]
pub struct DashboardKeys {
    pub keys: KeyService,
    pub signing: SigningService,
    pub schedule: ScheduleService,
    pub clock: SharedClock,
}

impl DashboardKeys {
    /// Fails with [`DashboardError::KeysChanged`] unless the newest committed key set has
    /// `kid` in `state`: the operator confirmed an action on what the page showed.
    async fn expect_state(&self, kid: &str, state: KeyState) -> Result<(), DashboardError> {
        self.keys.refresh().await.map_err(dashboard_error)?;
        match self
            .keys
            .published()
            .keys
            .iter()
            .find(|key| key.record.state == state)
        {
            Some(key) if key.record.kid == kid => Ok(()),
            _ => Err(DashboardError::KeysChanged),
        }
    }
}

#[async_trait::async_trait]
impl SigningKeys for DashboardKeys {
    async fn list_signing_keys(&self) -> Result<KeyList, DashboardError> {
        let published = self.keys.published();
        let valid: Vec<_> = published
            .keys
            .iter()
            .filter(|key| key.record.state.is_valid())
            .map(|key| (key.record.kid.clone(), key.record.state))
            .collect();
        // The keys still show while the ledger cannot be read (the database is away).
        let usage = self
            .signing
            .usage_of(&valid, self.clock.now())
            .await
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "the usage ledger could not be read for the page");
                Vec::new()
            });
        let schedule = self.schedule.view().await.unwrap_or_else(|error| {
            tracing::warn!(%error, "the schedule's revocations could not be planned for the page");
            self.schedule.view_without_ledger()
        });
        let now = self.clock.now();
        Ok(KeyList {
            next_rotation_in_seconds: self
                .schedule
                .next_rotation_at()
                .map(|at| (at - now).num_seconds()),
            tenant_domain: self.keys.tenant_domain().to_owned(),
            version: published.version,
            keys: published.keys.iter().map(PublishedKey::view).collect(),
            usage,
            schedule,
            rotate_wait_seconds: self.schedule.rotate_wait(now),
        })
    }

    async fn rotate(
        &self,
        next_kid: &str,
        force: bool,
        from: Option<IpAddr>,
    ) -> Result<KeyActionDone, DashboardError> {
        self.expect_state(next_kid, KeyState::Next).await?;
        let (actor, now) = (Actor::operator(from), self.clock.now());
        let rotated = if force {
            self.keys.force_rotate(&actor, now).await
        } else {
            self.keys.rotate(&actor, now).await
        };
        let rotated = rotated.map_err(dashboard_error)?;
        Ok(KeyActionDone {
            action: KeyAction::Rotate,
            kid: rotated.current.record.kid,
            revoked: None,
        })
    }

    async fn rotate_and_revoke(
        &self,
        current_kid: &str,
        from: Option<IpAddr>,
    ) -> Result<KeyActionDone, DashboardError> {
        self.expect_state(current_kid, KeyState::Current).await?;
        let rotated = self
            .keys
            .rotate_and_revoke(&Actor::operator(from), self.clock.now())
            .await
            .map_err(dashboard_error)?;
        Ok(KeyActionDone {
            action: KeyAction::RotateAndRevoke,
            kid: rotated.current.record.kid,
            revoked: rotated.revoked,
        })
    }

    async fn revoke(
        &self,
        kid: &str,
        from: Option<IpAddr>,
    ) -> Result<KeyActionDone, DashboardError> {
        let revoked = self
            .keys
            .revoke(kid, &Actor::operator(from), self.clock.now())
            .await
            .map_err(dashboard_error)?;
        Ok(KeyActionDone {
            action: KeyAction::Revoke,
            kid: revoked.record.kid,
            revoked: None,
        })
    }

    async fn set_rotation_schedule(
        &self,
        rotate_every_seconds: Option<i64>,
        revoke_previous_after_seconds: Option<i64>,
        from: Option<IpAddr>,
    ) -> Result<RotationSchedule, DashboardError> {
        let update = PolicyUpdate {
            rotate_every_seconds: Some(rotate_every_seconds),
            revoke_previous_after_seconds: Some(revoke_previous_after_seconds),
            ..PolicyUpdate::default()
        };
        self.schedule
            .set_policy(update, &Actor::operator(from), self.clock.now())
            .await
            .map_err(dashboard_error)
    }

    async fn set_signing_algorithm(
        &self,
        key: KeySpec,
        from: Option<IpAddr>,
    ) -> Result<RotationSchedule, DashboardError> {
        let update = PolicyUpdate {
            signing_alg: Some(key.alg),
            key_size: Some(key.key_size),
            ..PolicyUpdate::default()
        };
        self.schedule
            .set_policy(update, &Actor::operator(from), self.clock.now())
            .await
            .map_err(dashboard_error)
    }
}

/// The operator service as the dashboard's sign-in sees it.
#[derive(Debug, Clone)]
pub struct DashboardOperator {
    pub operator: OperatorService,
    pub clock: SharedClock,
}

#[async_trait::async_trait]
impl Operator for DashboardOperator {
    async fn sign_in(
        &self,
        password: &str,
        addr: Option<IpAddr>,
        secure: bool,
    ) -> Result<String, DashboardError> {
        let id = self
            .operator
            .sign_in(password, addr, self.clock.now())
            .await
            .map_err(sign_in_error)?;
        Ok(session_cookie(Some(&id), secure))
    }

    async fn sign_out(&self, cookie_header: Option<&str>, secure: bool) -> String {
        if let Some(id) = cookie_header.and_then(session_from_cookies)
            && let Err(error) = self.operator.sign_out(id).await
        {
            tracing::warn!(%error, "cannot delete a session");
        }
        session_cookie(None, secure)
    }
}
