//! Typed conversions: the text of a source value (or of a constant) read as a field's output type
//! and written straight into the event's JSON.
//!
//! Decimals stay exact (rust_decimal, serialised as a string that keeps the scale); dates become
//! `YYYY-MM-DD`; date-times become RFC 3339 with an offset, naive inputs being placed in a zone.

use super::layout::Layout;
use super::output;
use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::offset::LocalResult;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use std::fmt::Write as _;
use std::str::FromStr;

/// A field's output type, as spelled in a mapping file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    #[default]
    String,
    Integer,
    Decimal,
    Boolean,
    Date,
    Datetime,
}

/// Words read as `true` and `false` (compared ignoring ASCII case).
const TRUE_WORDS: [&str; 5] = ["true", "1", "yes", "y", "t"];
const FALSE_WORDS: [&str; 5] = ["false", "0", "no", "n", "f"];

/// Date format used when a field names none, and for constants and defaults.
const DEFAULT_DATE_FORMAT: &str = "%Y-%m-%d";

/// Naive date-time forms accepted (with `tz`) when a date-time field names no format.
const NAIVE_ISO_FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"];

/// How to read one field's text and write it as JSON; built once per field at load.
#[derive(Debug)]
pub(super) enum Conversion {
    String,
    Integer,
    Decimal,
    Boolean,
    Date(Format),
    DateTime(DateTimeInput),
}

/// A chrono format, parsed once.
#[derive(Debug)]
pub(super) struct Format {
    text: String,
    items: Vec<Item<'static>>,
    /// The fast reader of the format's exact form, when it has one; chrono reads the rest.
    layout: Option<Layout>,
}

/// How a date-time field reads its input.
#[derive(Debug)]
pub(super) enum DateTimeInput {
    /// RFC 3339 with an offset; with a zone, naive ISO forms are accepted and placed in it.
    Rfc3339 { tz: Option<Tz> },
    /// An explicit format that reads the offset itself.
    WithOffset(Format),
    /// An explicit format without offset: times are local to `tz`.
    Local(Format, Tz),
}

impl Conversion {
    /// The conversion for a field of type `ty`, with the field's optional `format` and `tz`.
    /// Fails with a message when the format is invalid, incomplete for the type, or needs a zone.
    pub fn new(ty: FieldType, format: Option<&str>, tz: Option<Tz>) -> Result<Self, String> {
        Ok(match ty {
            FieldType::String => Self::String,
            FieldType::Integer => Self::Integer,
            FieldType::Decimal => Self::Decimal,
            FieldType::Boolean => Self::Boolean,
            FieldType::Date => Self::Date(date_format(format.unwrap_or(DEFAULT_DATE_FORMAT))?),
            FieldType::Datetime => Self::DateTime(match format {
                None => DateTimeInput::Rfc3339 { tz },
                Some(text) => datetime_format(text, tz)?,
            }),
        })
    }

    /// The conversion that reads constants and defaults: the output form of the type itself
    /// (`YYYY-MM-DD` dates, RFC 3339 date-times with an offset).
    pub fn canonical(ty: FieldType) -> Result<Self, String> {
        Self::new(ty, None, None)
    }

    /// Text fields keep their whitespace unless told to trim; every other type ignores it.
    pub fn is_string(&self) -> bool {
        matches!(self, Self::String)
    }

    /// Reads `text` and appends its JSON to `out`; on failure returns the reason, naming the text.
    pub fn write(&self, text: &str, out: &mut String) -> Result<(), String> {
        match self {
            Self::String => output::string(text, out),
            Self::Integer => {
                let n: i64 = text
                    .parse()
                    .map_err(|_| format!("cannot read \"{text}\" as an integer"))?;
                output::integer(n, out);
                Ok(())
            }
            Self::Decimal => write_decimal(text, out),
            Self::Boolean => {
                let b = read_bool(text)?;
                out.push_str(if b { "true" } else { "false" });
                Ok(())
            }
            Self::Date(format) => {
                output::date(format.read_date(text)?, out);
                Ok(())
            }
            Self::DateTime(input) => output::datetime(&input.read(text)?, out),
        }
    }

    /// The JSON of `text` as a whole value (for constants and defaults, converted once at load).
    pub fn to_json(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        self.write(text, &mut out)?;
        Ok(out)
    }

    /// [`Self::to_json`] as bytes.
    #[cfg(test)]
    pub fn json(&self, text: &str) -> Result<Vec<u8>, String> {
        self.to_json(text).map(String::into_bytes)
    }
}

impl Format {
    fn read_date(&self, text: &str) -> Result<NaiveDate, String> {
        if let Some(date) = self.layout.as_ref().and_then(|l| l.date(text)) {
            return Ok(date);
        }
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text, self.items.iter())
            .and_then(|()| parsed.to_naive_date())
            .map_err(|e| {
                format!(
                    "cannot read \"{text}\" as a date with format \"{}\" ({e})",
                    self.text
                )
            })
    }

    fn read(&self, text: &str) -> Result<Parsed, String> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text, self.items.iter())
            .map(|()| parsed)
            .map_err(|e| self.datetime_error(text, e))
    }

    /// A date-time without offset.
    fn read_naive(&self, text: &str) -> Result<NaiveDateTime, String> {
        if let Some(naive) = self.layout.as_ref().and_then(|l| l.datetime(text)) {
            return Ok(naive);
        }
        self.read(text)?
            .to_naive_datetime_with_offset(0)
            .map_err(|e| self.datetime_error(text, e))
    }

    fn datetime_error(&self, text: &str, e: chrono::ParseError) -> String {
        format!(
            "cannot read \"{text}\" as a date-time with format \"{}\" ({e})",
            self.text
        )
    }
}

impl DateTimeInput {
    fn read(&self, text: &str) -> Result<DateTime<FixedOffset>, String> {
        match self {
            Self::Rfc3339 { tz } => read_rfc3339(text, *tz),
            Self::WithOffset(format) => format
                .read(text)?
                .to_datetime()
                .map_err(|e| format.datetime_error(text, e)),
            Self::Local(format, tz) => localize(format.read_naive(text)?, *tz, text),
        }
    }
}

fn read_rfc3339(text: &str, tz: Option<Tz>) -> Result<DateTime<FixedOffset>, String> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Ok(dt);
    }
    let naive = NAIVE_ISO_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok());
    match (naive, tz) {
        (Some(naive), Some(tz)) => localize(naive, tz, text),
        (Some(_), None) => Err(format!(
            "\"{text}\" has no UTC offset; set `tz` on the field to the zone it is in"
        )),
        (None, _) => Err(format!(
            "cannot read \"{text}\" as an RFC 3339 date-time (such as 2024-03-01T10:15:00+08:00)"
        )),
    }
}

/// Places a naive time in `tz`; in a daylight-saving overlap the earlier instant is taken.
pub(super) fn localize(
    naive: NaiveDateTime,
    tz: Tz,
    text: &str,
) -> Result<DateTime<FixedOffset>, String> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => Ok(dt.fixed_offset()),
        LocalResult::None => Err(format!(
            "\"{text}\" does not exist in {tz} (skipped by a daylight-saving change)"
        )),
    }
}

/// A decimal already in the form rust_decimal writes is copied as it is; anything else is read
/// and written by rust_decimal.
fn write_decimal(text: &str, out: &mut String) -> Result<(), String> {
    if output::canonical_decimal(text, out) {
        return Ok(());
    }
    let d = Decimal::from_str(text).map_err(|_| format!("cannot read \"{text}\" as a decimal"))?;
    write!(out, "\"{d}\"").map_err(|e| e.to_string())
}

fn read_bool(text: &str) -> Result<bool, String> {
    if TRUE_WORDS.iter().any(|w| text.eq_ignore_ascii_case(w)) {
        Ok(true)
    } else if FALSE_WORDS.iter().any(|w| text.eq_ignore_ascii_case(w)) {
        Ok(false)
    } else {
        Err(format!(
            "cannot read \"{text}\" as a boolean (expected true/false, 1/0, yes/no, y/n or t/f)"
        ))
    }
}

/// A sample instant used to check that a format can read back what it describes.
fn sample() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2001-02-03T04:05:06.789+05:00").unwrap_or_default()
}

fn parse_format(text: &str) -> Result<(Format, Parsed), String> {
    let items = StrftimeItems::new(text)
        .parse_to_owned()
        .map_err(|_| format!("invalid format \"{text}\" (see chrono's strftime specifiers)"))?;
    let mut rendered = String::new();
    write!(rendered, "{}", sample().format_with_items(items.iter()))
        .map_err(|_| format!("invalid format \"{text}\""))?;
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, &rendered, items.iter())
        .map_err(|e| format!("format \"{text}\" cannot be used to read values ({e})"))?;
    Ok((
        Format {
            text: text.to_string(),
            layout: Layout::new(&items),
            items,
        },
        parsed,
    ))
}

fn date_format(text: &str) -> Result<Format, String> {
    let (format, parsed) = parse_format(text)?;
    match parsed.to_naive_date() {
        Ok(_) => Ok(format),
        Err(_) => Err(format!(
            "format \"{text}\" does not give a complete date (it needs year, month and day)"
        )),
    }
}

fn datetime_format(text: &str, tz: Option<Tz>) -> Result<DateTimeInput, String> {
    let (format, parsed) = parse_format(text)?;
    if parsed.to_naive_datetime_with_offset(0).is_err() {
        return Err(format!(
            "format \"{text}\" does not give a complete date and time"
        ));
    }
    match (parsed.offset().is_some(), tz) {
        (true, _) => Ok(DateTimeInput::WithOffset(format)),
        (false, Some(tz)) => Ok(DateTimeInput::Local(format, tz)),
        (false, None) => Err(format!(
            "format \"{text}\" reads no UTC offset (%z); set `tz` to the zone the times are in"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(ty: FieldType, format: Option<&str>, tz: Option<&str>) -> Conversion {
        let tz = tz.map(|t| t.parse::<Tz>().expect("zone"));
        Conversion::new(ty, format, tz).expect("conversion")
    }

    fn json(c: &Conversion, text: &str) -> Result<String, String> {
        c.json(text).map(|b| String::from_utf8(b).expect("utf-8"))
    }

    #[test]
    fn strings_are_escaped() {
        let c = conv(FieldType::String, None, None);
        assert_eq!(json(&c, "a\"b\\c\n").unwrap(), r#""a\"b\\c\n""#);
    }

    #[test]
    fn integers_are_numbers() {
        let c = conv(FieldType::Integer, None, None);
        assert_eq!(json(&c, "-0042").unwrap(), "-42");
        assert_eq!(
            json(&c, "4.5").unwrap_err(),
            "cannot read \"4.5\" as an integer"
        );
    }

    #[test]
    fn decimals_keep_their_scale_as_strings() {
        let c = conv(FieldType::Decimal, None, None);
        assert_eq!(json(&c, "12.000").unwrap(), "\"12.000\"");
        assert_eq!(json(&c, "-0.10").unwrap(), "\"-0.10\"");
        assert_eq!(
            json(&c, "79228162514264337593543950335.1").unwrap(),
            "\"79228162514264337593543950335\""
        );
        assert_eq!(
            json(&c, "12,x").unwrap_err(),
            "cannot read \"12,x\" as a decimal"
        );
    }

    #[test]
    fn booleans_accept_common_words_in_any_case() {
        let c = conv(FieldType::Boolean, None, None);
        for t in ["true", "TRUE", "1", "Yes", "y", "T"] {
            assert_eq!(json(&c, t).unwrap(), "true", "{t}");
        }
        for f in ["false", "0", "NO", "n", "f"] {
            assert_eq!(json(&c, f).unwrap(), "false", "{f}");
        }
        assert!(json(&c, "maybe").unwrap_err().contains("\"maybe\""));
    }

    #[test]
    fn dates_use_the_format_and_write_iso() {
        let c = conv(FieldType::Date, Some("%Y%m%d"), None);
        assert_eq!(json(&c, "20170719").unwrap(), "\"2017-07-19\"");
        assert_eq!(
            json(&c, "20171301").unwrap_err(),
            "cannot read \"20171301\" as a date with format \"%Y%m%d\" (input is out of range)"
        );
        let iso = conv(FieldType::Date, None, None);
        assert_eq!(json(&iso, "0042-01-02").unwrap(), "\"0042-01-02\"");
    }

    #[test]
    fn naive_datetimes_are_placed_in_their_zone() {
        let c = conv(
            FieldType::Datetime,
            Some("%Y-%m-%d %H:%M:%S"),
            Some("Asia/Shanghai"),
        );
        assert_eq!(
            json(&c, "2024-03-01 10:15:00").unwrap(),
            "\"2024-03-01T10:15:00+08:00\""
        );
    }

    #[test]
    fn daylight_saving_gaps_and_overlaps() {
        let c = conv(
            FieldType::Datetime,
            Some("%Y-%m-%d %H:%M"),
            Some("Europe/Berlin"),
        );
        assert!(
            json(&c, "2024-03-31 02:30")
                .unwrap_err()
                .contains("does not exist in Europe/Berlin")
        );
        assert_eq!(
            json(&c, "2024-10-27 02:30").unwrap(),
            "\"2024-10-27T02:30:00+02:00\""
        );
    }

    #[test]
    fn offsets_in_the_input_are_kept() {
        let rfc = conv(FieldType::Datetime, None, Some("Asia/Shanghai"));
        assert_eq!(
            json(&rfc, "2024-03-01T10:15:00.5-05:00").unwrap(),
            "\"2024-03-01T10:15:00.500-05:00\""
        );
        assert_eq!(
            json(&rfc, "2024-03-01 10:15:00").unwrap(),
            "\"2024-03-01T10:15:00+08:00\""
        );
        let fmt = conv(FieldType::Datetime, Some("%d.%m.%Y %H:%M %z"), None);
        assert_eq!(
            json(&fmt, "01.03.2024 10:15 +0100").unwrap(),
            "\"2024-03-01T10:15:00+01:00\""
        );
    }

    #[test]
    fn naive_datetime_without_zone_is_refused() {
        let c = conv(FieldType::Datetime, None, None);
        assert_eq!(
            json(&c, "2024-03-01 10:15:00").unwrap_err(),
            "\"2024-03-01 10:15:00\" has no UTC offset; set `tz` on the field to the zone it is in"
        );
    }

    #[test]
    fn bad_formats_are_reported_at_load() {
        let err = |ty, f: &str, tz: Option<Tz>| Conversion::new(ty, Some(f), tz).unwrap_err();
        assert!(err(FieldType::Date, "%Q", None).starts_with("invalid format \"%Q\""));
        assert!(err(FieldType::Date, "%Y%m", None).contains("does not give a complete date"));
        assert!(err(FieldType::Datetime, "%Y-%m-%d", None).contains("complete date and time"));
        assert!(err(FieldType::Datetime, "%Y-%m-%d %H:%M", None).contains("set `tz`"));
    }

    #[test]
    fn canonical_forms_read_output_values() {
        let date = Conversion::canonical(FieldType::Date).unwrap();
        assert_eq!(json(&date, "2017-07-19").unwrap(), "\"2017-07-19\"");
        let dt = Conversion::canonical(FieldType::Datetime).unwrap();
        assert_eq!(
            json(&dt, "2024-03-01T10:15:00Z").unwrap(),
            "\"2024-03-01T10:15:00+00:00\""
        );
    }

    /// Texts around the edges of what the fast paths take.
    const EDGE_TEXTS: [&str; 28] = [
        "2024-03-01 10:15:07",
        "2024-3-01 10:15:07",
        "2024-03-01  10:15:07",
        "2024-03-01 10:15:07 ",
        "+2024-03-01 10:15:07",
        "-2024-03-01 10:15:07",
        "02024-03-01 10:15:07",
        "2024-03-01T10:15:07",
        "2024-03-01 10:15",
        "2024-03-01 10:15:07.5",
        "2024-02-29 00:00:00",
        "2023-02-29 00:00:00",
        "2024-03-01 23:59:60",
        "2024-03-01 24:00:00",
        "2024-03-31 02:30:00",
        "2024-10-27 02:30:00",
        "0000-01-01 00:00:00",
        "9999-12-31 23:59:59",
        "20240301",
        "2024-03-01",
        "2024-03-1",
        "2024-03-01 ",
        "+42",
        "-0042",
        "007.50",
        "-0",
        "1e3",
        "",
    ];

    #[test]
    fn fast_date_times_match_chrono() {
        for (format, zone) in [
            ("%Y-%m-%d %H:%M:%S", "Asia/Shanghai"),
            ("%Y-%m-%d %H:%M:%S", "Europe/Berlin"),
            ("%Y-%m-%d %H:%M", "America/New_York"),
        ] {
            let c = conv(FieldType::Datetime, Some(format), Some(zone));
            let tz: Tz = zone.parse().unwrap();
            for text in EDGE_TEXTS {
                let chrono = NaiveDateTime::parse_from_str(text, format)
                    .ok()
                    .and_then(|naive| tz.from_local_datetime(&naive).earliest())
                    .map(|dt| dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
                    .map(|rfc| serde_json::to_string(&rfc).unwrap());
                assert_eq!(json(&c, text).ok(), chrono, "{format} {zone} {text:?}");
            }
        }
    }

    #[test]
    fn fast_dates_match_chrono() {
        for format in ["%Y-%m-%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S"] {
            let c = conv(FieldType::Date, Some(format), None);
            for text in EDGE_TEXTS {
                let chrono = NaiveDate::parse_from_str(text, format)
                    .ok()
                    .map(|date| format!("\"{date}\""));
                assert_eq!(json(&c, text).ok(), chrono, "{format} {text:?}");
            }
        }
    }

    #[test]
    fn fast_numbers_match_the_parsers() {
        let integer = conv(FieldType::Integer, None, None);
        let decimal = conv(FieldType::Decimal, None, None);
        let extra = [
            "0",
            "7",
            "+7",
            "-7",
            "007",
            "00",
            "-0.00",
            ".5",
            "5.",
            "-.5",
            " 7",
            "7 ",
            "1.0",
            "12.50",
            "1_000",
            "٣",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999999999999",
            "0.0000000000000000000000000001",
            "79228162514264337593543950336",
        ];
        for text in EDGE_TEXTS.iter().chain(&extra) {
            let int = text.parse::<i64>().map(|n| n.to_string());
            assert_eq!(json(&integer, text).ok(), int.ok(), "{text:?}");
            let dec = Decimal::from_str(text).map(|d| format!("\"{d}\""));
            assert_eq!(json(&decimal, text).ok(), dec.ok(), "{text:?}");
        }
    }
}
