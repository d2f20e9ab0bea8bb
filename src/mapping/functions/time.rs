//! Dates and times: reading them with a format (`parse_datetime`, `parse_date`), writing them
//! (`format_datetime`), changing zone (`to_zone`), arithmetic (`add_days`, `add_hours`,
//! `add_minutes`, `days_between`) and the business day of a sale (`business_day`).
//!
//! Dates are `YYYY-MM-DD` and date-times RFC 3339 with an offset, written exactly as the `date`
//! and `datetime` field types write them; naive times are placed in a zone by the same
//! daylight-saving rules ([`localize`]).

use super::args::{fail, none, operand, param_int, param_str};
use crate::config::toml_de::did_you_mean;
use crate::mapping::convert::localize;
use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, TimeDelta};
use chrono_tz::Tz;
use minijinja::{Environment, Error, State, Value};
use std::fmt::Write as _;

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("parse_datetime", parse_datetime);
    env.add_filter("parse_date", parse_date);
    env.add_filter("format_datetime", format_datetime);
    env.add_filter("to_zone", to_zone);
    env.add_filter("add_days", add_days);
    env.add_filter("add_hours", add_hours);
    env.add_filter("add_minutes", add_minutes);
    env.add_filter("business_day", business_day);
    env.add_function("days_between", days_between);
}

/// A date or a date-time, as values carry them.
enum Moment {
    Date(NaiveDate),
    DateTime(DateTime<FixedOffset>),
}

impl Moment {
    fn read(name: &str, text: &str) -> Result<Self, Error> {
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Self::Date(date));
        }
        DateTime::parse_from_rfc3339(text)
            .map(Self::DateTime)
            .map_err(|_| {
                fail(
                    name,
                    format!(
                        "cannot read \"{text}\" as a date (YYYY-MM-DD) or an RFC 3339 date-time \
                         (such as 2024-03-01T10:15:00+08:00)"
                    ),
                )
            })
    }

    /// The date-time, or an error saying that `name` needs one.
    fn date_time(self, name: &str, text: &str) -> Result<DateTime<FixedOffset>, Error> {
        match self {
            Self::DateTime(dt) => Ok(dt),
            Self::Date(_) => Err(fail(
                name,
                format!("\"{text}\" is a date; {name} needs a date-time with a time and offset"),
            )),
        }
    }

    /// The calendar date (of a date-time: in its own offset).
    fn date(&self) -> NaiveDate {
        match self {
            Self::Date(date) => *date,
            Self::DateTime(dt) => dt.date_naive(),
        }
    }
}

/// The moment in `value`; `None` when it has no value.
fn read(state: &State, name: &str, value: &Value) -> Result<Option<(Moment, String)>, Error> {
    operand(state, name, value)?
        .map(|text| Moment::read(name, &text).map(|m| (m, text.into_owned())))
        .transpose()
}

/// The date-time in `value`; `None` when it has no value.
fn read_instant(
    state: &State,
    name: &str,
    value: &Value,
) -> Result<Option<DateTime<FixedOffset>>, Error> {
    read(state, name, value)?
        .map(|(moment, text)| moment.date_time(name, &text))
        .transpose()
}

fn date_value(date: NaiveDate) -> Value {
    Value::from(date.to_string())
}

/// RFC 3339 as the `datetime` field type writes it.
fn datetime_value(dt: DateTime<FixedOffset>) -> Value {
    Value::from(dt.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}

/// The IANA zone named by `value`, with a "did you mean" when it is unknown.
fn zone(name: &str, value: &Value) -> Result<Tz, Error> {
    let text = param_str(name, "time zone", value)?;
    text.parse().map_err(|_| {
        let zones: Vec<String> = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|z| z.name().to_string())
            .collect();
        let hint = match did_you_mean(text, &zones) {
            Some(best) => format!("; did you mean \"{best}\"?"),
            None => " (use an IANA zone such as \"Asia/Shanghai\" or \"UTC\")".into(),
        };
        fail(name, format!("unknown time zone \"{text}\"{hint}"))
    })
}

/// The chrono strftime format in `value`, parsed.
fn format_items<'a>(name: &str, value: &'a Value) -> Result<(&'a str, Vec<Item<'a>>), Error> {
    let text = param_str(name, "format", value)?;
    StrftimeItems::new(text)
        .parse()
        .map(|items| (text, items))
        .map_err(|_| {
            fail(
                name,
                format!("invalid format \"{text}\" (see chrono's strftime specifiers)"),
            )
        })
}

/// `text` read by `items`; the error names the `kind` of value (date, date-time) expected.
fn parse(kind: &str, text: &str, format: &str, items: &[Item<'_>]) -> Result<Parsed, String> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, items.iter())
        .map(|()| parsed)
        .map_err(|e| format!("cannot read \"{text}\" as a {kind} with format \"{format}\" ({e})"))
}

/// Reads a date-time with `format`; without `%z` in it, the time is local to `tz`. A Unix
/// timestamp (`%s`) is an instant, written in `tz` (UTC without one).
fn parse_datetime(
    state: &State,
    value: &Value,
    format: &Value,
    tz: Option<&Value>,
) -> Result<Value, Error> {
    const NAME: &str = "parse_datetime";
    let (format, items) = format_items(NAME, format)?;
    let tz = tz.map(|tz| zone(NAME, tz)).transpose()?;
    let Some(text) = operand(state, NAME, value)? else {
        return Ok(none());
    };
    let parsed = parse("date-time", &text, format, &items).map_err(|e| fail(NAME, e))?;
    let unreadable = |e| {
        fail(
            NAME,
            format!("cannot read \"{text}\" as a date-time with format \"{format}\" ({e})"),
        )
    };
    if parsed.offset().is_some() {
        return parsed.to_datetime().map(datetime_value).map_err(unreadable);
    }
    if parsed.timestamp().is_some() {
        let tz = tz.unwrap_or(Tz::UTC);
        return parsed
            .to_datetime_with_timezone(&tz)
            .map(|dt| datetime_value(dt.fixed_offset()))
            .map_err(unreadable);
    }
    let Some(tz) = tz else {
        return Err(fail(
            NAME,
            format!(
                "format \"{format}\" reads no UTC offset (%z); give the zone the times are in, \
                 such as parse_datetime('{format}', 'Asia/Shanghai')"
            ),
        ));
    };
    let naive = parsed
        .to_naive_datetime_with_offset(0)
        .map_err(unreadable)?;
    localize(naive, tz, &text)
        .map(datetime_value)
        .map_err(|e| fail(NAME, e))
}

fn parse_date(state: &State, value: &Value, format: &Value) -> Result<Value, Error> {
    const NAME: &str = "parse_date";
    let (format, items) = format_items(NAME, format)?;
    let Some(text) = operand(state, NAME, value)? else {
        return Ok(none());
    };
    parse("date", &text, format, &items)
        .and_then(|parsed| {
            parsed.to_naive_date().map_err(|e| {
                format!("cannot read \"{text}\" as a date with format \"{format}\" ({e})")
            })
        })
        .map(date_value)
        .map_err(|e| fail(NAME, e))
}

/// Writes a date or date-time with a chrono format.
fn format_datetime(state: &State, value: &Value, format: &Value) -> Result<Value, Error> {
    const NAME: &str = "format_datetime";
    let (format, items) = format_items(NAME, format)?;
    let Some((moment, text)) = read(state, NAME, value)? else {
        return Ok(none());
    };
    let mut out = String::new();
    let written = match moment {
        Moment::Date(date) => write!(out, "{}", date.format_with_items(items.iter())),
        Moment::DateTime(dt) => write!(out, "{}", dt.format_with_items(items.iter())),
    };
    written
        .map(|()| Value::from(out))
        .map_err(|_| fail(NAME, format!("format \"{format}\" cannot write \"{text}\"")))
}

/// The same instant in another zone.
fn to_zone(state: &State, value: &Value, tz: &Value) -> Result<Value, Error> {
    const NAME: &str = "to_zone";
    let tz = zone(NAME, tz)?;
    Ok(read_instant(state, NAME, value)?.map_or_else(none, |dt| {
        datetime_value(dt.with_timezone(&tz).fixed_offset())
    }))
}

/// What `add_days`, `add_hours` and `add_minutes` add.
#[derive(Clone, Copy)]
enum Unit {
    Days,
    Hours,
    Minutes,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Self::Days => "days",
            Self::Hours => "hours",
            Self::Minutes => "minutes",
        }
    }

    fn delta(self, n: i64) -> Option<TimeDelta> {
        match self {
            Self::Days => TimeDelta::try_days(n),
            Self::Hours => TimeDelta::try_hours(n),
            Self::Minutes => TimeDelta::try_minutes(n),
        }
    }
}

/// Adds `n` `unit`s to a date or date-time, keeping its kind; only days can be added to a date.
fn shift(state: &State, name: &str, value: &Value, n: &Value, unit: Unit) -> Result<Value, Error> {
    let n = param_int(name, &format!("number of {}", unit.name()), n)?;
    let Some((moment, text)) = read(state, name, value)? else {
        return Ok(none());
    };
    let out_of_range = || {
        fail(
            name,
            format!("\"{text}\" plus {n} {} is out of range", unit.name()),
        )
    };
    let delta = unit.delta(n).ok_or_else(out_of_range)?;
    match (moment, unit) {
        (Moment::Date(date), Unit::Days) => date
            .checked_add_signed(delta)
            .map(date_value)
            .ok_or_else(out_of_range),
        (moment, _) => moment
            .date_time(name, &text)?
            .checked_add_signed(delta)
            .map(datetime_value)
            .ok_or_else(out_of_range),
    }
}

fn add_days(state: &State, value: &Value, n: &Value) -> Result<Value, Error> {
    shift(state, "add_days", value, n, Unit::Days)
}

fn add_hours(state: &State, value: &Value, n: &Value) -> Result<Value, Error> {
    shift(state, "add_hours", value, n, Unit::Hours)
}

fn add_minutes(state: &State, value: &Value, n: &Value) -> Result<Value, Error> {
    shift(state, "add_minutes", value, n, Unit::Minutes)
}

/// Calendar days from `a` to `b` (negative when `b` is earlier); none when either has no value.
fn days_between(state: &State, a: &Value, b: &Value) -> Result<Value, Error> {
    const NAME: &str = "days_between";
    Ok(match (read(state, NAME, a)?, read(state, NAME, b)?) {
        (Some((a, _)), Some((b, _))) => {
            Value::from(b.date().signed_duration_since(a.date()).num_days())
        }
        _ => none(),
    })
}

/// The business date of a date-time: its date, or the day before when its time of day (in its
/// own offset, or in `tz`) is before `cutover`.
fn business_day(
    state: &State,
    value: &Value,
    cutover: &Value,
    tz: Option<&Value>,
) -> Result<Value, Error> {
    const NAME: &str = "business_day";
    let cutover_text = param_str(NAME, "cut-over", cutover)?;
    let cutover = ["%H:%M", "%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(cutover_text, f).ok())
        .ok_or_else(|| {
            fail(
                NAME,
                format!(
                    "the cut-over must be a time of day such as '04:00', got \"{cutover_text}\""
                ),
            )
        })?;
    let tz = tz.map(|tz| zone(NAME, tz)).transpose()?;
    let Some(dt) = read_instant(state, NAME, value)? else {
        return Ok(none());
    };
    let local = match tz {
        Some(tz) => dt.with_timezone(&tz).naive_local(),
        None => dt.naive_local(),
    };
    let date = if local.time() < cutover {
        local.date().pred_opt()
    } else {
        Some(local.date())
    };
    date.map(date_value)
        .ok_or_else(|| fail(NAME, format!("\"{}\" is out of range", datetime_value(dt))))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, error, eval};

    #[test]
    fn naive_times_are_placed_in_their_zone() {
        check(&[
            (
                "'20240301 101500' | parse_datetime('%Y%m%d %H%M%S', 'Asia/Shanghai')",
                "2024-03-01T10:15:00+08:00",
            ),
            (
                "'2024-03-01 10:15:00.5' | parse_datetime('%Y-%m-%d %H:%M:%S%.f', 'UTC')",
                "2024-03-01T10:15:00.500+00:00",
            ),
            (
                "'01.03.2024 10:15 +0100' | parse_datetime('%d.%m.%Y %H:%M %z')",
                "2024-03-01T10:15:00+01:00",
            ),
            (
                "'01.03.2024 10:15 +0100' | parse_datetime('%d.%m.%Y %H:%M %z', 'Asia/Shanghai')",
                "2024-03-01T10:15:00+01:00",
            ),
            ("'' | parse_datetime('%Y', 'UTC')", "(none)"),
            (
                "'1709259300' | parse_datetime('%s', 'Asia/Shanghai')",
                "2024-03-01T10:15:00+08:00",
            ),
            (
                "'1709259300' | parse_datetime('%s')",
                "2024-03-01T02:15:00+00:00",
            ),
        ]);
    }

    #[test]
    fn functions_chain_on_columns() {
        let night_sale = eval(
            "SOLD_AT | parse_datetime('%Y%m%d%H%M%S', 'Asia/Shanghai') | business_day('04:00')",
            &[("SOLD_AT", "20240302021500")],
        );
        assert_eq!(night_sale.unwrap().as_str(), Some("2024-03-01"));
        let due = eval(
            "BUDAT | parse_date('%Y%m%d') | add_days(30)",
            &[("BUDAT", "20240201")],
        );
        assert_eq!(due.unwrap().as_str(), Some("2024-03-02"));
    }

    #[test]
    fn daylight_saving_follows_the_datetime_type() {
        assert_eq!(
            error("'2024-03-31 02:30' | parse_datetime('%Y-%m-%d %H:%M', 'Europe/Berlin')"),
            "parse_datetime: \"2024-03-31 02:30\" does not exist in Europe/Berlin \
             (skipped by a daylight-saving change)"
        );
        check(&[(
            "'2024-10-27 02:30' | parse_datetime('%Y-%m-%d %H:%M', 'Europe/Berlin')",
            "2024-10-27T02:30:00+02:00",
        )]);
    }

    #[test]
    fn parse_datetime_errors() {
        assert_eq!(
            error("'2024-03-01 10:15' | parse_datetime('%Y-%m-%d %H:%M')"),
            "parse_datetime: format \"%Y-%m-%d %H:%M\" reads no UTC offset (%z); give the zone \
             the times are in, such as parse_datetime('%Y-%m-%d %H:%M', 'Asia/Shanghai')"
        );
        assert_eq!(
            error("'2024-02-30 10:15' | parse_datetime('%Y-%m-%d %H:%M', 'UTC')"),
            "parse_datetime: cannot read \"2024-02-30 10:15\" as a date-time with format \
             \"%Y-%m-%d %H:%M\" (input is out of range)"
        );
        assert_eq!(
            error("'2024-03-01' | parse_datetime('%Y-%m-%d', 'UTC')"),
            "parse_datetime: cannot read \"2024-03-01\" as a date-time with format \
             \"%Y-%m-%d\" (input is not enough for unique date and time)"
        );
        assert_eq!(
            error("'x' | parse_datetime('%Q', 'UTC')"),
            "parse_datetime: invalid format \"%Q\" (see chrono's strftime specifiers)"
        );
    }

    #[test]
    fn unknown_zones_get_a_did_you_mean() {
        assert_eq!(
            error("'20240301' | parse_datetime('%Y%m%d', 'Asia/Shangai')"),
            "parse_datetime: unknown time zone \"Asia/Shangai\"; did you mean \"Asia/Shanghai\"?"
        );
        assert_eq!(
            error("'2024-03-01T10:15:00+08:00' | to_zone('Nowhere')"),
            "to_zone: unknown time zone \"Nowhere\" \
             (use an IANA zone such as \"Asia/Shanghai\" or \"UTC\")"
        );
    }

    #[test]
    fn dates_are_read_with_a_format() {
        check(&[
            ("'20170719' | parse_date('%Y%m%d')", "2017-07-19"),
            ("'19.07.2017' | parse_date('%d.%m.%Y')", "2017-07-19"),
            ("none | parse_date('%Y%m%d')", "(none)"),
        ]);
        assert_eq!(
            error("'20171301' | parse_date('%Y%m%d')"),
            "parse_date: cannot read \"20171301\" as a date with format \"%Y%m%d\" \
             (input is out of range)"
        );
        assert_eq!(
            error("'201707' | parse_date('%Y%m')"),
            "parse_date: cannot read \"201707\" as a date with format \"%Y%m\" \
             (input is not enough for unique date and time)"
        );
    }

    #[test]
    fn dates_and_times_are_formatted() {
        check(&[
            (
                "'2024-03-01T10:15:00+08:00' | format_datetime('%Y%m%d %H:%M')",
                "20240301 10:15",
            ),
            (
                "'2024-03-01T10:15:00+08:00' | format_datetime('%d/%m/%Y %z')",
                "01/03/2024 +0800",
            ),
            ("'2024-03-01' | format_datetime('%d.%m.%Y')", "01.03.2024"),
        ]);
        assert_eq!(
            error("'2024-03-01' | format_datetime('%H:%M')"),
            "format_datetime: format \"%H:%M\" cannot write \"2024-03-01\""
        );
        assert_eq!(
            error("'2024-03-01 10:15' | format_datetime('%Y')"),
            "format_datetime: cannot read \"2024-03-01 10:15\" as a date (YYYY-MM-DD) or an \
             RFC 3339 date-time (such as 2024-03-01T10:15:00+08:00)"
        );
    }

    #[test]
    fn instants_change_zone() {
        check(&[
            (
                "'2024-03-01T10:15:00+08:00' | to_zone('Europe/Berlin')",
                "2024-03-01T03:15:00+01:00",
            ),
            (
                "'2024-07-01T10:15:00+08:00' | to_zone('Europe/Berlin')",
                "2024-07-01T04:15:00+02:00",
            ),
            (
                "'2024-03-01T02:15:00Z' | to_zone('Asia/Shanghai')",
                "2024-03-01T10:15:00+08:00",
            ),
        ]);
        assert_eq!(
            error("'2024-03-01' | to_zone('UTC')"),
            "to_zone: \"2024-03-01\" is a date; to_zone needs a date-time with a time and offset"
        );
    }

    #[test]
    fn arithmetic_keeps_the_kind_of_value() {
        check(&[
            ("'2024-02-28' | add_days(1)", "2024-02-29"),
            ("'2024-03-01' | add_days(-1)", "2024-02-29"),
            ("'2024-03-01' | add_days('30')", "2024-03-31"),
            (
                "'2024-03-01T23:30:00+08:00' | add_days(1)",
                "2024-03-02T23:30:00+08:00",
            ),
            (
                "'2024-03-01T23:30:00+08:00' | add_hours(1)",
                "2024-03-02T00:30:00+08:00",
            ),
            (
                "'2024-03-01T00:10:00+08:00' | add_minutes(-15)",
                "2024-02-29T23:55:00+08:00",
            ),
            ("none | add_hours(1)", "(none)"),
        ]);
        assert_eq!(
            error("'2024-03-01' | add_hours(2)"),
            "add_hours: \"2024-03-01\" is a date; add_hours needs a date-time with a time and offset"
        );
        assert_eq!(
            error("'2024-03-01' | add_days(9999999999)"),
            "add_days: \"2024-03-01\" plus 9999999999 days is out of range"
        );
        assert_eq!(
            error("'2024-03-01' | add_days('x')"),
            "add_days: the number of days must be a whole number, got x"
        );
    }

    #[test]
    fn days_between_counts_calendar_days() {
        check(&[
            ("days_between('2024-02-28', '2024-03-01')", "2"),
            ("days_between('2024-03-01', '2024-02-28')", "-2"),
            (
                "days_between('2024-03-01T23:59:00+08:00', '2024-03-02T00:01:00+08:00')",
                "1",
            ),
            ("days_between('2024-03-01', '')", "(none)"),
        ]);
    }

    #[test]
    fn business_day_before_and_after_cutover() {
        check(&[
            (
                "'2024-03-02T02:00:00+08:00' | business_day('04:00')",
                "2024-03-01",
            ),
            (
                "'2024-03-02T04:00:00+08:00' | business_day('04:00')",
                "2024-03-02",
            ),
            (
                "'2024-03-02T03:59:59+08:00' | business_day('04:00')",
                "2024-03-01",
            ),
            (
                "'2024-03-01T19:00:00Z' | business_day('04:00', 'Asia/Shanghai')",
                "2024-03-01",
            ),
            (
                "'2024-03-01T20:30:00Z' | business_day('04:00', 'Asia/Shanghai')",
                "2024-03-02",
            ),
            (
                "'2024-03-02T00:00:00+08:00' | business_day('00:00')",
                "2024-03-02",
            ),
            ("'' | business_day('04:00')", "(none)"),
        ]);
        assert_eq!(
            error("'2024-03-02T02:00:00+08:00' | business_day('4am')"),
            "business_day: the cut-over must be a time of day such as '04:00', got \"4am\""
        );
    }
}
