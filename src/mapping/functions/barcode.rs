//! GTIN barcodes (EAN-13, EAN-8, UPC-A): the tests `is ean13`, `is ean8` and `is upca` check
//! length, digits and check digit; `gtin_check_digit` computes the check digit of a body.

use super::args::{fail, none, operand, tested};
use minijinja::{Environment, Error, State, Value};

/// Lengths of GTIN bodies (the code without its check digit): GTIN-8, -12, -13 and -14.
const BODY_LENGTHS: [usize; 4] = [7, 11, 12, 13];

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_test("ean13", is_ean13);
    env.add_test("ean8", is_ean8);
    env.add_test("upca", is_upca);
    env.add_filter("gtin_check_digit", gtin_check_digit);
    env.add_function("gtin_check_digit", gtin_check_digit);
}

/// The GS1 check digit of `body` (ASCII digits): weights 3 and 1 alternate from the right.
fn check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    // The remainder is below 10, so the digit fits a byte.
    b'0' + ((10 - sum % 10) % 10) as u8
}

/// Whether `code` is `length` digits whose last is the check digit of the others.
fn is_gtin(code: &str, length: usize) -> bool {
    let bytes = code.as_bytes();
    match bytes.split_last() {
        Some((&last, body)) if bytes.len() == length && bytes.iter().all(u8::is_ascii_digit) => {
            check_digit(body) == last
        }
        _ => false,
    }
}

fn test_gtin(state: &State, value: &Value, length: usize) -> Result<bool, Error> {
    Ok(tested(state, value)?.is_some_and(|code| is_gtin(&code, length)))
}

fn is_ean13(state: &State, value: &Value) -> Result<bool, Error> {
    test_gtin(state, value, 13)
}

fn is_ean8(state: &State, value: &Value) -> Result<bool, Error> {
    test_gtin(state, value, 8)
}

fn is_upca(state: &State, value: &Value) -> Result<bool, Error> {
    test_gtin(state, value, 12)
}

/// The check digit of a GTIN body, as text.
fn gtin_check_digit(state: &State, value: &Value) -> Result<Value, Error> {
    const NAME: &str = "gtin_check_digit";
    let Some(body) = operand(state, NAME, value)? else {
        return Ok(none());
    };
    let bytes = body.as_bytes();
    if !bytes.iter().all(u8::is_ascii_digit) || !BODY_LENGTHS.contains(&bytes.len()) {
        return Err(fail(
            NAME,
            format!(
                "\"{body}\" is not the body of a GTIN (7, 11, 12 or 13 digits, \
                 the code without its check digit)"
            ),
        ));
    }
    Ok(Value::from(char::from(check_digit(bytes)).to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, error, eval};

    #[test]
    fn valid_codes_pass_their_test() {
        check(&[
            ("'6901234567892' is ean13", "true"),
            ("'4006381333931' is ean13", "true"),
            ("' 4006381333931 ' is ean13", "true"),
            ("4006381333931 is ean13", "true"),
            ("'96385074' is ean8", "true"),
            ("'036000291452' is upca", "true"),
            ("'012345678905' is upca", "true"),
        ]);
    }

    #[test]
    fn invalid_codes_fail_their_test() {
        check(&[
            ("'6901234567891' is ean13", "false"),
            ("'690123456789' is ean13", "false"),
            ("'69012345678920' is ean13", "false"),
            ("'690123456789X' is ean13", "false"),
            ("'6901234 67892' is ean13", "false"),
            ("'036000291452' is ean13", "false"),
            ("'96385075' is ean8", "false"),
            ("'036000291453' is upca", "false"),
            ("'０３６０００２９１４５２' is upca", "false"),
            ("'' is ean13", "false"),
            ("none is ean8", "false"),
            ("1.5 is upca", "false"),
        ]);
        let missing = eval("MISSING is ean13", &[]).unwrap_err();
        assert_eq!(missing.kind(), minijinja::ErrorKind::UndefinedError);
    }

    #[test]
    fn check_digits_of_known_codes() {
        check(&[
            ("'690123456789' | gtin_check_digit", "2"),
            ("gtin_check_digit('400638133393')", "1"),
            ("'9638507' | gtin_check_digit", "4"),
            ("'03600029145' | gtin_check_digit", "2"),
            ("'1234567890123' | gtin_check_digit", "1"),
            ("'00000000000' | gtin_check_digit", "0"),
            ("'' | gtin_check_digit", "(none)"),
        ]);
        assert_eq!(
            error("'69012345678A' | gtin_check_digit"),
            "gtin_check_digit: \"69012345678A\" is not the body of a GTIN (7, 11, 12 or 13 \
             digits, the code without its check digit)"
        );
        assert_eq!(
            error("'12345' | gtin_check_digit"),
            "gtin_check_digit: \"12345\" is not the body of a GTIN (7, 11, 12 or 13 \
             digits, the code without its check digit)"
        );
    }

    #[test]
    fn a_body_completed_with_its_check_digit() {
        let code = eval("BODY ~ gtin_check_digit(BODY)", &[("BODY", "690123456789")]);
        assert_eq!(code.unwrap().as_str(), Some("6901234567892"));
    }

    #[test]
    fn a_body_and_its_check_digit_make_a_valid_code() {
        let result = eval(
            "(BODY ~ gtin_check_digit(BODY)) is ean13",
            &[("BODY", "692012345678")],
        );
        assert!(result.unwrap().is_true());
    }
}
