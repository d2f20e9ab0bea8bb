//! Exact decimal arithmetic on text (rust_decimal): `decimal`, `dec_add`, `dec_sub`, `dec_mul`,
//! `dec_div`, `dec_round`, `dec_neg`, `dec_abs`, `dec_sum` and `dec_cmp`. Results are strings that
//! keep the scale rust_decimal gives them (`"12.50" | dec_mul('3')` is `"37.50"`); never floats.

use super::args::{fail, none, operand, param_count, param_str};
use crate::config::toml_de::did_you_mean;
use minijinja::value::ValueKind;
use minijinja::{Environment, Error, State, Value};
use rust_decimal::{Decimal, RoundingStrategy};
use std::cmp::Ordering;
use std::str::FromStr;

/// Rounding modes of `dec_round`, by the name ops write.
const MODES: [(&str, RoundingStrategy); 6] = [
    ("half_even", RoundingStrategy::MidpointNearestEven),
    ("half_up", RoundingStrategy::MidpointAwayFromZero),
    ("down", RoundingStrategy::ToZero),
    ("up", RoundingStrategy::AwayFromZero),
    ("floor", RoundingStrategy::ToNegativeInfinity),
    ("ceiling", RoundingStrategy::ToPositiveInfinity),
];

/// Most decimal places a decimal can have.
const MAX_SCALE: usize = 28;

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("decimal", decimal);
    env.add_filter("dec_add", dec_add);
    env.add_filter("dec_sub", dec_sub);
    env.add_filter("dec_mul", dec_mul);
    env.add_filter("dec_div", dec_div);
    env.add_filter("dec_round", dec_round);
    env.add_filter("dec_neg", dec_neg);
    env.add_filter("dec_abs", dec_abs);
    env.add_function("dec_sum", dec_sum);
    env.add_function("dec_cmp", dec_cmp);
}

/// `text` as a decimal, or an error naming it.
pub(super) fn parse(name: &str, text: &str) -> Result<Decimal, Error> {
    Decimal::from_str(text).map_err(|_| fail(name, format!("cannot read \"{text}\" as a decimal")))
}

/// The decimal in `value`; `None` when it has no value.
pub(super) fn read(state: &State, name: &str, value: &Value) -> Result<Option<Decimal>, Error> {
    operand(state, name, value)?
        .map(|text| parse(name, &text))
        .transpose()
}

/// `d` as text, zero without a sign.
pub(super) fn write(mut d: Decimal) -> Value {
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    Value::from(d.to_string())
}

/// Applies `op` to the decimals in `value` and `other`; none when either has no value.
fn binary(
    state: &State,
    name: &str,
    value: &Value,
    other: &Value,
    op: impl FnOnce(Decimal, Decimal) -> Result<Decimal, String>,
) -> Result<Value, Error> {
    match (read(state, name, value)?, read(state, name, other)?) {
        (Some(a), Some(b)) => op(a, b).map(write).map_err(|e| fail(name, e)),
        _ => Ok(none()),
    }
}

fn too_large(a: Decimal, op: &str, b: Decimal) -> String {
    format!("\"{a}\" {op} \"{b}\" is too large for a decimal")
}

fn decimal(state: &State, value: &Value) -> Result<Value, Error> {
    Ok(read(state, "decimal", value)?.map_or_else(none, write))
}

fn dec_add(state: &State, value: &Value, other: &Value) -> Result<Value, Error> {
    binary(state, "dec_add", value, other, |a, b| {
        a.checked_add(b).ok_or_else(|| too_large(a, "+", b))
    })
}

fn dec_sub(state: &State, value: &Value, other: &Value) -> Result<Value, Error> {
    binary(state, "dec_sub", value, other, |a, b| {
        a.checked_sub(b).ok_or_else(|| too_large(a, "-", b))
    })
}

fn dec_mul(state: &State, value: &Value, other: &Value) -> Result<Value, Error> {
    binary(state, "dec_mul", value, other, |a, b| {
        a.checked_mul(b).ok_or_else(|| too_large(a, "*", b))
    })
}

fn dec_div(state: &State, value: &Value, other: &Value) -> Result<Value, Error> {
    binary(state, "dec_div", value, other, |a, b| {
        if b.is_zero() {
            return Err(format!("cannot divide \"{a}\" by zero"));
        }
        a.checked_div(b).ok_or_else(|| too_large(a, "/", b))
    })
}

/// Rounds to exactly `dp` decimal places (padding with zeros), by `mode`.
fn dec_round(
    state: &State,
    value: &Value,
    dp: &Value,
    mode: Option<&Value>,
) -> Result<Value, Error> {
    const NAME: &str = "dec_round";
    let places = param_count(NAME, "number of decimal places", dp)?;
    let strategy = match mode {
        Some(mode) => strategy(param_str(NAME, "rounding mode", mode)?)?,
        None => RoundingStrategy::MidpointNearestEven,
    };
    if places > MAX_SCALE {
        return Err(fail(
            NAME,
            format!("cannot round to {places} decimal places (at most {MAX_SCALE})"),
        ));
    }
    let Some(d) = read(state, NAME, value)? else {
        return Ok(none());
    };
    let places = places as u32;
    let mut rounded = d.round_dp_with_strategy(places, strategy);
    rounded.rescale(places);
    Ok(write(rounded))
}

fn strategy(mode: &str) -> Result<RoundingStrategy, Error> {
    if let Some((_, strategy)) = MODES.iter().find(|(name, _)| *name == mode) {
        return Ok(*strategy);
    }
    let names: Vec<String> = MODES.iter().map(|(name, _)| name.to_string()).collect();
    let hint = match did_you_mean(mode, &names) {
        Some(best) => format!("did you mean \"{best}\"?"),
        None => format!("use one of {}", names.join(", ")),
    };
    Err(fail(
        "dec_round",
        format!("unknown rounding mode \"{mode}\"; {hint}"),
    ))
}

fn dec_neg(state: &State, value: &Value) -> Result<Value, Error> {
    Ok(read(state, "dec_neg", value)?.map_or_else(none, |d| write(-d)))
}

fn dec_abs(state: &State, value: &Value) -> Result<Value, Error> {
    Ok(read(state, "dec_abs", value)?.map_or_else(none, |d| write(d.abs())))
}

/// The sum of a list; items without a value are skipped, and an empty sum is `"0"`.
fn dec_sum(state: &State, list: &Value) -> Result<Value, Error> {
    const NAME: &str = "dec_sum";
    if !matches!(list.kind(), ValueKind::Seq | ValueKind::Iterable) {
        return Err(fail(
            NAME,
            format!("expected a list such as [A, B], got {list}"),
        ));
    }
    let mut total = Decimal::ZERO;
    for item in list.try_iter()? {
        if let Some(d) = read(state, NAME, &item)? {
            total = total
                .checked_add(d)
                .ok_or_else(|| fail(NAME, too_large(total, "+", d)))?;
        }
    }
    Ok(write(total))
}

/// -1, 0 or 1 as `a` is less than, equal to or greater than `b`; none when either has no value.
fn dec_cmp(state: &State, a: &Value, b: &Value) -> Result<Value, Error> {
    const NAME: &str = "dec_cmp";
    Ok(match (read(state, NAME, a)?, read(state, NAME, b)?) {
        (Some(a), Some(b)) => Value::from(match a.cmp(&b) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }),
        _ => none(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, error, eval};

    #[test]
    fn decimal_normalises_text() {
        check(&[
            ("'007.50' | decimal", "7.50"),
            ("' 12.50 ' | decimal", "12.50"),
            ("'+5' | decimal", "5"),
            ("'-0.00' | decimal", "0.00"),
            ("12 | decimal", "12"),
            ("'' | decimal", "(none)"),
            ("none | decimal", "(none)"),
        ]);
        let err = eval("'12,5' | decimal", &[]).unwrap_err();
        assert_eq!(
            format!("{}: {}", err.kind(), err.detail().unwrap_or_default()),
            "invalid operation: decimal: cannot read \"12,5\" as a decimal"
        );
    }

    #[test]
    fn arithmetic_is_exact_and_keeps_the_scale() {
        check(&[
            ("'12.50' | dec_add('0.5')", "13.00"),
            ("'0.1' | dec_add('0.2')", "0.3"),
            ("'10.00' | dec_sub('12.5')", "-2.50"),
            ("'12.50' | dec_mul('3')", "37.50"),
            ("'-1.5' | dec_mul('0')", "0"),
            ("'10' | dec_div('4')", "2.50"),
            ("'1' | dec_div('3')", "0.3333333333333333333333333333"),
            ("'19.99' | dec_mul(3) | dec_sub('0.97')", "59.00"),
        ]);
    }

    #[test]
    fn columns_feed_arithmetic() {
        let result = eval(
            "PRICE | dec_mul(QTY) | dec_round(2)",
            &[("PRICE", "12.50"), ("QTY", "3")],
        );
        assert_eq!(result.unwrap().as_str(), Some("37.50"));
    }

    #[test]
    fn refunds_become_negative() {
        let refund = "AMT | dec_neg if KIND == 'R' else AMT | decimal";
        let value = |kind| eval(refund, &[("AMT", "12.50"), ("KIND", kind)]).unwrap();
        assert_eq!(value("R").as_str(), Some("-12.50"));
        assert_eq!(value("S").as_str(), Some("12.50"));
    }

    #[test]
    fn operands_without_value_give_none() {
        check(&[
            ("none | dec_add('1')", "(none)"),
            ("'1' | dec_add(none)", "(none)"),
            ("'1' | dec_mul('  ')", "(none)"),
            ("dec_cmp('1', none)", "(none)"),
        ]);
    }

    #[test]
    fn arithmetic_errors_name_the_values() {
        assert_eq!(
            error("'12.50' | dec_div('0.00')"),
            "dec_div: cannot divide \"12.50\" by zero"
        );
        assert_eq!(
            error("'79228162514264337593543950335' | dec_add('1')"),
            "dec_add: \"79228162514264337593543950335\" + \"1\" is too large for a decimal"
        );
        assert_eq!(
            error("'1' | dec_mul('x')"),
            "dec_mul: cannot read \"x\" as a decimal"
        );
        assert_eq!(
            error("'1' | dec_add(0.5)"),
            "dec_add: 0.5 is a floating-point number, which is not exact; \
             pass the number as text, such as '0.5'"
        );
    }

    #[test]
    fn rounding_modes_on_ties_and_signs() {
        let cases = [
            // value, half_even, half_up, down, up, floor, ceiling
            ("2.345", ["2.34", "2.35", "2.34", "2.35", "2.34", "2.35"]),
            ("2.355", ["2.36", "2.36", "2.35", "2.36", "2.35", "2.36"]),
            (
                "-2.345",
                ["-2.34", "-2.35", "-2.34", "-2.35", "-2.35", "-2.34"],
            ),
            ("2.341", ["2.34", "2.34", "2.34", "2.35", "2.34", "2.35"]),
        ];
        let modes = ["half_even", "half_up", "down", "up", "floor", "ceiling"];
        for (value, expected) in cases {
            for (mode, want) in modes.iter().zip(expected) {
                let expr = format!("'{value}' | dec_round(2, '{mode}')");
                check(&[(expr.as_str(), want)]);
            }
        }
    }

    #[test]
    fn rounding_pads_to_the_places_asked() {
        check(&[
            ("'2.5' | dec_round(0)", "2"),
            ("'3.5' | dec_round(0)", "4"),
            ("'12.5' | dec_round(2)", "12.50"),
            ("'7' | dec_round(2)", "7.00"),
            ("'-0.004' | dec_round(2)", "0.00"),
            ("'1.005' | dec_round('2', 'half_up')", "1.01"),
        ]);
    }

    #[test]
    fn rounding_parameters_are_checked() {
        assert_eq!(
            error("'1' | dec_round(2, 'half-up')"),
            "dec_round: unknown rounding mode \"half-up\"; did you mean \"half_up\"?"
        );
        assert_eq!(
            error("'1' | dec_round(2, 'bankers')"),
            "dec_round: unknown rounding mode \"bankers\"; \
             use one of half_even, half_up, down, up, floor, ceiling"
        );
        assert_eq!(
            error("'1' | dec_round(29)"),
            "dec_round: cannot round to 29 decimal places (at most 28)"
        );
    }

    #[test]
    fn sign_changes() {
        check(&[
            ("'12.50' | dec_neg", "-12.50"),
            ("'-3' | dec_neg", "3"),
            ("'0.0' | dec_neg", "0.0"),
            ("'-12.50' | dec_abs", "12.50"),
            ("'4' | dec_abs", "4"),
        ]);
    }

    #[test]
    fn sums_skip_missing_items() {
        check(&[
            ("dec_sum(['1.10', '2.20', '-0.30'])", "3.00"),
            ("dec_sum(['5', '', none, 2])", "7"),
            ("dec_sum([])", "0"),
        ]);
        assert_eq!(
            error("dec_sum('1.5')"),
            "dec_sum: expected a list such as [A, B], got 1.5"
        );
        assert_eq!(
            error("dec_sum(['1', 'x'])"),
            "dec_sum: cannot read \"x\" as a decimal"
        );
    }

    #[test]
    fn comparisons_are_numeric() {
        check(&[
            ("dec_cmp('1.0', '1.00')", "0"),
            ("dec_cmp('9.5', '10')", "-1"),
            ("dec_cmp('-1', '-2')", "1"),
            ("dec_cmp('12.50', 12) > 0", "true"),
        ]);
    }
}
