//! Writing converted values as JSON straight into the event's text, by hand for the common cases
//! and through serde_json, rust_decimal and chrono for the rest, with the same bytes either way.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Timelike};

/// Most digits a decimal is passed through with: any such number fits rust_decimal exactly.
const MAX_DECIMAL_DIGITS: usize = 28;

/// `text` as a JSON string.
pub(super) fn string(text: &str, out: &mut String) -> Result<(), String> {
    // A fold rather than `any`: without an early exit the check is vectorised.
    if text.bytes().fold(false, |found, b| found | needs_escape(b)) {
        out.push_str(&serde_json::to_string(text).map_err(|e| e.to_string())?);
    } else {
        quoted(text, out);
    }
    Ok(())
}

fn quoted(text: &str, out: &mut String) {
    out.reserve(text.len() + 2);
    out.push('"');
    out.push_str(text);
    out.push('"');
}

/// The bytes serde_json escapes in strings.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

pub(super) fn integer(n: i64, out: &mut String) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Writes `text` as a JSON string when it is a decimal exactly as rust_decimal writes it (so
/// reading and writing it would give it back unchanged); otherwise writes nothing and returns
/// `false`.
pub(super) fn canonical_decimal(text: &str, out: &mut String) -> bool {
    let canonical = is_canonical_decimal(text);
    if canonical {
        quoted(text, out);
    }
    canonical
}

/// An optional `-` (not before zero), digits without a leading zero, then optionally `.` and
/// digits; at most [`MAX_DECIMAL_DIGITS`] digits in all.
fn is_canonical_decimal(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (negative, body) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    let (whole, fraction) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (&body[..dot], Some(&body[dot + 1..])),
        None => (body, None),
    };
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    let zero = |d: &[u8]| d.iter().all(|&b| b == b'0');
    let well_formed = digits(whole) && fraction.is_none_or(digits);
    let fraction = fraction.unwrap_or_default();
    well_formed
        && (whole.len() == 1 || whole[0] != b'0')
        && whole.len() + fraction.len() <= MAX_DECIMAL_DIGITS
        && !(negative && zero(whole) && zero(fraction))
}

/// `"YYYY-MM-DD"`; years outside 0..=9999 through chrono.
pub(super) fn date(date: NaiveDate, out: &mut String) {
    match u32::try_from(date.year()) {
        Ok(year) if year <= 9999 => {
            out.reserve(12);
            out.push('"');
            push_ymd(year, date.month(), date.day(), out);
            out.push('"');
        }
        _ => quoted(&date.to_string(), out),
    }
}

fn push_ymd(year: u32, month: u32, day: u32, out: &mut String) {
    push_pair(year / 100, out);
    push_pair(year % 100, out);
    out.push('-');
    push_pair(month, out);
    out.push('-');
    push_pair(day, out);
}

/// RFC 3339 as chrono writes it with [`SecondsFormat::AutoSi`] and `+00:00` for UTC; years outside
/// 0..=9999 and leap seconds through chrono.
pub(super) fn datetime(dt: &DateTime<FixedOffset>, out: &mut String) -> Result<(), String> {
    let Some((local, year)) = by_hand(dt) else {
        return string(&dt.to_rfc3339_opts(SecondsFormat::AutoSi, false), out);
    };
    out.reserve(40);
    out.push('"');
    push_ymd(year, local.month(), local.day(), out);
    out.push('T');
    push_pair(local.hour(), out);
    out.push(':');
    push_pair(local.minute(), out);
    out.push(':');
    push_pair(local.second(), out);
    push_fraction(local.nanosecond(), out);
    push_offset(dt.offset().local_minus_utc(), out);
    out.push('"');
    Ok(())
}

/// The local time and its year, when they are written by hand: years 0..=9999, no leap second.
fn by_hand(dt: &DateTime<FixedOffset>) -> Option<(NaiveDateTime, u32)> {
    let local = dt.naive_utc().checked_add_offset(*dt.offset())?;
    let year = u32::try_from(local.year()).ok().filter(|&y| y <= 9999)?;
    (local.nanosecond() < 1_000_000_000).then_some((local, year))
}

/// Fractional seconds in as few of 0, 3, 6 or 9 digits as keep them exact.
fn push_fraction(nano: u32, out: &mut String) {
    let (n, width) = match nano {
        0 => return,
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n);
    out.push('.');
    out.extend(std::iter::repeat_n('0', width - digits.len()));
    out.push_str(digits);
}

/// `±HH:MM`, seconds rounded to the nearest minute as chrono does.
fn push_offset(seconds: i32, out: &mut String) {
    out.push(if seconds < 0 { '-' } else { '+' });
    let minutes = (seconds.unsigned_abs() + 30) / 60;
    push_pair(minutes / 60, out);
    out.push(':');
    push_pair(minutes % 60, out);
}

/// Two-digit decimal numbers, `00` to `99`, back to back.
const PAIRS: &str = "\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// `n % 100` as two digits.
fn push_pair(n: u32, out: &mut String) {
    let at = (n % 100) as usize * 2;
    out.push_str(&PAIRS[at..at + 2]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDateTime, TimeZone};
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn written(write: impl FnOnce(&mut String)) -> String {
        let mut out = String::from("prefix");
        write(&mut out);
        out
    }

    /// The decimal as the slow path writes it: read by rust_decimal and displayed.
    fn slow_decimal(text: &str) -> Option<String> {
        Decimal::from_str(text).ok().map(|d| format!("\"{d}\""))
    }

    fn fast_decimal(text: &str) -> Option<String> {
        let mut out = String::new();
        canonical_decimal(text, &mut out).then_some(out)
    }

    #[test]
    fn canonical_decimals_are_passed_through() {
        for text in [
            "0",
            "7",
            "12.50",
            "-0.10",
            "0.00",
            "-1",
            "100",
            "0.000000000000000000000000001",
            "9999999999999999999999999999",
            "-999999999999999999.9999999999",
        ] {
            let fast = fast_decimal(text);
            assert_eq!(fast.as_deref(), Some(format!("\"{text}\"").as_str()));
            assert_eq!(fast, slow_decimal(text), "{text}");
        }
    }

    #[test]
    fn other_decimal_forms_take_the_slow_path() {
        for text in [
            "+5",
            "007.50",
            "00",
            "-0",
            "-0.00",
            "-00.1",
            ".5",
            "5.",
            "-.5",
            "-",
            ".",
            "",
            " 5",
            "5 ",
            "1e5",
            "1E5",
            "1.5e-3",
            "1_000",
            "1,5",
            "0x10",
            "--1",
            "1.2.3",
            "١٢",
            "99999999999999999999999999999",
            "0.00000000000000000000000000001",
            "79228162514264337593543950335.1",
        ] {
            assert_eq!(fast_decimal(text), None, "{text:?}");
        }
    }

    #[test]
    fn every_short_decimal_text_the_fast_path_takes_reads_back_unchanged() {
        let alphabet = ['0', '1', '9', '-', '+', '.', ' ', 'e'];
        let mut texts = vec![String::new()];
        let mut taken = 0;
        for _ in 0..5 {
            texts = texts
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            for text in &texts {
                if let Some(fast) = fast_decimal(text) {
                    assert_eq!(Some(fast), slow_decimal(text), "{text:?}");
                    taken += 1;
                }
            }
        }
        assert!(taken > 500, "{taken}");
    }

    #[test]
    fn long_decimals_are_passed_through_only_within_28_digits() {
        for digits in 20..=32 {
            let nines = "9".repeat(digits);
            for text in [
                nines.clone(),
                format!("-{nines}"),
                format!("1.{}", &nines[1..]),
                format!("0.{}", &nines[1..]),
                format!("-0.{}1", "0".repeat(digits - 2)),
            ] {
                match fast_decimal(&text) {
                    Some(fast) => {
                        assert!(digits <= 28, "{text}");
                        assert_eq!(Some(fast), slow_decimal(&text), "{text}");
                    }
                    None => assert!(digits > 28 || text.starts_with("-0.0"), "{text}"),
                }
            }
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        let mut texts: Vec<String> = (0u8..=127).map(|b| format!("a{}b", b as char)).collect();
        texts.extend(
            [
                "",
                "农夫山泉",
                "\u{7f}\u{80}\u{2028}",
                "tab\there",
                "\"q\"",
                "\\",
            ]
            .map(String::from),
        );
        for text in texts {
            let expected = format!("prefix{}", serde_json::to_string(&text).unwrap());
            assert_eq!(written(|o| string(&text, o).unwrap()), expected, "{text:?}");
        }
    }

    #[test]
    fn integers_are_written_as_serde_json_does() {
        for n in [0, 1, -1, 9, 10, -10, 42, 1_000_000, i64::MAX, i64::MIN] {
            let expected = format!("prefix{}", serde_json::to_string(&n).unwrap());
            assert_eq!(written(|o| integer(n, o)), expected);
        }
    }

    #[test]
    fn dates_are_written_as_chrono_displays_them() {
        for (y, m, d) in [
            (2017, 7, 19),
            (0, 1, 1),
            (42, 1, 2),
            (9999, 12, 31),
            (10000, 1, 1),
            (-1, 6, 30),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(
                written(|o| super::date(date, o)),
                format!("prefix\"{date}\"")
            );
        }
    }

    #[test]
    fn datetimes_are_written_as_chrono_writes_rfc3339() {
        let offsets = [
            0,
            1,
            -1,
            29,
            30,
            -30,
            59,
            -10,
            3600,
            8 * 3600,
            -5 * 3600,
            20_700,
            -12_600,
            14 * 3600,
            -86_399,
            86_399,
            29_143,
        ];
        let nanos = [
            0,
            1,
            500_000_000,
            123_000_000,
            123_456_000,
            123_456_789,
            999_999_999,
            1_000,
            1_500_000_000,
        ];
        let dates = [
            (2024, 3, 1),
            (0, 1, 1),
            (9999, 12, 31),
            (10000, 1, 1),
            (-1, 12, 31),
        ];
        for (y, m, d) in dates {
            for nano in nanos {
                for seconds in offsets {
                    let naive = NaiveDate::from_ymd_opt(y, m, d)
                        .and_then(|date| date.and_hms_nano_opt(23, 59, 59, nano))
                        .unwrap();
                    let zone = FixedOffset::east_opt(seconds).unwrap();
                    let dt = zone.from_local_datetime(&naive).single().unwrap();
                    let chrono = dt.to_rfc3339_opts(SecondsFormat::AutoSi, false);
                    let expected = format!("prefix{}", serde_json::to_string(&chrono).unwrap());
                    assert_eq!(written(|o| datetime(&dt, o).unwrap()), expected, "{chrono}");
                }
            }
        }
        let plain = NaiveDateTime::parse_from_str("2024-03-01 10:15:00", "%Y-%m-%d %H:%M:%S");
        let dt = FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .from_local_datetime(&plain.unwrap())
            .unwrap();
        assert_eq!(
            written(|o| datetime(&dt, o).unwrap()),
            "prefix\"2024-03-01T10:15:00+08:00\""
        );
    }
}
