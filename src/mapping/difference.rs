//! Differences between an expected JSON value and an actual one, by path (`lines[1].sku: expected
//! "C", got "B"`): what examples and golden files report when an output is not the one expected.

use serde_json::Value;

/// Whether members the expected value does not list are differences too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlisted {
    /// Examples list only the fields that matter to them.
    Ignored,
    /// Golden files hold the whole output.
    Reported,
}

/// Every path where `got` differs from `want`, with both values; lists compare item by item.
pub fn differences(want: &Value, got: &Value, unlisted: Unlisted) -> Vec<String> {
    let mut out = Vec::new();
    differ("", want, got, unlisted, &mut out);
    out
}

fn differ(path: &str, want: &Value, got: &Value, unlisted: Unlisted, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, wv) in w {
                let at = join(path, key);
                match g.get(key) {
                    Some(gv) => differ(&at, wv, gv, unlisted, out),
                    None => out.push(format!("{at}: missing, expected {wv}")),
                }
            }
            if unlisted == Unlisted::Reported {
                let extra = g.iter().filter(|(key, _)| !w.contains_key(*key));
                out.extend(
                    extra.map(|(key, gv)| format!("{}: not expected, got {gv}", join(path, key))),
                );
            }
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            for (n, (wv, gv)) in w.iter().zip(g).enumerate() {
                differ(&format!("{path}[{n}]"), wv, gv, unlisted, out);
            }
        }
        (Value::Array(w), Value::Array(g)) => out.push(format!(
            "{path}: expected {} items, got {}: {got}",
            w.len(),
            g.len()
        )),
        _ if want == got => {}
        _ => out.push(format!("{path}: expected {want}, got {got}")),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unlisted_members_count_only_when_reported() {
        let want = json!({"a": 1, "l": [{"x": 1}]});
        let got = json!({"a": 1, "b": 2, "l": [{"x": 1, "y": 2}]});
        assert!(differences(&want, &got, Unlisted::Ignored).is_empty());
        assert_eq!(
            differences(&want, &got, Unlisted::Reported),
            ["l[0].y: not expected, got 2", "b: not expected, got 2"]
        );
    }

    #[test]
    fn lists_of_other_lengths_differ_as_a_whole() {
        let d = differences(&json!({"l": [1]}), &json!({"l": [1, 2]}), Unlisted::Ignored);
        assert_eq!(d, ["l: expected 1 items, got 2: [1,2]"]);
    }
}
