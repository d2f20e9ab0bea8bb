//! The incremental watermark of an HTTP poll: the largest value of a record field (or the last
//! cursor), kept in `state::positions` under the connector's id and saved only once the events of
//! the pages it covers are settled.
//!
//! Values compare as RFC 3339 instants when both parse as one, else as numbers when both parse
//! as one, else as text.

use std::cmp::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::spec::WatermarkSpec;
use crate::config::connector::FormatSpec;
use crate::format;
use crate::format::record::{Body, Record};
use crate::state::{Store, StoreError, positions};

/// The position name of a field watermark.
const FIELD: &str = "watermark";
/// The position name of a cursor watermark.
const CURSOR: &str = "cursor";

fn position_name(spec: &WatermarkSpec) -> &'static str {
    match spec {
        WatermarkSpec::Field { .. } => FIELD,
        WatermarkSpec::Cursor { .. } => CURSOR,
    }
}

/// The saved watermark, or the spec's `initial` when none is saved yet.
pub async fn load(
    store: &Store,
    connector: &str,
    spec: &WatermarkSpec,
) -> Result<Option<String>, StoreError> {
    let (id, name) = (connector.to_string(), position_name(spec));
    let saved = store.read(move |c| positions::get(c, &id, name)).await?;
    let initial = match spec {
        WatermarkSpec::Field { initial, .. } | WatermarkSpec::Cursor { initial } => initial,
    };
    Ok(saved.or_else(|| initial.clone()))
}

/// Saves `value` as the watermark.
pub async fn save(
    store: &Store,
    connector: &str,
    spec: &WatermarkSpec,
    value: String,
) -> Result<(), StoreError> {
    let (id, name) = (connector.to_string(), position_name(spec));
    store
        .write(move |c| positions::set(c, &id, name, &value))
        .await
}

/// Orders two watermark values (module docs).
pub fn compare(a: &str, b: &str) -> Ordering {
    let instant = |s: &str| chrono::DateTime::parse_from_rfc3339(s.trim()).ok();
    if let (Some(x), Some(y)) = (instant(a), instant(b)) {
        return x.cmp(&y);
    }
    let number = |s: &str| s.trim().parse::<rust_decimal::Decimal>().ok();
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.cmp(&y);
    }
    a.cmp(b)
}

/// The larger of two optional watermarks.
pub fn later(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if compare(&a, &b) == Ordering::Less {
            b
        } else {
            a
        }),
        (a, b) => a.or(b),
    }
}

/// The largest value of `field` over the records of `body`, decoded as `format` says (on a
/// blocking thread: the body may be large).
pub async fn largest(
    format: &FormatSpec,
    body: Bytes,
    field: &str,
    connector: &Arc<str>,
    name: &Arc<str>,
) -> Option<String> {
    let (format, field) = (format.clone(), field.to_string());
    let (connector, name) = (Arc::clone(connector), Arc::clone(name));
    tokio::task::spawn_blocking(move || {
        format::decode(&format, &body[..], connector, name)
            .filter_map(Result::ok)
            .filter_map(|record| value(&record, &field))
            .reduce(|a, b| {
                if compare(&a, &b) == Ordering::Less {
                    b
                } else {
                    a
                }
            })
    })
    .await
    .ok()
    .flatten()
}

/// The text of `field` in `record`: a JSON Pointer (`/order/updated_at`) or a dotted path
/// (`order.updated_at`) into a tree, a column name in a row. Strings and numbers count.
fn value(record: &Record, field: &str) -> Option<String> {
    match &record.body {
        Body::Row { columns, row } => columns
            .position(field)
            .and_then(|i| row.get(i))
            .filter(|v| !v.is_empty())
            .map(str::to_string),
        Body::Tree(tree) => {
            let found = if field.starts_with('/') {
                tree.pointer(field)
            } else {
                field.split('.').try_fold(tree, |v, step| v.get(step))
            };
            match found? {
                serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::{Columns, Origin};

    #[test]
    fn instants_numbers_then_text() {
        assert_eq!(
            compare("2024-03-01T10:00:00+08:00", "2024-03-01T03:00:00Z"),
            Ordering::Less
        );
        assert_eq!(compare("9", "10"), Ordering::Less);
        assert_eq!(compare("1.50", "1.5"), Ordering::Equal);
        assert_eq!(compare("b", "a"), Ordering::Greater);
        assert_eq!(compare("10", "9x"), Ordering::Less, "mixed: as text");
        assert_eq!(
            later(Some("9".into()), Some("10".into())).as_deref(),
            Some("10")
        );
        assert_eq!(later(None, Some("1".into())).as_deref(), Some("1"));
    }

    fn origin() -> Origin {
        Origin {
            connector: "c".into(),
            file: "m".into(),
            line: 1,
            offset: 0,
            locator: None,
        }
    }

    #[test]
    fn fields_by_pointer_path_or_column() {
        let tree = Record {
            origin: origin(),
            body: Body::Tree(serde_json::json!({"o": {"at": "2024-01-01", "n": 7}})),
        };
        assert_eq!(value(&tree, "/o/at").as_deref(), Some("2024-01-01"));
        assert_eq!(value(&tree, "o.n").as_deref(), Some("7"));
        assert_eq!(value(&tree, "o.missing"), None);
        let columns = Arc::new(Columns::new(vec!["id".into(), "at".into()], b','));
        let row = Record::row(origin(), columns, ["1", "2024-02-02"].into_iter().collect());
        assert_eq!(value(&row, "at").as_deref(), Some("2024-02-02"));
    }
}
