//! Fixed-width layouts: a strict, fast reader for the common date and time formats (`%Y-%m-%d`,
//! `%Y%m%d`, `%Y-%m-%d %H:%M:%S`, ...) made only of zero-padded numbers and literal separators.
//!
//! It reads only the exact form such a format writes (four-digit years, two-digit fields, the
//! separators as written) and answers `None` for anything else, including values out of range.
//! Every text it reads, chrono reads to the same value, so callers fall back to chrono on `None`
//! and keep chrono's behaviour and messages.

use chrono::format::{Item, Numeric};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// The numbers a layout can hold, in `Values` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

const UNITS: [Unit; 6] = [
    Unit::Year,
    Unit::Month,
    Unit::Day,
    Unit::Hour,
    Unit::Minute,
    Unit::Second,
];

impl Unit {
    fn of(numeric: &Numeric) -> Option<Self> {
        Some(match numeric {
            Numeric::Year => Self::Year,
            Numeric::Month => Self::Month,
            Numeric::Day => Self::Day,
            Numeric::Hour => Self::Hour,
            Numeric::Minute => Self::Minute,
            Numeric::Second => Self::Second,
            _ => return None,
        })
    }

    fn width(self) -> usize {
        if self == Self::Year { 4 } else { 2 }
    }
}

/// A format made only of fixed-width numbers and literals, each unit at most once: every number
/// and literal sits at a fixed byte offset.
#[derive(Debug)]
pub(super) struct Layout {
    /// Length of the exact form.
    len: usize,
    /// Each byte of literal text, with where it sits.
    literals: Vec<(usize, u8)>,
    /// Where each unit's digits start, by `Unit`.
    numbers: [Option<usize>; 6],
}

/// The numbers read, by `Unit`.
type Values = [Option<u32>; 6];

impl Layout {
    /// The layout of chrono `items`, when they have one and name a year, month and day.
    pub fn new(items: &[Item<'static>]) -> Option<Self> {
        let mut layout = Self {
            len: 0,
            literals: Vec::new(),
            numbers: [None; 6],
        };
        for item in items {
            match item {
                Item::Literal(text) | Item::Space(text) => layout.literal(text),
                Item::OwnedLiteral(text) | Item::OwnedSpace(text) => layout.literal(text),
                Item::Numeric(numeric, _) => layout.number(Unit::of(numeric)?)?,
                Item::Fixed(_) | Item::Error => return None,
            }
        }
        let dated = [Unit::Year, Unit::Month, Unit::Day]
            .iter()
            .all(|&u| layout.numbers[u as usize].is_some());
        dated.then_some(layout)
    }

    fn literal(&mut self, text: &str) {
        for &b in text.as_bytes() {
            self.literals.push((self.len, b));
            self.len += 1;
        }
    }

    /// `None` when the unit is already there.
    fn number(&mut self, unit: Unit) -> Option<()> {
        let slot = &mut self.numbers[unit as usize];
        if slot.is_some() {
            return None;
        }
        *slot = Some(self.len);
        self.len += unit.width();
        Some(())
    }

    /// The date in `text`, when it is in the layout's exact form and valid (time fields included).
    pub fn date(&self, text: &str) -> Option<NaiveDate> {
        let values = self.values(text)?;
        let date = date_of(&values)?;
        let untimed = values[Unit::Hour as usize..].iter().all(Option::is_none);
        (untimed || time_of(&values).is_some()).then_some(date)
    }

    /// The date and time in `text`, when it is in the layout's exact form and valid.
    pub fn datetime(&self, text: &str) -> Option<NaiveDateTime> {
        let values = self.values(text)?;
        Some(date_of(&values)?.and_time(time_of(&values)?))
    }

    fn values(&self, text: &str) -> Option<Values> {
        let bytes = text.as_bytes();
        if bytes.len() != self.len {
            return None;
        }
        if self.literals.iter().any(|&(at, b)| bytes[at] != b) {
            return None;
        }
        let mut values: Values = [None; 6];
        for (unit, at) in UNITS.iter().zip(self.numbers) {
            if let Some(at) = at {
                values[*unit as usize] = Some(number(&bytes[at..at + unit.width()])?);
            }
        }
        Some(values)
    }
}

fn date_of(values: &Values) -> Option<NaiveDate> {
    let year = i32::try_from(values[Unit::Year as usize]?).ok()?;
    NaiveDate::from_ymd_opt(
        year,
        values[Unit::Month as usize]?,
        values[Unit::Day as usize]?,
    )
}

/// Hour and minute are needed; seconds default to 0, as chrono does. A leap second (60) is left
/// to chrono.
fn time_of(values: &Values) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(
        values[Unit::Hour as usize]?,
        values[Unit::Minute as usize]?,
        values[Unit::Second as usize].unwrap_or(0),
    )
}

/// ASCII digits only, no sign.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::format::{Parsed, StrftimeItems};

    fn items(format: &str) -> Vec<Item<'static>> {
        StrftimeItems::new(format).parse_to_owned().unwrap()
    }

    fn layout(format: &str) -> Layout {
        Layout::new(&items(format)).expect("layout")
    }

    fn chrono_datetime(format: &str, text: &str) -> Option<NaiveDateTime> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text, items(format).iter()).ok()?;
        parsed.to_naive_datetime_with_offset(0).ok()
    }

    fn chrono_date(format: &str, text: &str) -> Option<NaiveDate> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text, items(format).iter()).ok()?;
        parsed.to_naive_date().ok()
    }

    #[test]
    fn only_fixed_width_numeric_formats_have_a_layout() {
        for format in [
            "%Y-%m-%d",
            "%Y%m%d",
            "%d.%m.%Y %H:%M",
            "%F %T",
            "%Y-%m-%dT%H:%M:%S",
        ] {
            assert!(Layout::new(&items(format)).is_some(), "{format}");
        }
        for format in [
            "%Y-%m",
            "%y%m%d",
            "%Y-%m-%d %z",
            "%Y-%j",
            "%Y-%m-%d %Y",
            "%b %d %Y",
        ] {
            assert!(Layout::new(&items(format)).is_none(), "{format}");
        }
    }

    #[test]
    fn reads_the_exact_form_as_chrono_does() {
        let l = layout("%Y-%m-%d %H:%M:%S");
        let text = "2024-03-01 10:15:07";
        assert_eq!(l.datetime(text), chrono_datetime("%Y-%m-%d %H:%M:%S", text));
        assert!(l.datetime(text).is_some());
        let d = layout("%Y%m%d");
        assert_eq!(d.date("20170719"), NaiveDate::from_ymd_opt(2017, 7, 19));
    }

    #[test]
    fn anything_but_the_exact_form_is_left_to_chrono() {
        let l = layout("%Y-%m-%d %H:%M:%S");
        for text in [
            "2024-3-01 10:15:07",
            "2024-03-01  10:15:07",
            "2024-03-01 10:15:07 ",
            " 2024-03-01 10:15:07",
            "+2024-03-01 10:15:07",
            "-2024-03-01 10:15:07",
            "2024-03-01 10:15",
            "2024-03-01T10:15:07",
            "2024-02-30 10:15:07",
            "2024-13-01 10:15:07",
            "2024-03-01 24:00:00",
            "2024-03-01 10:60:00",
            "2024-03-01 23:59:60",
            "2024-03-01 1a:15:07",
            "2024-03-01 10:15:0७",
            "2024-03-01 10:15:07.5",
            "",
        ] {
            assert_eq!(l.datetime(text), None, "{text:?}");
        }
        let d = layout("%Y%m%d");
        for text in ["2017071", "201707190", "2017 719", "+2017071", "2017-07-19"] {
            assert_eq!(d.date(text), None, "{text:?}");
        }
    }

    #[test]
    fn agrees_with_chrono_whenever_it_reads() {
        let formats = [
            "%Y-%m-%d %H:%M:%S",
            "%Y%m%d%H%M%S",
            "%d.%m.%Y %H:%M",
            "%F %T",
        ];
        for format in formats {
            let l = layout(format);
            for text in samples(format) {
                if let Some(fast) = l.datetime(&text) {
                    assert_eq!(
                        Some(fast),
                        chrono_datetime(format, &text),
                        "{format} {text:?}"
                    );
                }
            }
        }
        for format in ["%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%Y-%m-%d %H:%M"] {
            let l = layout(format);
            for text in samples(format) {
                if let Some(fast) = l.date(&text) {
                    assert_eq!(Some(fast), chrono_date(format, &text), "{format} {text:?}");
                }
            }
        }
    }

    /// Texts written by `format` over a spread of dates and times, plus mangled variants.
    fn samples(format: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (y, m, d) in [
            (2024, 2, 29),
            (1, 1, 1),
            (9999, 12, 31),
            (0, 6, 15),
            (2023, 10, 9),
        ] {
            for (h, mi, s) in [(0, 0, 0), (23, 59, 59), (9, 5, 7), (12, 30, 0)] {
                let dt = NaiveDate::from_ymd_opt(y, m, d)
                    .and_then(|date| date.and_hms_opt(h, mi, s))
                    .unwrap();
                let text = dt.format(format).to_string();
                out.push(text.replace('9', "8"));
                out.push(text.replace('0', "9"));
                out.push(text.replace('1', "3"));
                out.push(text.replacen('2', "+", 1));
                out.push(format!(" {text}"));
                out.push(text);
            }
        }
        out
    }
}
