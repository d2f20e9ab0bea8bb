//! Chinese mobile numbers: `cn_mobile_e164` writes one in E.164 (`+8613800138000`) from the
//! shapes tills and forms produce, and the test `is cn_mobile` tells whether a value is one.

use super::args::{fail, none, operand, tested};
use minijinja::{Environment, Error, State, Value};

/// Separators people put between digits.
const SEPARATORS: [char; 6] = [' ', '-', '.', '(', ')', '\u{3000}'];

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("cn_mobile_e164", cn_mobile_e164);
    env.add_test("cn_mobile", is_cn_mobile);
}

/// The 11-digit national number in `text`, after separators and a `+86`, `0086` or `86` prefix;
/// `None` when it is not a mainland mobile number (`1[3-9]` and nine more digits).
fn national(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| !SEPARATORS.contains(c)).collect();
    let national = digits
        .strip_prefix("+86")
        .or_else(|| digits.strip_prefix("0086"))
        .or_else(|| digits.strip_prefix("86").filter(|rest| rest.len() == 11))
        .unwrap_or(&digits);
    let bytes = national.as_bytes();
    let mobile = bytes.len() == 11
        && bytes.iter().all(u8::is_ascii_digit)
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1]);
    mobile.then(|| national.to_string())
}

fn cn_mobile_e164(state: &State, value: &Value) -> Result<Value, Error> {
    const NAME: &str = "cn_mobile_e164";
    let Some(text) = operand(state, NAME, value)? else {
        return Ok(none());
    };
    national(&text)
        .map(|n| Value::from(format!("+86{n}")))
        .ok_or_else(|| {
            fail(
                NAME,
                format!(
                    "\"{text}\" is not a Chinese mobile number \
                     (11 digits starting with 13 to 19, optionally after +86)"
                ),
            )
        })
}

fn is_cn_mobile(state: &State, value: &Value) -> Result<bool, Error> {
    Ok(tested(state, value)?.is_some_and(|text| national(&text).is_some()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, error, eval};

    #[test]
    fn common_shapes_become_e164() {
        for shape in [
            "13800138000",
            "138 0013 8000",
            "138-0013-8000",
            "+86 138 0013 8000",
            "+86-138-0013-8000",
            "0086 13800138000",
            "86-13800138000",
            "8613800138000",
            "(+86) 13800138000",
            " 13800138000 ",
        ] {
            let expr = format!("'{shape}' | cn_mobile_e164");
            check(&[(expr.as_str(), "+8613800138000")]);
        }
        check(&[
            ("13800138000 | cn_mobile_e164", "+8613800138000"),
            ("'19912345678' | cn_mobile_e164", "+8619912345678"),
            ("'' | cn_mobile_e164", "(none)"),
        ]);
    }

    #[test]
    fn other_numbers_are_errors_naming_them() {
        for bad in [
            "12800138000",
            "1380013800",
            "138001380000",
            "021-12345678",
            "+44 7911 123456",
            "1380013800O",
            "８６13800138000",
        ] {
            let expr = format!("'{bad}' | cn_mobile_e164");
            assert_eq!(
                error(&expr),
                format!(
                    "cn_mobile_e164: \"{bad}\" is not a Chinese mobile number \
                     (11 digits starting with 13 to 19, optionally after +86)"
                ),
            );
        }
    }

    #[test]
    fn the_test_guards_the_filter() {
        let expr = "PHONE | cn_mobile_e164 if PHONE is cn_mobile else none";
        let good = eval(expr, &[("PHONE", "138-0013-8000")]).unwrap();
        assert_eq!(good.as_str(), Some("+8613800138000"));
        assert!(eval(expr, &[("PHONE", "021-12345678")]).unwrap().is_none());
    }

    #[test]
    fn the_test_tells_mobile_numbers() {
        check(&[
            ("'138 0013 8000' is cn_mobile", "true"),
            ("'+8613800138000' is cn_mobile", "true"),
            ("13800138000 is cn_mobile", "true"),
            ("'02112345678' is cn_mobile", "false"),
            ("'' is cn_mobile", "false"),
            ("none is cn_mobile", "false"),
            ("1.5 is cn_mobile", "false"),
        ]);
    }
}
