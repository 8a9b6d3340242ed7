//! The tenant's rotation limit: at most `per_day` rotations in any rolling 24 hours.

use chrono::{DateTime, TimeDelta, Utc};

/// At most `per_day` rotations in any rolling 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationLimit {
    pub per_day: u32,
}

/// The rotations already made in the window that ends now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationsInWindow {
    pub count: i64,
    /// When the oldest of them happened.
    pub oldest: Option<DateTime<Utc>>,
}

/// The limit is reached until `reset_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the rotation limit of {limit} per day is reached until {reset_at}")]
pub struct LimitReached {
    pub limit: u32,
    pub reset_at: DateTime<Utc>,
}

impl RotationLimit {
    /// How far back rotations count.
    pub fn window() -> TimeDelta {
        TimeDelta::days(1)
    }

    /// Rotations strictly after this instant count against the limit at `now`.
    pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
        now - Self::window()
    }

    /// Whether one more rotation is allowed at `now`, given the rotations in the window.
    pub fn check(self, used: RotationsInWindow, now: DateTime<Utc>) -> Result<(), LimitReached> {
        if used.count < i64::from(self.per_day) {
            return Ok(());
        }
        Err(LimitReached {
            limit: self.per_day,
            reset_at: used.oldest.unwrap_or(now) + Self::window(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_lifts_a_day_after_the_oldest_rotation() {
        let limit = RotationLimit { per_day: 2 };
        let now = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(10);
        let oldest = now - TimeDelta::hours(3);
        let one = RotationsInWindow {
            count: 1,
            oldest: Some(oldest),
        };
        assert_eq!(limit.check(one, now), Ok(()));
        let two = RotationsInWindow { count: 2, ..one };
        assert_eq!(
            limit.check(two, now),
            Err(LimitReached {
                limit: 2,
                reset_at: oldest + TimeDelta::days(1)
            })
        );
        assert_eq!(RotationLimit::window_start(now), now - TimeDelta::days(1));
    }
}
