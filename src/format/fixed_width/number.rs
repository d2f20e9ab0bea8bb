//! Numeric fields: implied decimals and signs (leading, trailing or overpunched) turned into plain
//! decimal text such as `-12.34`, which mappings read with `type = "decimal"`.

use std::borrow::Cow;

/// Where a numeric field carries its sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// An optional `-` or `+` before the digits.
    Leading,
    /// An optional `-` or `+` after the digits (COBOL `SIGN TRAILING SEPARATE`).
    Trailing,
    /// The last digit carries the sign: `{`, `A`–`I` positive, `}`, `J`–`R` negative (EBCDIC
    /// zoned decimal as it looks after conversion to ASCII).
    Overpunch,
}

/// How a numeric field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Number {
    /// Digits after the implied decimal point: with 2, `0001234` is `12.34`.
    pub decimals: u8,
    pub sign: Sign,
    /// The explicit decimal separator a field may carry when it has no implied decimals.
    pub separator: char,
}

impl Number {
    /// The field's text (blanks around it allowed) as a plain decimal: no leading zeros, `.` as
    /// the separator, `-` for negatives (never `-0`). A blank field is empty text.
    pub fn normalize(&self, text: &str) -> Result<String, String> {
        let trimmed = text.trim_matches(' ');
        if trimmed.is_empty() {
            return Ok(String::new());
        }
        let (negative, digits) = self
            .unsign(trimmed)
            .ok_or_else(|| self.not_a_number(trimmed))?;
        let (int, frac) = match digits.split_once(self.separator) {
            Some((int, frac)) if self.decimals == 0 => (int, frac),
            Some(_) => {
                return Err(format!(
                    "\"{trimmed}\" has a decimal separator, but the layout implies {} decimals",
                    self.decimals
                ));
            }
            None => self.implied(&digits),
        };
        let valid = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if !valid(int) || !valid(frac) || (int.is_empty() && frac.is_empty()) {
            return Err(self.not_a_number(trimmed));
        }
        let pad = usize::from(self.decimals).saturating_sub(frac.len());
        Ok(render(negative, int, pad, frac))
    }

    /// Splits off the sign: whether the number is negative, and its unsigned text.
    fn unsign<'t>(&self, text: &'t str) -> Option<(bool, Cow<'t, str>)> {
        let plain = |negative: bool, rest: &'t str| Some((negative, Cow::Borrowed(rest)));
        match self.sign {
            Sign::Leading => match text.as_bytes()[0] {
                b'-' => plain(true, text[1..].trim_start_matches(' ')),
                b'+' => plain(false, text[1..].trim_start_matches(' ')),
                _ => plain(false, text),
            },
            Sign::Trailing => match text.as_bytes()[text.len() - 1] {
                b'-' => plain(true, text[..text.len() - 1].trim_end_matches(' ')),
                b'+' => plain(false, text[..text.len() - 1].trim_end_matches(' ')),
                _ => plain(false, text),
            },
            Sign::Overpunch => overpunch(text),
        }
    }

    /// The digits split at the implied decimal point.
    fn implied<'t>(&self, digits: &'t str) -> (&'t str, &'t str) {
        let at = digits.len().saturating_sub(usize::from(self.decimals));
        digits.split_at(at)
    }

    fn not_a_number(&self, text: &str) -> String {
        let sign = match self.sign {
            Sign::Leading => "an optional leading sign",
            Sign::Trailing => "an optional trailing sign",
            Sign::Overpunch => "the sign overpunched on the last digit",
        };
        let point = match self.decimals {
            0 => format!("an optional \"{}\" decimal separator", self.separator),
            n => format!("{n} implied decimals"),
        };
        format!("\"{text}\" is not a number (expected digits with {sign} and {point})")
    }
}

/// Decodes an overpunched last digit.
fn overpunch(text: &str) -> Option<(bool, Cow<'_, str>)> {
    let last = *text.as_bytes().last()?;
    let (negative, digit) = match last {
        b'0'..=b'9' => return Some((false, Cow::Borrowed(text))),
        b'{' => (false, b'0'),
        b'A'..=b'I' => (false, b'1' + (last - b'A')),
        b'}' => (true, b'0'),
        b'J'..=b'R' => (true, b'1' + (last - b'J')),
        _ => return None,
    };
    let mut unsigned = String::with_capacity(text.len());
    unsigned.push_str(&text[..text.len() - 1]);
    unsigned.push(char::from(digit));
    Some((negative, Cow::Owned(unsigned)))
}

/// `-12.34` from its parts; the integer part loses its leading zeros but keeps one digit, and the
/// fraction keeps every digit the field has, after `pad` zeros.
fn render(negative: bool, int: &str, pad: usize, frac: &str) -> String {
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let zero = int == "0" && frac.bytes().all(|b| b == b'0');
    let mut out = String::with_capacity(int.len() + pad + frac.len() + 2);
    if negative && !zero {
        out.push('-');
    }
    out.push_str(int);
    if pad + frac.len() > 0 {
        out.push('.');
        out.extend(std::iter::repeat_n('0', pad));
        out.push_str(frac);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(decimals: u8, sign: Sign) -> Number {
        Number {
            decimals,
            sign,
            separator: '.',
        }
    }

    #[test]
    fn implied_decimals_are_placed_and_leading_zeros_dropped() {
        let n = number(2, Sign::Leading);
        assert_eq!(n.normalize("0001234").unwrap(), "12.34");
        assert_eq!(n.normalize("0000005").unwrap(), "0.05");
        assert_eq!(n.normalize("5").unwrap(), "0.05");
        assert_eq!(n.normalize("  -0001234").unwrap(), "-12.34");
        assert_eq!(number(0, Sign::Leading).normalize("000120").unwrap(), "120");
    }

    #[test]
    fn trailing_signs_and_zero_never_negative() {
        let n = number(3, Sign::Trailing);
        assert_eq!(n.normalize("0012500-").unwrap(), "-12.500");
        assert_eq!(n.normalize("0012500+").unwrap(), "12.500");
        assert_eq!(n.normalize("0000000-").unwrap(), "0.000");
        assert!(n.normalize("-0012500").is_err());
    }

    #[test]
    fn overpunched_last_digit_carries_the_sign() {
        let n = number(2, Sign::Overpunch);
        assert_eq!(n.normalize("000123{").unwrap(), "12.30");
        assert_eq!(n.normalize("000123A").unwrap(), "12.31");
        assert_eq!(n.normalize("000123I").unwrap(), "12.39");
        assert_eq!(n.normalize("000123}").unwrap(), "-12.30");
        assert_eq!(n.normalize("000123J").unwrap(), "-12.31");
        assert_eq!(n.normalize("000123R").unwrap(), "-12.39");
        assert_eq!(n.normalize("0001234").unwrap(), "12.34");
        assert!(n.normalize("000123S").is_err());
    }

    #[test]
    fn explicit_separators_and_garbage() {
        let comma = Number {
            decimals: 0,
            sign: Sign::Leading,
            separator: ',',
        };
        assert_eq!(comma.normalize("   58076,87").unwrap(), "58076.87");
        assert_eq!(comma.normalize(",5").unwrap(), "0.5");
        assert_eq!(comma.normalize("    ").unwrap(), "");
        let err = comma.normalize("12a4").unwrap_err();
        assert!(err.contains("\"12a4\" is not a number"), "{err}");
        assert!(comma.normalize("1 2").is_err());
        assert!(comma.normalize("-").is_err());
        assert!(comma.normalize(",").is_err());
        let err = number(2, Sign::Leading).normalize("12.34").unwrap_err();
        assert!(err.contains("implies 2 decimals"), "{err}");
    }
}
