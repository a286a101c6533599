//! `echo_pool` before the application has anywhere to send it: SQLAlchemy's `echo_pool=True`
//! prints on its own, so until the application sets a `tracing` dispatcher (a subscriber,
//! global or scoped) or a `log` logger, the pool's lines are written to stderr instead, in
//! the format SQLAlchemy's echo uses (Python's `%(asctime)s %(levelname)s %(name)s
//! %(message)s`):
//!
//! ```text
//! 2026-12-07 19:36:57,123 INFO poolscope::pool.QueuePool.orders Connection 3 checked out from pool
//! ```
//!
//! The time is UTC (Python writes local time; Rust's standard library does not know the
//! time zone), the logger name is the lines' `tracing` target, the class and the pool's name
//! (SQLAlchemy's `sqlalchemy.pool.impl.QueuePool.<logging_name>`). As soon as a dispatcher or
//! a logger is set the lines go there only: a `log` logger counts because `tracing`, with its
//! `log` feature (which sqlx and SeaORM turn on), forwards events to it, and poolscope cannot
//! tell whether it does.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::Config;

/// Whether the pool's lines go to stderr: no `tracing` dispatcher has ever been set in this
/// process, and no `log` logger has raised `log`'s level from off. Two relaxed loads.
#[inline]
pub(crate) fn wanted() -> bool {
    !tracing::dispatcher::has_been_set() && log::max_level() == log::LevelFilter::Off
}

/// Writes one pool line to stderr, at `level` (`tracing`'s macro name: `debug`, `info`,
/// `warn`, `error`).
pub(crate) fn write(level: &str, config: &Config, message: fmt::Arguments<'_>) {
    eprintln!(
        "{} {} poolscope::pool.{}.{} {message}",
        Timestamp(SystemTime::now()),
        level_name(level),
        config.class.sqlalchemy_name(),
        config.name,
    );
}

/// Python's name for a level.
fn level_name(level: &str) -> &'static str {
    match level {
        "error" => "ERROR",
        "warn" => "WARNING",
        "info" => "INFO",
        _ => "DEBUG",
    }
}

/// A time as Python's logging writes `asctime`: `2026-12-07 19:36:57,123` (here in UTC).
struct Timestamp(SystemTime);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
        let (year, month, day) = civil_from_days(days);
        let of_day = secs % 86_400;
        write!(
            f,
            "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60,
            since.subsec_millis()
        )
    }
}

/// The (year, month, day) of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both in range by construction (1..=31, 1..=12).
    (year, day_as_u32(month), day_as_u32(day))
}

fn day_as_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_read_as_pythons_asctime() {
        let at = |ms: u64| Timestamp(UNIX_EPOCH + Duration::from_millis(ms)).to_string();
        assert_eq!(at(0), "1970-01-01 00:00:00,000");
        assert_eq!(at(1_796_672_217_123), "2026-12-07 19:36:57,123");
        // 2000-02-29 (a leap day of a century year), one millisecond before midnight.
        assert_eq!(
            at(11_016 * 86_400_000 + 86_399_999),
            "2000-02-29 23:59:59,999"
        );
        assert_eq!(at(11_017 * 86_400_000), "2000-03-01 00:00:00,000");
    }

    #[test]
    fn levels_take_pythons_names() {
        assert_eq!(
            ["debug", "info", "warn", "error"].map(level_name),
            ["DEBUG", "INFO", "WARNING", "ERROR"]
        );
    }
}
