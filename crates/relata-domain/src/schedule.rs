//! When background work runs: recurring schedules written in cron syntax and read in a time
//! zone, and the growing waits between the tries of a job that failed. Pure: the caller
//! supplies the current time and the randomness.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A recurring schedule: a five-field cron expression (minute, hour, day of month, month, day
/// of week — `0 9 * * 1-5` is 09:00 on weekdays) read in a time zone, so "09:00 in
/// Asia/Shanghai" stays 09:00 there whatever the server's zone or daylight saving.
#[derive(Debug, Clone)]
pub struct Recurrence {
    cron: croner::Cron,
    zone: Tz,
}

/// What is wrong with a schedule: the part (`cron` or `time_zone`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub part: &'static str,
    pub message: String,
}

impl Recurrence {
    /// Reads `cron` in the IANA zone `time_zone` (e.g. `Asia/Shanghai`, `UTC`).
    pub fn parse(cron: &str, time_zone: &str) -> Result<Recurrence, ScheduleError> {
        let text = cron.trim();
        let fields = text.split_whitespace().count();
        // five fields, or a nickname such as @daily; seconds would make a typo of a
        // five-field expression fire every second
        if fields != 5 && !(fields == 1 && text.starts_with('@')) {
            return Err(ScheduleError {
                part: "cron",
                message: format!(
                    "'{text}' has {fields} fields; write five: minute hour day-of-month month day-of-week (e.g. 0 9 * * 1-5)"
                ),
            });
        }
        let parsed = croner::Cron::from_str(text).map_err(|e| ScheduleError {
            part: "cron",
            message: format!("'{text}' is not a cron expression: {e}"),
        })?;
        let zone = Tz::from_str(time_zone.trim()).map_err(|_| ScheduleError {
            part: "time_zone",
            message: format!("'{time_zone}' is not a time zone name such as Asia/Shanghai or UTC"),
        })?;
        let recurrence = Recurrence { cron: parsed, zone };
        // an expression that never fires (31 February) is as wrong as one that cannot be read
        if recurrence.next_after(DateTime::UNIX_EPOCH).is_none() {
            return Err(ScheduleError {
                part: "cron",
                message: format!("'{text}' names no time that exists"),
            });
        }
        Ok(recurrence)
    }

    /// The first time strictly after `after` at which the schedule fires.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// How long a job waits before try `attempt + 1` after try `attempt` (1-based) failed: `base`
/// doubled per failed try, at most `cap`, spread by `jitter` (0 to 1, the caller's random
/// draw) over 50%–100% of that, so jobs that failed together do not all retry together.
pub fn backoff(
    attempt: u32,
    base: std::time::Duration,
    cap: std::time::Duration,
    jitter: f64,
) -> std::time::Duration {
    let doubled = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let full = doubled.min(cap);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn a_weekday_morning_schedule_fires_at_nine_in_its_own_zone() {
        let r = Recurrence::parse("0 9 * * 1-5", "Asia/Shanghai").unwrap();
        // Friday 2026-12-04 10:00 in Shanghai (02:00 UTC): next is Monday 09:00 there
        let next = r.next_after(utc(2026, 12, 4, 2, 0)).unwrap();
        assert_eq!(next, utc(2026, 12, 7, 1, 0));
        // strictly after: at 09:00 itself, the next is the day after
        assert_eq!(r.next_after(next).unwrap(), utc(2026, 12, 8, 1, 0));
    }

    #[test]
    fn daylight_saving_keeps_the_local_hour() {
        let r = Recurrence::parse("30 8 * * *", "Europe/Berlin").unwrap();
        // winter: 08:30 CET is 07:30 UTC; summer: 08:30 CEST is 06:30 UTC
        assert_eq!(
            r.next_after(utc(2026, 1, 10, 0, 0)).unwrap(),
            utc(2026, 1, 10, 7, 30)
        );
        assert_eq!(
            r.next_after(utc(2026, 7, 10, 0, 0)).unwrap(),
            utc(2026, 7, 10, 6, 30)
        );
    }

    #[test]
    fn bad_expressions_and_zones_are_named() {
        for (cron, zone, part) in [
            ("0 9 * *", "UTC", "cron"),
            ("0 0 9 * * 1", "UTC", "cron"),
            ("61 9 * * *", "UTC", "cron"),
            ("every day", "UTC", "cron"),
            ("0 0 31 2 *", "UTC", "cron"),
            ("0 9 * * *", "Mars/Olympus", "time_zone"),
        ] {
            let e = Recurrence::parse(cron, zone).unwrap_err();
            assert_eq!(e.part, part, "{cron} {zone}: {e:?}");
            assert!(!e.message.is_empty());
        }
        assert!(Recurrence::parse("@daily", "UTC").is_ok());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_spreads() {
        let (base, cap) = (Duration::from_secs(10), Duration::from_secs(3_600));
        assert_eq!(backoff(1, base, cap, 1.0), Duration::from_secs(10));
        assert_eq!(backoff(3, base, cap, 1.0), Duration::from_secs(40));
        assert_eq!(backoff(3, base, cap, 0.0), Duration::from_secs(20));
        assert_eq!(backoff(30, base, cap, 1.0), cap);
        assert_eq!(backoff(0, base, cap, 1.0), base);
    }
}
