//! Text: the first value present (`coalesce`), regular expressions (`regex_extract`,
//! `regex_replace`, `regex_match`, through [`cache`](super::cache)), padding and slicing counted
//! in characters (`pad_left`, `pad_right`, `substr`), and clean-up of Chinese input
//! (`halfwidth`, `squish`).

use super::args::{fail, none, param_count, param_int, param_str, text};
use super::cache;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, Error, State, Value};
use regex::Regex;
use std::sync::Arc;

/// Full-width forms of ASCII `!` to `~`, and how far below them ASCII is.
const FULLWIDTH: std::ops::RangeInclusive<char> = '\u{FF01}'..='\u{FF5E}';
const FULLWIDTH_SHIFT: u32 = 0xFEE0;

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_function("coalesce", coalesce);
    env.add_filter("regex_extract", regex_extract);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_match", regex_match);
    env.add_filter("pad_left", pad_left);
    env.add_filter("pad_right", pad_right);
    env.add_filter("substr", substr);
    env.add_filter("halfwidth", halfwidth);
    env.add_filter("squish", squish);
}

/// The first argument that is defined, not none and not blank text; none when there is none.
fn coalesce(values: Rest<Value>) -> Value {
    values
        .iter()
        .find(|v| match v.kind() {
            ValueKind::Undefined | ValueKind::None => false,
            _ => v.as_str().is_none_or(|s| !s.trim().is_empty()),
        })
        .cloned()
        .unwrap_or_else(none)
}

/// The compiled pattern in `pattern`, or an error naming it.
fn pattern(name: &str, pattern: &Value) -> Result<Arc<Regex>, Error> {
    let text = param_str(name, "pattern", pattern)?;
    cache::regex(text).map_err(|reason| {
        fail(
            name,
            format!("invalid regular expression \"{text}\" ({reason})"),
        )
    })
}

/// The capture group `group` names: by number or name; by default the first group, or the whole
/// match when the pattern has no group.
fn group_index(name: &str, regex: &Regex, group: Option<&Value>) -> Result<usize, Error> {
    let count = regex.captures_len();
    let Some(group) = group else {
        return Ok(usize::from(count > 1));
    };
    let index = match group.as_str() {
        Some(group_name) => regex.capture_names().position(|n| n == Some(group_name)),
        None => Some(param_count(name, "group", group)?).filter(|&n| n < count),
    };
    index.ok_or_else(|| {
        fail(
            name,
            format!("pattern \"{}\" has no group {group}", regex.as_str()),
        )
    })
}

/// The text of one capture group of the first match; none when nothing matches.
fn regex_extract(
    state: &State,
    value: &Value,
    pattern_text: &Value,
    group: Option<&Value>,
) -> Result<Value, Error> {
    const NAME: &str = "regex_extract";
    let regex = pattern(NAME, pattern_text)?;
    let group = group_index(NAME, &regex, group)?;
    let Some(text) = text(state, NAME, value)? else {
        return Ok(none());
    };
    Ok(regex
        .captures(&text)
        .and_then(|captures| captures.get(group))
        .map_or_else(none, |m| Value::from(m.as_str())))
}

/// Every match replaced; `$1`, `${name}` in the replacement insert groups.
fn regex_replace(
    state: &State,
    value: &Value,
    pattern_text: &Value,
    replacement: &Value,
) -> Result<Value, Error> {
    const NAME: &str = "regex_replace";
    let regex = pattern(NAME, pattern_text)?;
    let replacement = param_str(NAME, "replacement", replacement)?;
    Ok(text(state, NAME, value)?.map_or_else(none, |text| {
        Value::from(regex.replace_all(&text, replacement).into_owned())
    }))
}

/// Whether the pattern occurs in the value.
fn regex_match(state: &State, value: &Value, pattern_text: &Value) -> Result<Value, Error> {
    const NAME: &str = "regex_match";
    let regex = pattern(NAME, pattern_text)?;
    Ok(text(state, NAME, value)?.map_or_else(none, |text| Value::from(regex.is_match(&text))))
}

/// The single character in `fill`.
fn fill_char(name: &str, fill: Option<&Value>, default: char) -> Result<char, Error> {
    let Some(fill) = fill else {
        return Ok(default);
    };
    let text = param_str(name, "fill", fill)?;
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(fail(
            name,
            format!("the fill must be one character, got \"{text}\""),
        )),
    }
}

/// Pads to `width` characters on the left (`left`) or right; longer text is kept whole.
fn pad(
    state: &State,
    name: &str,
    value: &Value,
    width: &Value,
    fill: char,
    left: bool,
) -> Result<Value, Error> {
    let width = param_count(name, "width", width)?;
    let Some(text) = text(state, name, value)? else {
        return Ok(none());
    };
    let padding: String =
        std::iter::repeat_n(fill, width.saturating_sub(text.chars().count())).collect();
    Ok(Value::from(if left {
        padding + &text
    } else {
        text.into_owned() + &padding
    }))
}

fn pad_left(
    state: &State,
    value: &Value,
    width: &Value,
    fill: Option<&Value>,
) -> Result<Value, Error> {
    let fill = fill_char("pad_left", fill, '0')?;
    pad(state, "pad_left", value, width, fill, true)
}

fn pad_right(
    state: &State,
    value: &Value,
    width: &Value,
    fill: Option<&Value>,
) -> Result<Value, Error> {
    let fill = fill_char("pad_right", fill, ' ')?;
    pad(state, "pad_right", value, width, fill, false)
}

/// `length` characters (or all) from character `start`; a negative start counts from the end.
fn substr(
    state: &State,
    value: &Value,
    start: &Value,
    length: Option<&Value>,
) -> Result<Value, Error> {
    const NAME: &str = "substr";
    let start = param_int(NAME, "start", start)?;
    let length = length.map(|n| param_count(NAME, "length", n)).transpose()?;
    let Some(text) = text(state, NAME, value)? else {
        return Ok(none());
    };
    let count = text.chars().count();
    let skip = match usize::try_from(start) {
        Ok(start) => start,
        Err(_) => count.saturating_sub(usize::try_from(start.unsigned_abs()).unwrap_or(count)),
    };
    let chars = text.chars().skip(skip);
    Ok(Value::from(match length {
        Some(length) => chars.take(length).collect::<String>(),
        None => chars.collect(),
    }))
}

/// Full-width ASCII forms as ASCII, and the ideographic space as a space.
fn halfwidth(state: &State, value: &Value) -> Result<Value, Error> {
    Ok(text(state, "halfwidth", value)?.map_or_else(none, |text| {
        Value::from(
            text.chars()
                .map(|c| match c {
                    '\u{3000}' => ' ',
                    c if FULLWIDTH.contains(&c) => {
                        char::from_u32(u32::from(c) - FULLWIDTH_SHIFT).unwrap_or(c)
                    }
                    c => c,
                })
                .collect::<String>(),
        )
    }))
}

/// Trimmed, with every run of whitespace (the ideographic space too) made one space.
fn squish(state: &State, value: &Value) -> Result<Value, Error> {
    Ok(text(state, "squish", value)?.map_or_else(none, |text| {
        Value::from(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, error, eval};

    #[test]
    fn coalesce_takes_the_first_value_present() {
        check(&[
            ("coalesce('', '  ', none, 'B', 'C')", "B"),
            ("coalesce(none, 0)", "0"),
            ("coalesce('', none)", "(none)"),
            ("coalesce()", "(none)"),
        ]);
        let result = eval(
            "coalesce(MISSING, NICK, NAME)",
            &[("NICK", " "), ("NAME", "Li")],
        );
        assert_eq!(result.unwrap().as_str(), Some("Li"));
        let chained = eval("coalesce(DISC, '0') | dec_add('1')", &[("DISC", "")]);
        assert_eq!(chained.unwrap().as_str(), Some("1"));
    }

    #[test]
    fn regex_extract_takes_a_group() {
        check(&[
            ("'SKU-12345-XL' | regex_extract('SKU-(\\\\d+)')", "12345"),
            ("'SKU-12345-XL' | regex_extract('\\\\d+')", "12345"),
            (
                "'SKU-12345-XL' | regex_extract('(\\\\w+)-(\\\\d+)-(\\\\w+)', 3)",
                "XL",
            ),
            (
                "'SKU-12345-XL' | regex_extract('(\\\\w+)-(\\\\d+)', 0)",
                "SKU-12345",
            ),
            (
                "'SKU-12345-XL' | regex_extract('-(?<size>[A-Z]+)$', 'size')",
                "XL",
            ),
            ("'ABC' | regex_extract('(\\\\d+)')", "(none)"),
            ("'A' | regex_extract('(B)?A')", "(none)"),
            ("none | regex_extract('(\\\\d+)')", "(none)"),
        ]);
        assert_eq!(
            error("'x' | regex_extract('(a)', 2)"),
            "regex_extract: pattern \"(a)\" has no group 2"
        );
        assert_eq!(
            error("'x' | regex_extract('(a)', 'size')"),
            "regex_extract: pattern \"(a)\" has no group size"
        );
    }

    #[test]
    fn documented_patterns() {
        check(&[
            ("'SKU-12345-XL' | regex_extract('SKU-([0-9]+)')", "12345"),
            (
                "'2024/03/01' | regex_replace('([0-9]+)/([0-9]+)/([0-9]+)', '$3.$2.$1')",
                "01.03.2024",
            ),
            ("'门店 A12' | regex_match('[A-Z][0-9]+')", "true"),
        ]);
        let literal = eval(r#"CODE | regex_extract("-(\d+)-")"#, &[("CODE", "A-123-B")]);
        assert_eq!(literal.unwrap().as_str(), Some("123"));
    }

    #[test]
    fn regex_replace_and_match() {
        check(&[
            (
                "'2024/03/01' | regex_replace('(\\\\d+)/(\\\\d+)/(\\\\d+)', '$3.$2.$1')",
                "01.03.2024",
            ),
            ("'a1b22c333' | regex_replace('\\\\d+', '#')", "a#b#c#"),
            ("'ab' | regex_replace('(a)', '${1}1')", "a1b"),
            ("'门店 A12' | regex_match('[A-Z]\\\\d+')", "true"),
            ("'门店 A12' | regex_match('^[A-Z]\\\\d+$')", "false"),
            ("none | regex_match('x')", "(none)"),
        ]);
    }

    #[test]
    fn bad_patterns_are_errors_naming_them() {
        assert_eq!(
            error("'x' | regex_match('(ab')"),
            "regex_match: invalid regular expression \"(ab\" (unclosed group)"
        );
        assert_eq!(
            error("'x' | regex_replace('[z-a]', '')"),
            "regex_replace: invalid regular expression \"[z-a]\" \
             (invalid character class range, the start must be <= the end)"
        );
    }

    #[test]
    fn padding_counts_characters() {
        check(&[
            ("'42' | pad_left(6)", "000042"),
            ("'42' | pad_left(6, ' ')", "    42"),
            ("'1234567' | pad_left(6)", "1234567"),
            ("'店' | pad_left(3, '＊')", "＊＊店"),
            ("'AB' | pad_right(4)", "AB  "),
            ("'AB' | pad_right(4, '.')", "AB.."),
            ("'上海' | pad_right(4, '.')", "上海.."),
            ("7 | pad_left(3)", "007"),
            ("'' | pad_left(2)", "00"),
        ]);
        assert_eq!(
            error("'1' | pad_left(3, '00')"),
            "pad_left: the fill must be one character, got \"00\""
        );
    }

    #[test]
    fn substr_counts_characters() {
        check(&[
            ("'上海市浦东新区' | substr(0, 3)", "上海市"),
            ("'上海市浦东新区' | substr(3)", "浦东新区"),
            ("'上海市浦东新区' | substr(-2)", "新区"),
            ("'abc' | substr(-5)", "abc"),
            ("'abc' | substr(5)", ""),
            ("'abcdef' | substr(1, 2)", "bc"),
            ("'abc' | substr(1, 0)", ""),
        ]);
        assert_eq!(
            error("'abc' | substr(0, -1)"),
            "substr: the length cannot be negative, got -1"
        );
    }

    #[test]
    fn halfwidth_and_squish_clean_chinese_input() {
        check(&[
            ("'ＡＢＣ１２３　店' | halfwidth", "ABC123 店"),
            ("'！～' | halfwidth", "!~"),
            ("'全角，句号。' | halfwidth", "全角,句号。"),
            (
                "'  上海\u{3000}\u{3000}浦东 \t 店  ' | squish",
                "上海 浦东 店",
            ),
            ("'  上海　　浦东  店 ' | squish", "上海 浦东 店"),
            ("'　' | squish", ""),
        ]);
    }
}
