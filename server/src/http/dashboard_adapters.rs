//! The dashboard's ports (`app::service`) implemented on the services: each call reads the
//! clock once, makes one service call, and turns its error into the dashboard's words
//! (`errors.rs`).

use std::net::IpAddr;

use app::algorithm::KeySpec;
use app::{
    audit::{LogFilter, LogPage},
    error::DashboardError,
    keys::{KeyAction, KeyActionDone, KeyList, KeyState, PreviousPage},
    schedule::RotationSchedule,
    service::{Logs, Operator, SharedTenants, SigningKeys},
};

use super::{
    errors::{dashboard_error, sign_in_error},
    session::{session_cookie, session_from_cookies},
};
use crate::{
    domain::Actor,
    services::{
        audit::{AuditTrail, Position},
        clock::SharedClock,
        key_change::PolicyUpdate,
        keys::KeyService,
        operator::OperatorService,
        published::PublishedKey,
        schedule::ScheduleService,
        signing::SigningService,
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
    async fn list_signing_keys(&self, previous_page: u32) -> Result<KeyList, DashboardError> {
        let published = self.keys.published();
        let of = |state: KeyState| {
            published
                .keys
                .iter()
                .filter(move |key| key.record.state == state)
        };
        let total = u32::try_from(of(KeyState::Previous).count()).unwrap_or(u32::MAX);
        let mut previous = PreviousPage {
            page: 1,
            per_page: PreviousPage::PER_PAGE,
            total,
        };
        previous.page = previous_page.clamp(1, previous.pages());
        let skip = usize::try_from((previous.page - 1) * previous.per_page).unwrap_or(usize::MAX);
        // Only the keys shown are turned into views: a long history costs nothing per page.
        let shown: Vec<_> = of(KeyState::Current)
            .chain(of(KeyState::Next))
            .chain(
                of(KeyState::Previous)
                    .skip(skip)
                    .take(PreviousPage::PER_PAGE as usize),
            )
            .chain(of(KeyState::Revoked))
            .collect();
        let valid: Vec<_> = shown
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
        let mut schedule = self.schedule.view().await.unwrap_or_else(|error| {
            tracing::warn!(%error, "the schedule's revocations could not be planned for the page");
            self.schedule.view_without_ledger()
        });
        // The page marks the revocations of the keys it shows (the earliest stays named).
        schedule
            .scheduled_revocations
            .retain(|planned| valid.iter().any(|(kid, _)| *kid == planned.kid));
        let now = self.clock.now();
        Ok(KeyList {
            next_rotation_in_seconds: self
                .schedule
                .next_rotation_at()
                .map(|at| (at - now).num_seconds()),
            tenant_domain: self.keys.tenant_domain().to_owned(),
            version: published.version,
            keys: shown.into_iter().map(PublishedKey::view).collect(),
            previous,
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

/// Events per page of the Logs page.
const LOG_PAGE: usize = 50;

/// The audit trail as the Logs page sees it.
#[derive(Clone)]
pub struct DashboardLogs {
    pub audit: AuditTrail,
    /// The deployment's tenants, for the filter; `None` when the server serves one tenant.
    pub tenants: Option<SharedTenants>,
    /// The domain of the tenant the dashboard shows.
    pub current: String,
}

#[async_trait::async_trait]
impl Logs for DashboardLogs {
    async fn logs(
        &self,
        filter: &LogFilter,
        before: Option<&str>,
        after: Option<&str>,
    ) -> Result<LogPage, DashboardError> {
        let position = match (before, after) {
            (_, Some(after)) => Position::After(after),
            (Some(before), None) => Position::Before(before),
            (None, None) => Position::Newest,
        };
        let (entries, older) = self
            .audit
            .page(filter, position, LOG_PAGE, &self.current)
            .await
            .map_err(dashboard_error)?;
        // A live update only needs the events; the filter's choices are on the page already.
        let tenants = match (&self.tenants, after) {
            (_, Some(_)) => Vec::new(),
            (Some(tenants), None) => tenants
                .list_tenants()
                .await?
                .into_iter()
                .map(|tenant| tenant.domain)
                .collect(),
            (None, None) => vec![self.current.clone()],
        };
        Ok(LogPage {
            entries,
            older,
            tenants,
            current_tenant: self.current.clone(),
        })
    }
}
