//! Where a `sql` connector is: the watermark — the (timestamp, id) of the last row taken in
//! poll order — and, with a commit lag, the window set — the keys of the rows taken whose
//! timestamp lies within `commit_lag` of the watermark — and which rows of a poll are taken.
//!
//! A poll reads the rows from `since` on in (timestamp, id) order. Without a lag, `since` is the
//! watermark itself and every row read is new. With a lag, `since` is `watermark.ts - lag` (never
//! before `initial`): the rows read up to the watermark are the window, re-read each poll; a
//! window row whose key is not in the window set was committed late with an older timestamp and
//! is taken now; the others were taken before and are skipped. Rows after the watermark are new.
//! The window set holds both kinds, so a taken row is never taken again while its timestamp is
//! inside the window, and once the window has moved past it the query no longer reads it; the set
//! is pruned to the window as the watermark moves. The poll's limit is `batch_size` plus the
//! window set's size, so skipped window rows never use up a batch.
//!
//! Both are saved as text in the state store's positions (`watermark`, `window`), together, only
//! after the batch's events are settled.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

/// A timestamp of the timestamp column: an instant (TIMESTAMPTZ, MySQL TIMESTAMP), held in UTC,
/// or a naive date and time (TIMESTAMP, DATETIME), held as written. Sessions run in UTC, so the
/// database compares both the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The date and time; UTC for an instant.
    pub at: NaiveDateTime,
    /// Whether it is an instant.
    pub zoned: bool,
}

impl Stamp {
    /// `1970-01-01T00:00:00`, where a connector with no `initial` starts.
    pub fn epoch() -> Self {
        Self {
            at: NaiveDateTime::default(),
            zoned: false,
        }
    }

    /// Reads RFC 3339 with an offset (an instant), or a naive `YYYY-MM-DDTHH:MM:SS[.f]` (a space
    /// may replace the `T`), or a date (its midnight).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self {
                at: instant.naive_utc(),
                zoned: true,
            });
        }
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
            .or_else(|_| NaiveDate::parse_from_str(text, "%Y-%m-%d").map(|d| d.into()));
        naive.map(|at| Self { at, zoned: false }).map_err(|_| {
            format!(
                "\"{text}\" is not a timestamp; write RFC 3339 (\"2024-03-01T08:00:00+08:00\"), \
                     a naive date and time (\"2024-03-01T08:00:00\") or a date (\"2024-03-01\")"
            )
        })
    }
}

impl fmt::Display for Stamp {
    /// RFC 3339 in UTC (`...Z`) for an instant; `YYYY-MM-DDTHH:MM:SS[.f]` for a naive value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at.format("%Y-%m-%dT%H:%M:%S%.f"))?;
        if self.zoned {
            f.write_str("Z")?;
        }
        Ok(())
    }
}

/// A row's place in poll order: its timestamp (UTC for an instant), then its id.
pub type Key = (NaiveDateTime, i64);

/// The (timestamp, id) of the last row taken in poll order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    pub ts: Stamp,
    /// `i64::MIN` before the first row: every row at `ts` is after it.
    pub id: i64,
}

impl Watermark {
    /// Before every row at `ts` or later.
    pub fn before(ts: Stamp) -> Self {
        Self { ts, id: i64::MIN }
    }

    pub fn key(&self) -> Key {
        (self.ts.at, self.id)
    }

    /// Reads `<timestamp>/<id>`, or a bare timestamp (before every row at it) as ops may set it
    /// with `omnibus offsets reset --to`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some((ts, id)) = text.rsplit_once('/') else {
            return Stamp::parse(text).map(Self::before);
        };
        let id = id
            .trim()
            .parse()
            .map_err(|_| format!("watermark \"{text}\": \"{id}\" is not an integer id"))?;
        Ok(Self {
            ts: Stamp::parse(ts)?,
            id,
        })
    }
}

impl fmt::Display for Watermark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ts, self.id)
    }
}

/// The keys of the rows taken whose timestamp lies within the commit-lag window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window(BTreeSet<Key>);

impl Window {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.0.contains(key)
    }

    /// Forgets the keys before `from`.
    pub fn prune(&mut self, from: NaiveDateTime) {
        self.0 = self.0.split_off(&(from, i64::MIN));
    }

    /// Reads the saved form, a JSON array of `["<naive UTC timestamp>", id]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let pairs: Vec<(String, i64)> = serde_json::from_str(text)
            .map_err(|e| format!("the saved commit-lag window is unreadable: {e}"))?;
        pairs
            .into_iter()
            .map(|(ts, id)| Stamp::parse(&ts).map(|s| (s.at, id)))
            .collect::<Result<BTreeSet<Key>, String>>()
            .map(Self)
    }

    /// The saved form.
    pub fn to_text(&self) -> String {
        let pairs: Vec<(String, i64)> = self
            .0
            .iter()
            .map(|(at, id)| (at.format("%Y-%m-%dT%H:%M:%S%.f").to_string(), *id))
            .collect();
        serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_string())
    }
}

/// What a poll does with a row it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// After the watermark.
    New,
    /// Inside the window, not taken before: committed late with an older timestamp.
    Late,
    /// Taken before, or before the window.
    Skip,
}

/// A connector's position and the rules it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub mark: Watermark,
    pub window: Window,
    /// How late a row may be committed after rows with later timestamps.
    pub lag: Duration,
    /// Rows before it are never read (`initial`).
    pub floor: NaiveDateTime,
}

impl Position {
    /// The watermark and limit of the poll query.
    pub fn since(&self, batch_size: u32) -> (Watermark, i64) {
        if self.lag.is_zero() {
            return (self.mark, i64::from(batch_size));
        }
        let ts = Stamp {
            at: self.window_start(),
            zoned: self.mark.ts.zoned,
        };
        let limit = i64::from(batch_size).saturating_add(self.window.len() as i64);
        (Watermark::before(ts), limit)
    }

    /// The oldest timestamp of the window: `lag` before the watermark, not before the floor.
    fn window_start(&self) -> NaiveDateTime {
        let lag = chrono::Duration::from_std(self.lag).unwrap_or(chrono::Duration::MAX);
        let start = self
            .mark
            .ts
            .at
            .checked_sub_signed(lag)
            .unwrap_or(NaiveDateTime::MIN);
        start.max(self.floor)
    }

    /// Whether the poll takes the row at `key`.
    pub fn take(&self, key: &Key) -> Take {
        if *key > self.mark.key() {
            return Take::New;
        }
        let late =
            !self.lag.is_zero() && key.0 >= self.window_start() && !self.window.contains(key);
        if late { Take::Late } else { Take::Skip }
    }

    /// The position once the rows at `taken` (with whether their timestamps are instants) are
    /// settled: the watermark moves to the last new one, the window takes them all and forgets
    /// what the moved window left behind.
    pub fn after(&self, taken: &[(Key, bool)]) -> Position {
        let mut next = self.clone();
        for &(key, zoned) in taken {
            if key > next.mark.key() {
                next.mark = Watermark {
                    ts: Stamp { at: key.0, zoned },
                    id: key.1,
                };
            }
            if !self.lag.is_zero() {
                next.window.0.insert(key);
            }
        }
        let start = next.window_start();
        next.window.prune(start);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        Stamp::parse(text).unwrap().at
    }

    fn position(lag: u64) -> Position {
        Position {
            mark: Watermark::parse("2024-03-01T10:00:00/7").unwrap(),
            window: Window::default(),
            lag: Duration::from_secs(lag),
            floor: NaiveDateTime::default(),
        }
    }

    #[test]
    fn stamps_and_watermarks_read_what_they_write() {
        let zoned = Stamp::parse("2024-03-01T18:00:00.25+08:00").unwrap();
        assert_eq!(zoned.to_string(), "2024-03-01T10:00:00.250Z");
        let naive = Stamp::parse("2024-03-01 18:00:00").unwrap();
        assert_eq!(
            (naive.to_string(), naive.zoned),
            ("2024-03-01T18:00:00".into(), false)
        );
        assert_eq!(
            Stamp::parse("2024-03-01").unwrap().at,
            at("2024-03-01T00:00:00")
        );
        assert!(Stamp::parse("yesterday").unwrap_err().contains("RFC 3339"));
        let mark = Watermark::parse("2024-03-01T10:00:00.250Z/42").unwrap();
        assert_eq!(Watermark::parse(&mark.to_string()), Ok(mark));
        assert_eq!(Watermark::parse("2024-03-01").unwrap().id, i64::MIN);
        assert!(
            Watermark::parse("2024-03-01/x")
                .unwrap_err()
                .contains("integer id")
        );
    }

    #[test]
    fn without_a_lag_the_poll_starts_at_the_watermark() {
        let p = position(0);
        assert_eq!(p.since(100), (p.mark, 100));
        assert_eq!(p.take(&(at("2024-03-01T10:00:00"), 8)), Take::New);
        assert_eq!(p.take(&(at("2024-03-01T10:00:00"), 7)), Take::Skip);
        let next = p.after(&[((at("2024-03-01T10:00:05"), 3), true)]);
        assert_eq!(next.mark.to_string(), "2024-03-01T10:00:05Z/3");
        assert_eq!(next.window.len(), 0);
    }

    #[test]
    fn a_late_row_in_the_window_is_taken_once() {
        let p = position(60);
        let (since, limit) = p.since(10);
        assert_eq!(
            (since.to_string(), limit),
            (format!("2024-03-01T09:59:00/{}", i64::MIN), 10)
        );
        let taken = (at("2024-03-01T09:59:30"), 3);
        let p = p.after(&[(taken, false), ((at("2024-03-01T10:00:00"), 9), false)]);
        assert_eq!(
            p.since(10).1,
            12,
            "the window's rows are read again on top of a batch"
        );
        assert_eq!(p.take(&taken), Take::Skip);
        assert_eq!(p.take(&(at("2024-03-01T09:59:40"), 11)), Take::Late);
        assert_eq!(
            p.take(&(at("2024-03-01T09:58:00"), 12)),
            Take::Skip,
            "before the window"
        );
        assert_eq!(p.take(&(at("2024-03-01T10:00:00"), 10)), Take::New);
    }

    #[test]
    fn the_window_set_is_pruned_as_the_watermark_moves() {
        let p = position(60).after(&[
            ((at("2024-03-01T09:59:10"), 1), false),
            ((at("2024-03-01T09:59:50"), 2), false),
        ]);
        assert_eq!(p.window.len(), 2);
        let p = p.after(&[((at("2024-03-01T10:00:30"), 3), false)]);
        assert_eq!(p.mark.to_string(), "2024-03-01T10:00:30/3");
        assert!(!p.window.contains(&(at("2024-03-01T09:59:10"), 1)));
        assert_eq!(p.window.len(), 2);
        assert_eq!(Window::parse(&p.window.to_text()), Ok(p.window.clone()));
        assert!(Window::parse("{").unwrap_err().contains("unreadable"));
    }

    #[test]
    fn the_window_never_reaches_before_the_floor() {
        let mut p = position(3600);
        p.floor = at("2024-03-01T09:30:00");
        assert_eq!(p.since(5).0.ts.at, p.floor);
        assert_eq!(p.take(&(at("2024-03-01T09:10:00"), 1)), Take::Skip);
        assert_eq!(p.take(&(at("2024-03-01T09:40:00"), 1)), Take::Late);
    }
}
