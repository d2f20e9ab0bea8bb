//! Reading the values functions are given, under one set of rules (see the module docs of
//! [`super`]): operands that may be absent, parameters that must be present, the refusal of
//! floating-point numbers, and error messages that name the function and the value.

use minijinja::value::{StringInput, ValueKind};
use minijinja::{Error, ErrorKind, State, Value};
use std::borrow::Cow;

/// An error from function `name`, for ops: `dec_div: cannot divide "1" by zero`.
pub(super) fn fail(name: &str, message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{name}: {message}"))
}

/// The none value: "no value", which the field's `default` and `required` then handle.
pub(super) fn none() -> Value {
    Value::from(())
}

/// Fails the way minijinja does (`` `QTY` is undefined ``) when `value` is undefined.
fn defined(state: &State, value: &Value) -> Result<(), Error> {
    if value.is_undefined() {
        StringInput::new(state, value)?;
    }
    Ok(())
}

/// The text of a string or an integer; `None` for none (and undefined, where that is allowed).
fn scalar<'a>(name: &str, value: &'a Value) -> Result<Option<Cow<'a, str>>, Error> {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => Ok(None),
        ValueKind::String => Ok(value.as_str().map(Cow::Borrowed)),
        ValueKind::Number if value.is_integer() => Ok(Some(Cow::Owned(value.to_string()))),
        ValueKind::Number => Err(fail(
            name,
            format!(
                "{value} is a floating-point number, which is not exact; \
                 pass the number as text, such as '{value}'"
            ),
        )),
        kind => Err(fail(
            name,
            format!("expected text or an integer, got a {kind} ({value})"),
        )),
    }
}

/// A value a filter reads as a number, a date or a phone number: trimmed, and `None` when it is
/// none or blank text (an empty cell has no value).
pub(super) fn operand<'a>(
    state: &State,
    name: &str,
    value: &'a Value,
) -> Result<Option<Cow<'a, str>>, Error> {
    defined(state, value)?;
    Ok(scalar(name, value)?.and_then(|text| match text {
        Cow::Borrowed(s) => Some(Cow::Borrowed(s.trim())).filter(|t| !t.is_empty()),
        Cow::Owned(s) => Some(Cow::Owned(s)),
    }))
}

/// A value a filter treats as text, kept as it is; `None` only for none.
pub(super) fn text<'a>(
    state: &State,
    name: &str,
    value: &'a Value,
) -> Result<Option<Cow<'a, str>>, Error> {
    defined(state, value)?;
    scalar(name, value)
}

/// What a test (`is ean13`) looks at: trimmed text, or an integer's digits; `None` for anything
/// else, for which the test is false.
pub(super) fn tested<'a>(state: &State, value: &'a Value) -> Result<Option<Cow<'a, str>>, Error> {
    defined(state, value)?;
    Ok(match value.kind() {
        ValueKind::String => value.as_str().map(|s| Cow::Borrowed(s.trim())),
        ValueKind::Number if value.is_integer() => Some(Cow::Owned(value.to_string())),
        _ => None,
    })
}

/// A parameter that must be text: a format, a zone, a pattern, a currency.
pub(super) fn param_str<'a>(name: &str, what: &str, value: &'a Value) -> Result<&'a str, Error> {
    value
        .as_str()
        .ok_or_else(|| fail(name, format!("the {what} must be text, got {value}")))
}

/// A parameter that must be a whole number: an integer, or the text of one (a column).
pub(super) fn param_int(name: &str, what: &str, value: &Value) -> Result<i64, Error> {
    let number = match value.as_str() {
        Some(text) => text.trim().parse().ok(),
        None if value.is_integer() => value.as_i64(),
        None => None,
    };
    number.ok_or_else(|| {
        fail(
            name,
            format!("the {what} must be a whole number, got {value}"),
        )
    })
}

/// A parameter that must be a count (0 or more) of characters, digits, places.
pub(super) fn param_count(name: &str, what: &str, value: &Value) -> Result<usize, Error> {
    let n = param_int(name, what, value)?;
    usize::try_from(n).map_err(|_| fail(name, format!("the {what} cannot be negative, got {n}")))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, eval};

    #[test]
    fn floats_are_refused_with_advice() {
        assert_eq!(
            error("1.5 | decimal"),
            "decimal: 1.5 is a floating-point number, which is not exact; \
             pass the number as text, such as '1.5'"
        );
    }

    #[test]
    fn other_kinds_are_refused_naming_the_value() {
        assert_eq!(
            error("[1] | squish"),
            "squish: expected text or an integer, got a sequence ([1])"
        );
    }

    #[test]
    fn undefined_operands_are_errors_naming_the_column() {
        let err = eval("MISSING | decimal", &[]).unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::UndefinedError);
        assert!(err.to_string().contains("MISSING"), "{err}");
    }

    #[test]
    fn parameters_must_have_the_right_kind() {
        assert_eq!(
            error("'1' | dec_round('x')"),
            "dec_round: the number of decimal places must be a whole number, got x"
        );
        assert_eq!(
            error("'1' | pad_left(-1)"),
            "pad_left: the width cannot be negative, got -1"
        );
        assert_eq!(
            error("'1' | to_minor(1)"),
            "to_minor: the currency must be text, got 1"
        );
    }
}
