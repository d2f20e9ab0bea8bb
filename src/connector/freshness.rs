//! Freshness expectations: when a connector's legacy system is expected to send input, and whether
//! it is late. A system that silently stopped sending shows no error anywhere else; this is what
//! catches it.
//!
//! A connector file declares one of:
//! - `expect_every = "1h"`: input at least this often;
//! - `expect = "daily by 02:00 Asia/Shanghai"`: input before each deadline of a schedule
//!   (`daily`, `weekdays`, `weekends`, days such as `mon,thu`, or `hourly by :15`; the zone is an
//!   IANA name, UTC when left out). The input for a deadline is whatever arrived since the
//!   deadline before it.
//!
//! [`watch`] runs beside the connector: it sleeps until the next input is due, marks the connector
//! late (status, log, the `omnibus_connector_late` gauge) if none came, and keeps the time of the
//! last input in the state store so a restart does not forget a system that stopped sending.

use crate::connector::status::StatusHandle;
use crate::state::{Store, positions};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// The position name under which the last input's time is kept (Unix seconds).
pub const LAST_INPUT: &str = "last_input";

/// When input is expected.
#[derive(Debug, Clone)]
pub enum Expectation {
    /// At least this often.
    Every(Duration),
    /// Before each deadline of a schedule in a zone.
    By {
        /// As written, for ops.
        text: String,
        cron: Box<Cron>,
        zone: Tz,
    },
}

impl PartialEq for Expectation {
    fn eq(&self, other: &Self) -> bool {
        self.describe() == other.describe()
    }
}

impl Expectation {
    /// Parses an `expect` value: `<days> by HH:MM [Zone]` or `hourly by :MM [Zone]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (days, at, zone) = match words.as_slice() {
            [days, "by", at] => (*days, *at, None),
            [days, "by", at, zone] => (*days, *at, Some(*zone)),
            _ => return Err(grammar(text)),
        };
        let zone = match zone {
            None => Tz::UTC,
            Some(zone) => zone.parse::<Tz>().map_err(|_| {
                format!("\"{zone}\" is not an IANA time zone; write e.g. \"Asia/Shanghai\"")
            })?,
        };
        let cron = cron_of(days, at).ok_or_else(|| grammar(text))?;
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(&cron).map_err(|_| grammar(text))?;
        Ok(Self::By {
            text: text.to_string(),
            cron: Box::new(cron),
            zone,
        })
    }

    /// The expectation as ops wrote it (`every 1h` for `expect_every`).
    pub fn describe(&self) -> String {
        match self {
            Self::Every(every) => format!("every {}", humantime::format_duration(*every)),
            Self::By { text, .. } => text.clone(),
        }
    }

    /// When the connector becomes late if no input arrives after `last` (the last input, or the
    /// hub's start when there was none): the first deadline whose window has no input. `None`
    /// when the schedule has no such time.
    pub fn due(&self, last: SystemTime) -> Option<SystemTime> {
        match self {
            Self::Every(every) => last.checked_add(*every),
            Self::By { cron, zone, .. } => {
                let last = DateTime::<Utc>::from(last).with_timezone(zone);
                // The deadline `last` counts for, then the first one with nothing before it.
                let covered = cron.find_next_occurrence(&last, true).ok()?;
                let missed = cron.find_next_occurrence(&covered, false).ok()?;
                Some(missed.with_timezone(&Utc).into())
            }
        }
    }
}

fn grammar(text: &str) -> String {
    format!(
        "expect = \"{text}\" is not an expectation; write \"daily by 02:00 Asia/Shanghai\", \
         \"weekdays by 09:30\", \"mon,thu by 18:00 Asia/Shanghai\" or \"hourly by :15\", or use \
         expect_every = \"1h\""
    )
}

/// The 5-field cron expression of `days` at `at` (`HH:MM`, or `:MM` for `hourly`).
fn cron_of(days: &str, at: &str) -> Option<String> {
    if days == "hourly" {
        let minute: u8 = at.strip_prefix(':')?.parse().ok().filter(|m| *m < 60)?;
        return Some(format!("{minute} * * * *"));
    }
    let (hour, minute) = at.split_once(':')?;
    let hour: u8 = hour.parse().ok().filter(|h| *h < 24)?;
    let minute: u8 = minute.parse().ok().filter(|m| *m < 60)?;
    let weekdays = match days {
        "daily" => "*".to_string(),
        "weekdays" => "1-5".to_string(),
        "weekends" => "0,6".to_string(),
        list => day_list(list)?,
    };
    Some(format!("{minute} {hour} * * {weekdays}"))
}

/// `mon,thu` as cron weekday numbers.
fn day_list(list: &str) -> Option<String> {
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let numbers: Option<Vec<String>> = list
        .split(',')
        .map(|day| {
            let day = day.to_ascii_lowercase();
            DAYS.iter()
                .position(|d| day.starts_with(d) && day.len() >= 3)
                .map(|n| n.to_string())
        })
        .collect();
    numbers.map(|n| n.join(","))
}

/// Watches one connector's freshness until `cancel` fires: marks it late when input is overdue,
/// and keeps the time of its last input in `store`.
pub async fn watch(
    expectation: Expectation,
    status: StatusHandle,
    store: Store,
    cancel: CancellationToken,
) {
    let id = status.connector().to_string();
    let started = SystemTime::now();
    let saved = saved_last_input(&store, &id).await;
    if let Some(saved) = saved {
        status.seed_last_input(saved);
    }
    let mut changes = status.subscribe();
    let mut kept = saved;
    loop {
        let last = status.get().last_input;
        if last != kept
            && let Some(at) = last
        {
            save_last_input(&store, &id, at).await;
            kept = last;
        }
        let due = expectation.due(last.unwrap_or(started));
        let wait = due
            .and_then(|due| due.duration_since(SystemTime::now()).ok())
            .unwrap_or(Duration::ZERO);
        if let Some(due) = due.filter(|_| wait.is_zero()) {
            status.late(due, &expectation.describe());
        }
        let sleep = async {
            match due.filter(|_| !wait.is_zero()) {
                Some(_) => tokio::time::sleep(wait).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = sleep => {}
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}

async fn saved_last_input(store: &Store, id: &str) -> Option<SystemTime> {
    let id = id.to_string();
    let value = store
        .read(move |conn| positions::get(conn, &id, LAST_INPUT))
        .await
        .ok()
        .flatten()?;
    let seconds: u64 = value.parse().ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

async fn save_last_input(store: &Store, id: &str, at: SystemTime) {
    let seconds = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string();
    let connector = id.to_string();
    let saved = store
        .write(move |conn| positions::set(conn, &connector, LAST_INPUT, &seconds))
        .await;
    if let Err(e) = saved {
        tracing::warn!(connector = %id, error = %e, "cannot keep the time of the last input");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        text.parse::<DateTime<Utc>>().expect("time").into()
    }

    #[test]
    fn daily_by_a_deadline_in_a_zone() {
        // 02:00 in Shanghai is 18:00 UTC the day before.
        let nightly = Expectation::parse("daily by 02:00 Asia/Shanghai").expect("parse");
        // Monday's file came at 01:30 (Shanghai): it counts for Monday's deadline, so the
        // connector is late only if nothing comes before Tuesday 02:00.
        let monday_file = at("2024-03-03T17:30:00Z");
        assert_eq!(nightly.due(monday_file), Some(at("2024-03-04T18:00:00Z")));
        // A file that came late (03:00, after Monday's deadline) counts for Tuesday's, so the
        // next one missed would be Wednesday's.
        let late_file = at("2024-03-03T19:00:00Z");
        assert_eq!(nightly.due(late_file), Some(at("2024-03-05T18:00:00Z")));
        assert_eq!(nightly.describe(), "daily by 02:00 Asia/Shanghai");
    }

    #[test]
    fn weekdays_skip_the_weekend_and_every_adds_its_period() {
        let weekdays = Expectation::parse("weekdays by 09:30").expect("parse");
        // Friday 08:00 UTC covers Friday 09:30; the next deadline is Monday's.
        let friday = at("2024-03-01T08:00:00Z");
        assert_eq!(weekdays.due(friday), Some(at("2024-03-04T09:30:00Z")));
        let hourly = Expectation::parse("hourly by :15").expect("parse");
        assert_eq!(
            hourly.due(at("2024-03-01T08:20:00Z")),
            Some(at("2024-03-01T10:15:00Z"))
        );
        let every = Expectation::Every(Duration::from_secs(3600));
        assert_eq!(
            every.due(at("2024-03-01T08:00:00Z")),
            Some(at("2024-03-01T09:00:00Z"))
        );
        let days = Expectation::parse("mon,thu by 18:00").expect("parse");
        assert_eq!(
            days.due(at("2024-03-04T12:00:00Z")),
            Some(at("2024-03-07T18:00:00Z"))
        );
    }

    #[test]
    fn bad_expectations_say_what_to_write() {
        for bad in [
            "daily at 02:00",
            "daily by 25:00",
            "sometimes by 02:00",
            "hourly by 15",
        ] {
            let e = Expectation::parse(bad).expect_err(bad);
            assert!(e.contains("daily by 02:00 Asia/Shanghai"), "{e}");
        }
        let zone = Expectation::parse("daily by 02:00 Mars/Base").expect_err("zone");
        assert!(zone.contains("IANA"), "{zone}");
    }

    #[tokio::test]
    async fn a_connector_turns_late_and_input_clears_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let status = StatusHandle::detached("erp");
        let cancel = CancellationToken::new();
        let watcher = tokio::spawn(watch(
            Expectation::Every(Duration::from_millis(300)),
            status.clone(),
            store.clone(),
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(status.get().late.is_none(), "late before its period");
        let mut changes = status.subscribe();
        // The borrow `wait_for` returns is dropped at once: it holds the status's lock.
        let turned = tokio::time::timeout(
            Duration::from_secs(10),
            changes.wait_for(|s| s.late.is_some()),
        )
        .await
        .is_ok_and(|changed| changed.is_ok());
        assert!(turned, "not late after its period");
        let late = status.get().late.expect("late after its period");
        assert_eq!(late.expected, "every 300ms");
        status.input();
        assert!(status.get().late.is_none(), "input clears late");
        tokio::task::yield_now().await;
        cancel.cancel();
        watcher.await.expect("watcher");
        let kept = saved_last_input(&store, "erp").await;
        assert!(kept.is_some(), "the last input is kept in the store");
    }
}
