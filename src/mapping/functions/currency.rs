//! Amounts in a currency's minor units (fen, cents) and back: `to_minor`, `from_minor`, and the
//! CNY aliases `yuan_to_fen` and `fen_to_yuan`, by the ISO 4217 minor-unit table.

use super::args::{fail, none, param_str};
use super::decimal::{read, write};
use minijinja::{Environment, Error, State, Value};
use rust_decimal::Decimal;

/// ISO 4217 currencies whose minor unit is not two decimals; every other currency of
/// [`TWO_DECIMALS`] has two.
const OTHER_DECIMALS: [(&str, u32); 26] = [
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// ISO 4217 currencies with two decimals (cents).
const TWO_DECIMALS: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB \
    BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP \
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS \
    KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR \
    MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD \
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED \
    VES WST XCD XCG YER ZAR ZMW ZWG";

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("to_minor", to_minor);
    env.add_filter("from_minor", from_minor);
    env.add_filter("yuan_to_fen", yuan_to_fen);
    env.add_filter("fen_to_yuan", fen_to_yuan);
}

/// The number of decimals of `code` (any case).
fn minor_unit(name: &str, code: &str) -> Result<u32, Error> {
    let upper = code.to_ascii_uppercase();
    if let Some((_, decimals)) = OTHER_DECIMALS.iter().find(|(c, _)| *c == upper) {
        return Ok(*decimals);
    }
    if upper.len() == 3 && TWO_DECIMALS.split_whitespace().any(|c| c == upper) {
        return Ok(2);
    }
    Err(fail(
        name,
        format!("unknown currency \"{code}\" (use an ISO 4217 code such as \"CNY\")"),
    ))
}

/// 10 to the power `decimals` (at most 4).
fn unit(decimals: u32) -> Decimal {
    Decimal::from(10_i64.pow(decimals))
}

fn to_minor(state: &State, value: &Value, currency: &Value) -> Result<Value, Error> {
    minor(
        state,
        "to_minor",
        value,
        param_str("to_minor", "currency", currency)?,
    )
}

fn yuan_to_fen(state: &State, value: &Value) -> Result<Value, Error> {
    minor(state, "yuan_to_fen", value, "CNY")
}

/// The amount in `value` as a whole number of minor units of `currency`.
fn minor(state: &State, name: &str, value: &Value, currency: &str) -> Result<Value, Error> {
    let decimals = minor_unit(name, currency)?;
    let Some(amount) = read(state, name, value)? else {
        return Ok(none());
    };
    if amount.normalize().scale() > decimals {
        return Err(fail(
            name,
            format!(
                "\"{amount}\" has more decimals than {} allows ({decimals})",
                currency.to_ascii_uppercase()
            ),
        ));
    }
    let minor = amount
        .checked_mul(unit(decimals))
        .ok_or_else(|| fail(name, format!("\"{amount}\" is too large")))?;
    Ok(write(minor.normalize()))
}

fn from_minor(state: &State, value: &Value, currency: &Value) -> Result<Value, Error> {
    major(
        state,
        "from_minor",
        value,
        param_str("from_minor", "currency", currency)?,
    )
}

fn fen_to_yuan(state: &State, value: &Value) -> Result<Value, Error> {
    major(state, "fen_to_yuan", value, "CNY")
}

/// The whole number of minor units in `value` as an amount of `currency`, with its decimals.
fn major(state: &State, name: &str, value: &Value, currency: &str) -> Result<Value, Error> {
    let decimals = minor_unit(name, currency)?;
    let Some(minor) = read(state, name, value)? else {
        return Ok(none());
    };
    if !minor.is_integer() {
        return Err(fail(
            name,
            format!("\"{minor}\" is not a whole number of minor units"),
        ));
    }
    let mut amount = minor.trunc();
    amount
        .set_scale(decimals)
        .map_err(|e| fail(name, format!("\"{minor}\": {e}")))?;
    Ok(write(amount))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, error};
    use super::*;

    #[test]
    fn amounts_become_minor_units() {
        check(&[
            ("'12.34' | to_minor('CNY')", "1234"),
            ("'12.3' | to_minor('cny')", "1230"),
            ("'12' | to_minor('USD')", "1200"),
            ("'12.340' | to_minor('EUR')", "1234"),
            ("'-0.05' | to_minor('HKD')", "-5"),
            ("'1500' | to_minor('JPY')", "1500"),
            ("'1.5' | to_minor('KWD')", "1500"),
            ("'0' | to_minor('GBP')", "0"),
            ("5 | to_minor('TWD')", "500"),
            ("'12.34' | yuan_to_fen", "1234"),
            ("'' | yuan_to_fen", "(none)"),
        ]);
    }

    #[test]
    fn minor_units_become_amounts() {
        check(&[
            ("'1234' | from_minor('CNY')", "12.34"),
            ("'5' | from_minor('USD')", "0.05"),
            ("'-5' | from_minor('EUR')", "-0.05"),
            ("'0' | from_minor('GBP')", "0.00"),
            ("1234 | from_minor('JPY')", "1234"),
            ("'1234' | from_minor('BHD')", "1.234"),
            ("'1234' | from_minor('KRW')", "1234"),
            ("'1234' | fen_to_yuan", "12.34"),
            ("none | fen_to_yuan", "(none)"),
        ]);
    }

    #[test]
    fn extra_decimals_and_unknown_currencies_are_refused() {
        assert_eq!(
            error("'12.345' | to_minor('CNY')"),
            "to_minor: \"12.345\" has more decimals than CNY allows (2)"
        );
        assert_eq!(
            error("'100.5' | to_minor('JPY')"),
            "to_minor: \"100.5\" has more decimals than JPY allows (0)"
        );
        assert_eq!(
            error("'12.5' | fen_to_yuan"),
            "fen_to_yuan: \"12.5\" is not a whole number of minor units"
        );
        assert_eq!(
            error("'1' | to_minor('RMB')"),
            "to_minor: unknown currency \"RMB\" (use an ISO 4217 code such as \"CNY\")"
        );
        assert_eq!(
            error("'1' | from_minor('US')"),
            "from_minor: unknown currency \"US\" (use an ISO 4217 code such as \"CNY\")"
        );
    }

    #[test]
    fn the_table_has_each_code_once_and_the_usual_ones() {
        let mut codes: Vec<&str> = TWO_DECIMALS.split_whitespace().collect();
        codes.extend(OTHER_DECIMALS.iter().map(|(c, _)| *c));
        let count = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), count);
        assert!(codes.iter().all(|c| c.len() == 3));
        for (code, decimals) in [
            ("CNY", 2),
            ("HKD", 2),
            ("TWD", 2),
            ("USD", 2),
            ("EUR", 2),
            ("GBP", 2),
            ("JPY", 0),
            ("KRW", 0),
            ("KWD", 3),
            ("BHD", 3),
        ] {
            assert_eq!(minor_unit("t", code).unwrap(), decimals, "{code}");
        }
    }
}
