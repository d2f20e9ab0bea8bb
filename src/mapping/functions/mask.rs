//! Masking personal data before it leaves the hub: `mask_phone`, `mask_id_card` and
//! `mask_email` replace all but a few characters with `*`, counting characters (not bytes), so
//! that an event can carry enough to recognise a customer but not to identify one.

use super::args::{none, text};
use minijinja::{Environment, Error, State, Value};

const MASK: char = '*';

/// Length of a PRC resident identity card number.
const ID_CARD_LENGTH: usize = 18;

/// Country prefixes `mask_phone` keeps in front of the number it masks.
const PHONE_PREFIXES: [&str; 2] = ["+86", "0086"];

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("mask_phone", mask_phone);
    env.add_filter("mask_id_card", mask_id_card);
    env.add_filter("mask_email", mask_email);
}

/// Applies `mask` to the trimmed text of `value`; none stays none.
fn masked(
    state: &State,
    name: &str,
    value: &Value,
    mask: fn(&str) -> String,
) -> Result<Value, Error> {
    Ok(text(state, name, value)?.map_or_else(none, |text| Value::from(mask(text.trim()))))
}

/// `text` with every character outside `keep_first` and `keep_last` (counts) masked; when it is
/// too short to keep those and mask something, everything is masked.
fn mask_middle(text: &str, keep_first: usize, keep_last: usize) -> String {
    let count = text.chars().count();
    if count <= keep_first + keep_last {
        return std::iter::repeat_n(MASK, count).collect();
    }
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_first || i >= count - keep_last {
                c
            } else {
                MASK
            }
        })
        .collect()
}

fn mask_phone(state: &State, value: &Value) -> Result<Value, Error> {
    masked(state, "mask_phone", value, phone)
}

/// Keeps a `+86`/`0086` prefix, separators, and the first 3 and last 4 digits of a number of 11
/// digits or more; shorter numbers have every digit masked.
fn phone(text: &str) -> String {
    let (prefix, number) = PHONE_PREFIXES
        .iter()
        .find_map(|p| text.strip_prefix(p).map(|rest| (*p, rest)))
        .unwrap_or(("", text));
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let kept = |i: usize| digits >= 11 && (i < 3 || i >= digits - 4);
    let mut index = 0;
    let masked: String = number
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            index += 1;
            if kept(index - 1) { c } else { MASK }
        })
        .collect();
    format!("{prefix}{masked}")
}

fn mask_id_card(state: &State, value: &Value) -> Result<Value, Error> {
    masked(state, "mask_id_card", value, id_card)
}

/// An 18-character number keeps its first 6 (the region) and last 4; others their first and last.
fn id_card(text: &str) -> String {
    if text.chars().count() == ID_CARD_LENGTH {
        mask_middle(text, 6, 4)
    } else {
        mask_middle(text, 1, 1)
    }
}

fn mask_email(state: &State, value: &Value) -> Result<Value, Error> {
    masked(state, "mask_email", value, email)
}

/// Keeps the first character of the local part (unless it is the only one) and the domain;
/// without a local part and `@`, masks everything.
fn email(text: &str) -> String {
    match text.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() => {
            format!("{}@{domain}", mask_middle(local, 1, 0))
        }
        _ => mask_middle(text, 0, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;

    #[test]
    fn phones_keep_the_first_three_and_last_four_digits() {
        check(&[
            ("'13800138000' | mask_phone", "138****8000"),
            ("'+8613800138000' | mask_phone", "+86138****8000"),
            ("'+86 138 0013 8000' | mask_phone", "+86 138 **** 8000"),
            ("'0086-13800138000' | mask_phone", "0086-138****8000"),
            ("13800138000 | mask_phone", "138****8000"),
            ("'021-12345678' | mask_phone", "021-****5678"),
            ("'12345' | mask_phone", "*****"),
            ("'' | mask_phone", ""),
            ("none | mask_phone", "(none)"),
        ]);
    }

    #[test]
    fn id_cards_keep_region_and_last_four() {
        check(&[
            ("'11010519491231002X' | mask_id_card", "110105********002X"),
            (
                "' 110105194912310021 ' | mask_id_card",
                "110105********0021",
            ),
            ("'110105491231002' | mask_id_card", "1*************2"),
            ("'上海A1' | mask_id_card", "上**1"),
            ("'AB' | mask_id_card", "**"),
            ("'' | mask_id_card", ""),
        ]);
    }

    #[test]
    fn emails_keep_the_first_character_and_the_domain() {
        check(&[
            (
                "'zhang.san@example.com' | mask_email",
                "z********@example.com",
            ),
            ("'张三@例子.中国' | mask_email", "张*@例子.中国"),
            ("'a@example.com' | mask_email", "*@example.com"),
            ("'\"a@b\"@example.com' | mask_email", "\"****@example.com"),
            ("'not-an-email' | mask_email", "************"),
            ("'@example.com' | mask_email", "************"),
        ]);
    }
}
