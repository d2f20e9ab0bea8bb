//! Type inference for one source path from the texts sampled for it.
//!
//! Every candidate type starts alive and each non-empty (trimmed) value kills the candidates it does
//! not fit, so inference streams: nothing but a few flags is kept per path. Of the survivors the
//! most specific wins, in this order: boolean, date-time, date, integer, decimal; with none left the
//! path is a string. The rules, all of which must hold for every sampled value:
//!
//! - **boolean**: one of `true false yes no y n t f 1 0` (any case), and at least one value is a
//!   word. A column of only `0` and `1` stays an integer: a count or a code that happens to be 0/1
//!   in the sample is more common than a flag written as digits, and `type = "boolean"` is a
//!   one-word change.
//! - **date-time** / **date**: parses with one candidate format ([`DATETIME_FORMATS`],
//!   [`DATE_FORMATS`]), the year between 1900 and 2100. Formats made only of digits (`%Y%m%d`,
//!   `%Y%m%d%H%M%S`) also need exactly that many digits. So a column of `20240301`-like values is a
//!   date, not an integer, as long as every value is a plausible calendar date. RFC 3339 with an
//!   offset (`2024-03-01T10:15:00+08:00`) is a date-time that needs no format.
//! - **integer**: optional sign and at most 15 digits, without leading zeros (`0` itself is fine):
//!   `000123` and 18-digit article numbers are codes, kept as text.
//! - **decimal**: an integer as above, or the same with a fraction (`12.500`, `-.5`), at most 28
//!   digits in all.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};

/// Date formats tried, in order.
pub const DATE_FORMATS: [&str; 6] = [
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%m/%d/%Y",
    "%Y年%m月%d日",
];

/// Naive date-time formats tried, in order (after RFC 3339 with an offset).
pub const DATETIME_FORMATS: [&str; 6] = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y%m%d%H%M%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
];

/// Longest integer kept as a number; longer digit strings are codes.
const MAX_INTEGER_DIGITS: usize = 15;
/// Most digits a decimal keeps exactly.
const MAX_DECIMAL_DIGITS: usize = 28;
/// Plausible years for a date in a legacy export.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=2100;
/// Words a boolean column may hold (compared ignoring ASCII case).
const BOOLEAN_WORDS: [&str; 8] = ["true", "false", "yes", "no", "y", "n", "t", "f"];

/// The type inferred for one source path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inferred {
    /// Every sampled value was empty: nothing to infer from.
    Empty,
    String,
    Integer,
    Decimal,
    Boolean,
    Date {
        format: &'static str,
    },
    /// `format` is `None` for RFC 3339 with an offset; otherwise the value is local time and the
    /// field needs a zone.
    DateTime {
        format: Option<&'static str>,
    },
}

/// A candidate type, in order of preference.
#[derive(Debug, Clone, Copy)]
enum Candidate {
    Boolean,
    Rfc3339,
    DateTime(&'static str),
    Date(&'static str),
    Integer,
    Decimal,
}

/// What has been seen of one source path so far.
#[derive(Debug, Clone)]
pub struct Stats {
    alive: Vec<(Candidate, bool)>,
    non_empty: usize,
    /// A boolean word (not a digit) was seen.
    word: bool,
    /// A value had leading or trailing whitespace.
    padded: bool,
    /// The first non-empty value, as written.
    example: Option<String>,
}

impl Default for Stats {
    fn default() -> Self {
        let mut alive = vec![(Candidate::Boolean, true), (Candidate::Rfc3339, true)];
        alive.extend(DATETIME_FORMATS.map(|f| (Candidate::DateTime(f), true)));
        alive.extend(DATE_FORMATS.map(|f| (Candidate::Date(f), true)));
        alive.extend([(Candidate::Integer, true), (Candidate::Decimal, true)]);
        Self {
            alive,
            non_empty: 0,
            word: false,
            padded: false,
            example: None,
        }
    }
}

impl Stats {
    /// Takes one sampled value into account.
    pub fn add(&mut self, value: &str) {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return;
        }
        self.non_empty += 1;
        self.padded |= trimmed.len() != value.len();
        self.word |= is_boolean_word(trimmed);
        if self.example.is_none() {
            self.example = Some(value.to_string());
        }
        for (candidate, alive) in self.alive.iter_mut().filter(|(_, alive)| *alive) {
            *alive = fits(*candidate, trimmed);
        }
    }

    /// The inferred type.
    pub fn inferred(&self) -> Inferred {
        if self.non_empty == 0 {
            return Inferred::Empty;
        }
        let mut survivors = self.alive.iter().filter(|(_, alive)| *alive);
        let best =
            survivors.find(|(candidate, _)| self.word || !matches!(candidate, Candidate::Boolean));
        match best.map(|(candidate, _)| *candidate) {
            None => Inferred::String,
            Some(Candidate::Boolean) => Inferred::Boolean,
            Some(Candidate::Rfc3339) => Inferred::DateTime { format: None },
            Some(Candidate::DateTime(format)) => Inferred::DateTime {
                format: Some(format),
            },
            Some(Candidate::Date(format)) => Inferred::Date { format },
            Some(Candidate::Integer) => Inferred::Integer,
            Some(Candidate::Decimal) => Inferred::Decimal,
        }
    }

    /// Whether every value reads as a boolean, digits `0` and `1` included (a 0/1 column infers as
    /// an integer, but can be a flag when the schema says so).
    pub fn fits_boolean(&self) -> bool {
        self.alive
            .iter()
            .any(|(candidate, alive)| *alive && matches!(candidate, Candidate::Boolean))
    }

    /// Whether a value had surrounding whitespace (a string field then wants `trim = true`).
    pub fn padded(&self) -> bool {
        self.padded
    }

    /// The first non-empty value seen, untrimmed.
    pub fn example(&self) -> Option<&str> {
        self.example.as_deref()
    }
}

fn fits(candidate: Candidate, value: &str) -> bool {
    match candidate {
        Candidate::Boolean => is_boolean_word(value) || value == "0" || value == "1",
        Candidate::Rfc3339 => {
            DateTime::parse_from_rfc3339(value).is_ok_and(|t| YEARS.contains(&t.year()))
        }
        Candidate::DateTime(format) => {
            digits_fit(format, value)
                && NaiveDateTime::parse_from_str(value, format)
                    .is_ok_and(|t| YEARS.contains(&t.year()))
        }
        Candidate::Date(format) => {
            digits_fit(format, value)
                && NaiveDate::parse_from_str(value, format).is_ok_and(|d| YEARS.contains(&d.year()))
        }
        Candidate::Integer => is_integer(value),
        Candidate::Decimal => is_decimal(value),
    }
}

fn is_boolean_word(value: &str) -> bool {
    BOOLEAN_WORDS.iter().any(|w| w.eq_ignore_ascii_case(value))
}

/// A format made only of numeric fields (`%Y%m%d`) reads digit runs of any split; only values of
/// exactly its width are taken as that layout.
fn digits_fit(format: &str, value: &str) -> bool {
    let fields = format.matches('%').count();
    if fields * 2 != format.len() {
        return true;
    }
    let width = 4 + (fields - 1) * 2;
    value.len() == width && value.bytes().all(|b| b.is_ascii_digit())
}

/// Optional sign, then digits without a leading zero.
fn is_integer(value: &str) -> bool {
    let digits = unsigned(value);
    !digits.is_empty()
        && digits.len() <= MAX_INTEGER_DIGITS
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !has_leading_zero(digits)
}

/// An integer, or digits with a fraction after a `.`.
fn is_decimal(value: &str) -> bool {
    let number = unsigned(value);
    let Some((whole, fraction)) = number.split_once('.') else {
        return is_integer(value);
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !fraction.is_empty()
        && all_digits(whole)
        && all_digits(fraction)
        && !has_leading_zero(whole)
        && whole.len() + fraction.len() <= MAX_DECIMAL_DIGITS
}

fn unsigned(value: &str) -> &str {
    value.strip_prefix(['+', '-']).unwrap_or(value)
}

fn has_leading_zero(digits: &str) -> bool {
    digits.len() > 1 && digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> Inferred {
        let mut stats = Stats::default();
        for value in values {
            stats.add(value);
        }
        stats.inferred()
    }

    #[test]
    fn integers_decimals_and_booleans() {
        assert_eq!(infer(&["12", "-3", "+5", "0", ""]), Inferred::Integer);
        assert_eq!(infer(&["12", "12.500", "-.5"]), Inferred::Decimal);
        assert_eq!(infer(&["Y", "n", "N"]), Inferred::Boolean);
        assert_eq!(infer(&["true", "FALSE", "1"]), Inferred::Boolean);
    }

    #[test]
    fn zero_one_columns_are_integers() {
        let mut stats = Stats::default();
        for value in ["0", "1", "1"] {
            stats.add(value);
        }
        assert_eq!(stats.inferred(), Inferred::Integer);
        assert!(stats.fits_boolean());
        stats.add("2");
        assert!(!stats.fits_boolean());
    }

    #[test]
    fn leading_zeros_and_long_digit_strings_are_codes() {
        assert_eq!(infer(&["000123", "1"]), Inferred::String);
        assert_eq!(infer(&["000000000010023456"]), Inferred::String);
        assert_eq!(infer(&["1234567890123456"]), Inferred::String);
        assert_eq!(infer(&["123456789012345"]), Inferred::Integer);
        assert_eq!(infer(&["00.5"]), Inferred::String);
    }

    #[test]
    fn mixed_columns_fall_back_to_string() {
        assert_eq!(infer(&["12", "abc"]), Inferred::String);
        assert_eq!(infer(&["2024-03-01", "12"]), Inferred::String);
        assert_eq!(infer(&["Y", "2"]), Inferred::String);
        assert_eq!(infer(&["12,5"]), Inferred::String);
        assert_eq!(infer(&["12."]), Inferred::String);
    }

    #[test]
    fn date_formats_are_detected() {
        let date = |format| Inferred::Date { format };
        assert_eq!(infer(&["2024-03-01", "2024-12-31"]), date("%Y-%m-%d"));
        assert_eq!(infer(&["2024/03/01"]), date("%Y/%m/%d"));
        assert_eq!(infer(&["01.03.2024", "31.12.2024"]), date("%d.%m.%Y"));
        assert_eq!(infer(&["03/01/2024", "12/31/2024"]), date("%m/%d/%Y"));
        assert_eq!(infer(&["2024年03月01日"]), date("%Y年%m月%d日"));
    }

    #[test]
    fn eight_digit_columns_are_dates_only_when_every_value_is_a_plausible_date() {
        let compact = Inferred::Date { format: "%Y%m%d" };
        assert_eq!(infer(&["20240301", "20241231"]), compact);
        assert_eq!(infer(&["20240301", "20241332"]), Inferred::Integer);
        assert_eq!(infer(&["20240301", "30240301"]), Inferred::Integer);
        assert_eq!(infer(&["2024031"]), Inferred::Integer);
        assert_eq!(infer(&["20240301", "2024031"]), Inferred::Integer);
    }

    #[test]
    fn date_time_formats_are_detected() {
        let naive = |format| Inferred::DateTime {
            format: Some(format),
        };
        assert_eq!(infer(&["2024-03-01 10:15:00"]), naive("%Y-%m-%d %H:%M:%S"));
        assert_eq!(
            infer(&["2024-03-01 10:15:00", "2024-03-01 10:15:00.250"]),
            naive("%Y-%m-%d %H:%M:%S%.f")
        );
        assert_eq!(infer(&["20240301101500"]), naive("%Y%m%d%H%M%S"));
        assert_eq!(infer(&["2024/03/01 10:15:00"]), naive("%Y/%m/%d %H:%M:%S"));
        assert_eq!(infer(&["2024-03-01T10:15:00"]), naive("%Y-%m-%dT%H:%M:%S"));
        assert_eq!(
            infer(&["2024-03-01T10:15:00+08:00", "2024-03-01T02:15:00Z"]),
            Inferred::DateTime { format: None }
        );
    }

    #[test]
    fn empty_columns_and_padding() {
        assert_eq!(infer(&["", "  "]), Inferred::Empty);
        let mut stats = Stats::default();
        stats.add("");
        stats.add(" A1 ");
        assert_eq!(stats.inferred(), Inferred::String);
        assert!(stats.padded());
        assert_eq!(stats.example(), Some(" A1 "));
    }
}
