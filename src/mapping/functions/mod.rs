//! The retail function library offered to mapping expressions: exact decimals and currency minor
//! units, dates and times, text clean-up and regular expressions, Chinese mobile numbers,
//! barcodes, and masking of personal data. Each group lives in its own module and registers its
//! own filters, functions and tests.
//!
//! Rules every function follows (documented for ops in `docs/mapping.md`):
//!
//! - **Values are text.** Record values are strings; functions take strings, and integers where a
//!   number is natural. Decimals and money come back as strings that keep their scale; a
//!   floating-point argument is refused, because it is not exact.
//! - **No value in, no value out.** When the value a filter works on, or a value argument (such as
//!   the `x` of `dec_add(x)`), is none, the result is none, so that `coalesce`, `default` and
//!   `required` decide. Filters that read a number, a date or a phone number also take empty or
//!   blank text as no value (an empty cell); text filters keep empty text. Tests (`is ean13`) are
//!   false for none.
//! - **Parameters must be given**: a format, zone, currency, pattern, width or mode that is none
//!   or of the wrong kind is an error.
//! - **Undefined is an error**, as everywhere under strict mode: a column the file lacks fails the
//!   record (only `coalesce` skips it).
//! - Errors are `invalid operation` errors whose message names the function and the value:
//!   `decimal: cannot read "12,5" as a decimal`.

mod args;
mod barcode;
mod cache;
mod currency;
mod decimal;
mod mask;
mod phone;
mod text;
mod time;

use minijinja::Environment;

/// Adds every filter, function and test of the library to `env`.
pub(super) fn register(env: &mut Environment<'static>) {
    decimal::register(env);
    currency::register(env);
    time::register(env);
    text::register(env);
    phone::register(env);
    barcode::register(env);
    mask::register(env);
}

/// Evaluating expressions in an environment configured like the mappings' own.
#[cfg(test)]
pub(super) mod testing {
    use minijinja::{Environment, Error, UndefinedBehavior, Value};

    /// Strict undefined, fuel, and the library.
    pub fn env() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(50_000));
        super::register(&mut env);
        env
    }

    /// Evaluates `expr` with string variables, as a record offers them.
    pub fn eval(expr: &str, vars: &[(&str, &str)]) -> Result<Value, Error> {
        let env = env();
        env.compile_expression(expr)?
            .eval(Value::from_pairs(vars.iter().copied()))
    }

    /// The result of `expr` (without variables) as text; `"(none)"` for none, `true` and `false`
    /// for booleans.
    pub fn text(expr: &str) -> String {
        match eval(expr, &[]) {
            Ok(value) if value.is_none() => "(none)".into(),
            Ok(value) if value.kind() == minijinja::value::ValueKind::Bool => {
                value.is_true().to_string()
            }
            Ok(value) => value.to_string(),
            Err(e) => panic!("{expr}: {e:#}"),
        }
    }

    /// The message of the error `expr` fails with (an invalid operation).
    pub fn error(expr: &str) -> String {
        match eval(expr, &[]) {
            Ok(value) => panic!("{expr}: expected an error, got {value:?}"),
            Err(e) => {
                assert_eq!(e.kind(), minijinja::ErrorKind::InvalidOperation, "{e}");
                e.detail().unwrap_or_default().to_string()
            }
        }
    }

    /// Asserts each expression gives the text beside it.
    pub fn check(cases: &[(&str, &str)]) {
        for (expr, expected) in cases {
            assert_eq!(text(expr), *expected, "{expr}");
        }
    }
}
