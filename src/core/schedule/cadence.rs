//! How often a task runs: every so many seconds, or once a day at a local
//! wall-clock time.

use crate::core::clock::Nanos;
use crate::core::error::ConfigError;
use std::time::Duration;

/// One day.
pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest `every=` allowed: ten years, the longest duration any
/// setting takes.
pub const MAX_EVERY_SECONDS: f64 = 315_360_000.0;

/// When a task is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// Every interval: the next run is due one interval after the previous
    /// one was due, not after it finished.
    Every(Duration),
    /// Once a day at this local time (minutes since local midnight).
    At {
        /// Minutes after local midnight, 0 to 1439.
        minute_of_day: u32,
    },
}

impl Cadence {
    /// The cadence a task's keywords ask for: exactly one of `every` and
    /// `at`.
    ///
    /// ```
    /// use baldur::core::schedule::Cadence;
    /// assert!(Cadence::choose(Some(60.0), None).is_ok());
    /// assert!(Cadence::choose(None, Some("03:00")).is_ok());
    /// assert!(Cadence::choose(Some(60.0), Some("03:00")).is_err());
    /// assert!(Cadence::choose(None, None).is_err());
    /// ```
    pub fn choose(every: Option<f64>, at: Option<&str>) -> Result<Self, ConfigError> {
        match (every, at) {
            (Some(seconds), None) => Self::every(seconds),
            (None, Some(text)) => Self::at(text),
            (every, at) => Err(ConfigError::new(
                "every/at",
                format!("every={every:?}, at={at:?}"),
                "exactly one of every=seconds and at=\"HH:MM\"",
            )),
        }
    }

    /// `every=seconds`: finite, above zero, at most ten years.
    ///
    /// ```
    /// use baldur::core::schedule::Cadence;
    /// assert!(Cadence::every(0.2).is_ok());
    /// let refused = Cadence::every(0.0).unwrap_err();
    /// assert_eq!(refused.key, "every");
    /// ```
    pub fn every(seconds: f64) -> Result<Self, ConfigError> {
        match Duration::try_from_secs_f64(seconds) {
            Ok(interval) if seconds > 0.0 && seconds <= MAX_EVERY_SECONDS => {
                Ok(Self::Every(interval))
            }
            _ => Err(ConfigError::new(
                "every",
                seconds,
                "a number of seconds > 0 and <= 315360000",
            )),
        }
    }

    /// `at="HH:MM"`: a local time of day, 24-hour, two digits each.
    ///
    /// ```
    /// use baldur::core::schedule::Cadence;
    /// assert_eq!(Cadence::at("03:30").unwrap(), Cadence::At { minute_of_day: 210 });
    /// assert!(Cadence::at("24:00").is_err());
    /// assert!(Cadence::at("3:30").is_err());
    /// ```
    pub fn at(text: &str) -> Result<Self, ConfigError> {
        let refused = || {
            ConfigError::new(
                "at",
                format!("{text:?}"),
                "a local time \"HH:MM\", 00:00 to 23:59",
            )
        };
        let bytes = text.as_bytes();
        if bytes.len() != 5 || bytes[2] != b':' {
            return Err(refused());
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = &text[range];
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        match (digits(0..2), digits(3..5)) {
            (Some(hour), Some(minute)) if hour < 24 && minute < 60 => Ok(Self::At {
                minute_of_day: hour * 60 + minute,
            }),
            _ => Err(refused()),
        }
    }

    /// The task's nominal interval: what a watchdog expects between beats.
    pub fn interval(&self) -> Duration {
        match self {
            Self::Every(interval) => *interval,
            Self::At { .. } => DAY,
        }
    }

    /// When a task first falls due, registered at `now` (monotonic) when the
    /// wall clock reads `wall_millis` and local time is `utc_offset_seconds`
    /// ahead of UTC. An `every` task runs one interval after registration;
    /// an `at` task at the next occurrence of its time (today's, if still
    /// ahead; a time equal to now counts as now).
    pub fn first_due(&self, now: Nanos, wall_millis: u64, utc_offset_seconds: i32) -> Nanos {
        match self {
            Self::Every(interval) => now.saturating_add(nanos(*interval)),
            Self::At { minute_of_day } => now.saturating_add(until_local(
                *minute_of_day,
                wall_millis,
                utc_offset_seconds,
                true,
            )),
        }
    }

    /// When a task falls due next, after the run that was due at `due`
    /// finished at `now`, and how many ticks it skipped. An `every` task is
    /// due one interval after `due`; if that is already past (the run
    /// overran), the missed ticks are skipped rather than run in a burst. An
    /// `at` task is due at its next occurrence strictly after now.
    pub fn next_due(
        &self,
        due: Nanos,
        now: Nanos,
        wall_millis: u64,
        utc_offset_seconds: i32,
    ) -> (Nanos, u64) {
        match self {
            Self::Every(interval) => {
                let step = nanos(*interval).max(1);
                let next = due.saturating_add(step);
                if next > now {
                    return (next, 0);
                }
                // Ticks at next, next+step, ... up to now are all missed.
                let missed = (now - next) / step + 1;
                (next.saturating_add(missed.saturating_mul(step)), missed)
            }
            Self::At { minute_of_day } => (
                now.saturating_add(until_local(
                    *minute_of_day,
                    wall_millis,
                    utc_offset_seconds,
                    false,
                )),
                0,
            ),
        }
    }
}

fn nanos(duration: Duration) -> Nanos {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds from the wall time `wall_millis` until the local time of day
/// `minute_of_day`. With `inclusive`, a time that is exactly now is now (0);
/// otherwise it is tomorrow's.
fn until_local(
    minute_of_day: u32,
    wall_millis: u64,
    utc_offset_seconds: i32,
    inclusive: bool,
) -> Nanos {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let local =
        i64::try_from(wall_millis).unwrap_or(i64::MAX) + i64::from(utc_offset_seconds) * 1000;
    let of_day = local.rem_euclid(DAY_MS);
    let target = i64::from(minute_of_day) * 60 * 1000;
    let mut wait = (target - of_day).rem_euclid(DAY_MS);
    if wait == 0 && !inclusive {
        wait = DAY_MS;
    }
    // wait is in [0, DAY_MS]: never negative.
    u64::try_from(wait).unwrap_or(0) * 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = 1_000_000_000;
    /// 2023-11-14T22:13:20Z, the manual clock's wall start.
    const WALL: u64 = 1_700_000_000_000;

    #[test]
    fn every_refuses_what_is_not_a_positive_finite_interval_up_to_ten_years() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, MAX_EVERY_SECONDS + 1.0] {
            let error = Cadence::every(bad).unwrap_err();
            assert_eq!(error.key, "every");
            assert!(error.allowed.contains("> 0"));
        }
        assert_eq!(
            Cadence::every(0.2).unwrap().interval(),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn at_takes_hh_mm_only() {
        assert_eq!(
            Cadence::at("00:00").unwrap(),
            Cadence::At { minute_of_day: 0 }
        );
        assert_eq!(
            Cadence::at("23:59").unwrap(),
            Cadence::At {
                minute_of_day: 1439
            }
        );
        for bad in [
            "24:00",
            "12:60",
            "1:30",
            "12:3",
            "12-30",
            "ab:cd",
            "",
            "12:30:00",
            "+1:30",
            "１２:30",
        ] {
            let error = Cadence::at(bad).unwrap_err();
            assert_eq!(error.key, "at", "{bad}");
            assert!(error.allowed.contains("HH:MM"));
        }
    }

    #[test]
    fn an_every_task_is_due_one_interval_after_registration_then_after_each_due() {
        let every = Cadence::every(2.0).unwrap();
        assert_eq!(every.first_due(5 * S, WALL, 0), 7 * S);
        // A run that finished well within its interval.
        assert_eq!(every.next_due(7 * S, 7 * S + S / 2, WALL, 0), (9 * S, 0));
    }

    #[test]
    fn a_run_that_overran_skips_the_missed_ticks_instead_of_bursting() {
        let every = Cadence::every(2.0).unwrap();
        // Due at 10, finished at 15: ticks at 12 and 14 were missed.
        assert_eq!(every.next_due(10 * S, 15 * S, WALL, 0), (16 * S, 2));
        // Finishing exactly on a tick misses it too: the next is ahead.
        assert_eq!(every.next_due(10 * S, 12 * S, WALL, 0), (14 * S, 1));
    }

    #[test]
    fn an_at_task_is_due_at_the_next_local_occurrence() {
        // WALL is 22:13:20 UTC.
        let at = Cadence::at("22:15").unwrap();
        assert_eq!(at.first_due(0, WALL, 0), 100 * S);
        // Two hours ahead of UTC it is 00:13:20 local: 22:15 is tonight.
        let tonight = (22 * 3600 + 15 * 60 - (13 * 60 + 20)) * S;
        assert_eq!(at.first_due(0, WALL, 2 * 3600), tonight);
        // West of UTC: 17:13:20 local, 22:15 is five hours and 100 s away.
        assert_eq!(at.first_due(0, WALL, -5 * 3600), (5 * 3600 + 100) * S);
    }

    #[test]
    fn an_at_task_that_just_ran_is_due_tomorrow() {
        let at = Cadence::at("22:13").unwrap();
        let on_the_minute = WALL - 20_000;
        assert_eq!(at.first_due(0, on_the_minute, 0), 0);
        let (next, skipped) = at.next_due(0, 0, on_the_minute, 0);
        assert_eq!((next, skipped), (24 * 3600 * S, 0));
        assert_eq!(at.interval(), DAY);
    }
}
