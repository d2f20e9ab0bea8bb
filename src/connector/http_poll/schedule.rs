//! When an HTTP poll runs: every `interval` (the first poll at start, each next one `interval`
//! after the previous one ended), or at the times of a 5-field `cron` expression in `timezone`
//! (IANA, default UTC).

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use toml::Spanned;

use crate::config::Diagnostics;
use crate::config::connector_file::positive_duration;
use crate::config::toml_de::Source;

/// A connector's poll schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron { cron: Box<Cron>, zone: Tz },
}

impl Schedule {
    /// `interval` XOR `cron` (with an optional `timezone`), checked; a missing schedule is
    /// reported at `at` (the `[source]` table).
    pub fn parse(
        src: &Source<'_>,
        at: usize,
        interval: Option<Spanned<String>>,
        cron: Option<Spanned<String>>,
        timezone: Option<Spanned<String>>,
    ) -> Result<Self, Diagnostics> {
        match (interval, cron) {
            (Some(interval), None) => {
                if let Some(tz) = timezone {
                    let message = "timezone goes with cron; an interval needs none";
                    return Err(src.diagnostic(tz.span().start, message).into());
                }
                let every = positive_duration(src, "interval", Some(interval), Duration::ZERO)?;
                Ok(Schedule::Every(every))
            }
            (None, Some(cron)) => Self::cron(src, &cron, timezone),
            (Some(_), Some(cron)) => {
                let message = "give interval or cron, not both";
                Err(src.diagnostic(cron.span().start, message).into())
            }
            (None, None) => Err(src
                .diagnostic(
                    at,
                    "[source] type = \"http_poll\" needs a schedule: interval = \"5m\" or \
                     cron = \"*/5 * * * *\"",
                )
                .into()),
        }
    }

    fn cron(
        src: &Source<'_>,
        cron: &Spanned<String>,
        timezone: Option<Spanned<String>>,
    ) -> Result<Self, Diagnostics> {
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let parsed = parser.parse(cron.get_ref()).map_err(|e| {
            let message = format!(
                "cron = \"{}\" is not a 5-field cron expression (minute hour day month \
                 weekday): {e}",
                cron.get_ref()
            );
            Diagnostics::from(src.diagnostic(cron.span().start, message))
        })?;
        let zone = match timezone {
            None => Tz::UTC,
            Some(tz) => tz.get_ref().parse::<Tz>().map_err(|_| {
                let message = format!(
                    "timezone = \"{}\" is not an IANA time zone; write e.g. \"Asia/Shanghai\"",
                    tz.get_ref()
                );
                Diagnostics::from(src.diagnostic(tz.span().start, message))
            })?,
        };
        Ok(Schedule::Cron {
            cron: Box::new(parsed),
            zone,
        })
    }

    /// How long to wait, at `now`, before the first poll.
    pub fn first(&self, now: DateTime<Utc>) -> Option<Duration> {
        match self {
            Schedule::Every(_) => Some(Duration::ZERO),
            Schedule::Cron { .. } => self.next(now),
        }
    }

    /// How long to wait, at `now` (a poll just ended), before the next poll; `None` when the
    /// cron expression has no later time.
    pub fn next(&self, now: DateTime<Utc>) -> Option<Duration> {
        match self {
            Schedule::Every(every) => Some(*every),
            Schedule::Cron { cron, zone } => {
                let local = now.with_timezone(zone);
                let at = cron.find_next_occurrence(&local, false).ok()?;
                (at.with_timezone(&Utc) - now).to_std().ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn text(s: &str) -> Option<Spanned<String>> {
        Some(Spanned::new(0..1, s.to_string()))
    }

    fn parse(interval: &str, cron: &str, tz: &str) -> Result<Schedule, String> {
        let src = Source {
            path: Path::new("c.toml"),
            text: "x",
        };
        let opt = |s: &str| if s.is_empty() { None } else { text(s) };
        Schedule::parse(&src, 0, opt(interval), opt(cron), opt(tz)).map_err(|d| d.to_string())
    }

    #[test]
    fn cron_next_time_is_in_its_zone() {
        let daily = parse("", "30 2 * * *", "Asia/Shanghai").unwrap();
        let now: DateTime<Utc> = "2024-03-01T10:00:00Z".parse().unwrap();
        // 02:30 in Shanghai is 18:30 UTC.
        assert_eq!(daily.next(now), Some(Duration::from_secs(8 * 3600 + 1800)));
        assert_eq!(daily.first(now), daily.next(now));
        let every = parse("", "*/5 * * * *", "").unwrap();
        let now: DateTime<Utc> = "2024-03-01T10:02:00Z".parse().unwrap();
        assert_eq!(every.next(now), Some(Duration::from_secs(180)));
    }

    #[test]
    fn interval_polls_at_start_then_every_period() {
        let every = parse("5m", "", "").unwrap();
        let now = Utc::now();
        assert_eq!(every.first(now), Some(Duration::ZERO));
        assert_eq!(every.next(now), Some(Duration::from_secs(300)));
    }

    #[test]
    fn bad_schedules_say_what_to_write() {
        assert!(
            parse("", "* * * * * *", "")
                .unwrap_err()
                .contains("5-field")
        );
        assert!(
            parse("", "0 * * * *", "Mars/Base")
                .unwrap_err()
                .contains("IANA")
        );
        assert!(
            parse("1m", "", "UTC")
                .unwrap_err()
                .contains("goes with cron")
        );
        assert!(
            parse("0s", "", "")
                .unwrap_err()
                .contains("longer than zero")
        );
    }
}
