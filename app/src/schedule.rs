//! The rotation schedule as the API, the CLI and the page show it (SPEC §12), and how the page
//! reads and writes its durations.

use serde::{Deserialize, Serialize};

/// A previous key the schedule will revoke, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScheduledRevocation {
    pub kid: String,
    /// ISO-8601 UTC with milliseconds.
    pub revoke_at: String,
}

/// A tenant's rotation policy and what it will do: the object of
/// `GET /api/v2/keys/signing/policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RotationSchedule {
    /// The current key is rotated once it has been current this long; `None`: no schedule.
    pub rotate_every_seconds: Option<i64>,
    /// Previous keys are revoked this long after their last token expired; `None`: never.
    pub revoke_previous_after_seconds: Option<i64>,
    /// When the schedule rotates next (ISO-8601); `None` without a schedule.
    pub next_rotation_at: Option<String>,
    /// How long a key is published before it may become current.
    pub publication_window_seconds: i64,
    pub signing_alg: String,
    pub key_size: u32,
    /// The earliest of `scheduled_revocations`.
    pub next_revocation_at: Option<String>,
    /// Every previous key the schedule will revoke, soonest first.
    pub scheduled_revocations: Vec<ScheduledRevocation>,
}

impl RotationSchedule {
    /// When the schedule revokes `kid`, if it will.
    pub fn revocation_of(&self, kid: &str) -> Option<&str> {
        self.scheduled_revocations
            .iter()
            .find(|r| r.kid == kid)
            .map(|r| r.revoke_at.as_str())
    }
}

/// A unit the page offers for a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl DurationUnit {
    /// Largest first.
    pub const ALL: [DurationUnit; 4] = [
        DurationUnit::Days,
        DurationUnit::Hours,
        DurationUnit::Minutes,
        DurationUnit::Seconds,
    ];

    pub fn seconds(self) -> i64 {
        match self {
            DurationUnit::Seconds => 1,
            DurationUnit::Minutes => 60,
            DurationUnit::Hours => 3_600,
            DurationUnit::Days => 86_400,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DurationUnit::Seconds => "seconds",
            DurationUnit::Minutes => "minutes",
            DurationUnit::Hours => "hours",
            DurationUnit::Days => "days",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|unit| unit.as_str() == text)
    }

    /// The largest unit that divides `seconds` into a whole number, and that number.
    pub fn split(seconds: i64) -> (i64, DurationUnit) {
        let unit = DurationUnit::ALL
            .into_iter()
            .find(|unit| seconds != 0 && seconds % unit.seconds() == 0)
            .unwrap_or(DurationUnit::Seconds);
        (seconds / unit.seconds(), unit)
    }
}

/// Reads a duration from the schedule dialog: a count and a unit, or the unit `off` (no
/// schedule, never revoke) for `None`.
pub fn parse_duration_field(
    count: &str,
    unit: &str,
) -> Result<Option<i64>, crate::error::ScheduleRefusal> {
    if unit == OFF {
        return Ok(None);
    }
    let unit = DurationUnit::parse(unit).ok_or(crate::error::ScheduleRefusal::NotANumber)?;
    count
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|count| *count >= 0)
        .and_then(|count| count.checked_mul(unit.seconds()))
        .map(Some)
        .ok_or(crate::error::ScheduleRefusal::NotANumber)
}

/// The dialog's unit for "no schedule" and "never revoke".
pub const OFF: &str = "off";

/// The units durations are said in, largest first (seconds otherwise).
const WORD_UNITS: [(i64, &str); 3] = [(86_400, "day"), (3_600, "hour"), (60, "minute")];

/// "in 12 days", "in 5 hours", "now": how soon something happens, roughly.
pub fn soon_words(seconds: i64) -> String {
    if seconds <= 0 {
        return "due now".to_owned();
    }
    let (count, unit) = WORD_UNITS
        .into_iter()
        .find(|(size, _)| seconds >= *size)
        .map_or((seconds, "second"), |(size, unit)| (seconds / size, unit));
    let plural = if count == 1 { "" } else { "s" };
    format!("in {count} {unit}{plural}")
}

/// "30 days", "1 hour", "90 seconds": a duration in words, in its largest whole unit.
pub fn duration_words(seconds: i64) -> String {
    let (count, unit) = WORD_UNITS
        .into_iter()
        .find(|(size, _)| seconds != 0 && seconds % size == 0)
        .map_or((seconds, "second"), |(size, unit)| (seconds / size, unit));
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_largest_whole_unit() {
        assert_eq!(duration_words(30 * 86_400), "30 days");
        assert_eq!(duration_words(86_400), "1 day");
        assert_eq!(duration_words(36 * 3_600), "36 hours");
        assert_eq!(duration_words(90), "90 seconds");
        assert_eq!(duration_words(0), "0 seconds");
        assert_eq!(DurationUnit::split(7 * 86_400), (7, DurationUnit::Days));
        assert_eq!(DurationUnit::split(5_400 * 2), (3, DurationUnit::Hours));
        assert_eq!(DurationUnit::split(5_400), (90, DurationUnit::Minutes));
        assert_eq!(DurationUnit::split(0), (0, DurationUnit::Seconds));
        assert_eq!(soon_words(12 * 86_400 + 5), "in 12 days");
        assert_eq!(soon_words(3_600), "in 1 hour");
        assert_eq!(soon_words(59), "in 59 seconds");
        assert_eq!(soon_words(0), "due now");
    }

    #[test]
    fn the_dialog_reads_a_count_and_a_unit_or_off() {
        use crate::error::ScheduleRefusal::NotANumber;
        assert_eq!(parse_duration_field("30", "days"), Ok(Some(2_592_000)));
        assert_eq!(parse_duration_field(" 2 ", "hours"), Ok(Some(7_200)));
        assert_eq!(parse_duration_field("0", "seconds"), Ok(Some(0)));
        assert_eq!(parse_duration_field("", OFF), Ok(None));
        assert_eq!(parse_duration_field("1.5", "days"), Err(NotANumber));
        assert_eq!(parse_duration_field("-1", "hours"), Err(NotANumber));
        assert_eq!(parse_duration_field("1", "weeks"), Err(NotANumber));
        assert_eq!(
            parse_duration_field("999999999999999", "days"),
            Err(NotANumber)
        );
    }
}
