//! What a message source knows about a message besides its body — an MQTT topic, an AMQP routing
//! key, a webhook's path — attached to every record decoded from that body under the reserved
//! name `_meta`, so a mapping reads it like any other field: `from = "_meta.topic"`.
//!
//! A tree record (JSON, XML, EDIFACT) gets an object `_meta` at its root (a root that is not an
//! object is left alone); a flat row (CSV, fixed-width) gets one extra column per attribute,
//! named `_meta.<name>`, which mapping paths read as written.

use crate::format::record::{Body, Columns, Record};
use std::sync::Arc;

/// The reserved field name.
pub const META: &str = "_meta";

/// A message's attributes, in the order the source gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta(Vec<(String, String)>);

impl Meta {
    /// Adds an attribute.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push((name.into(), value.into()));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Attaches the attributes to the records of one message, reusing the widened columns of
    /// rows that share a header.
    pub fn attacher(&self) -> Attacher<'_> {
        Attacher {
            meta: self,
            widened: None,
        }
    }
}

/// Attaches one message's attributes to its records.
pub struct Attacher<'m> {
    meta: &'m Meta,
    /// The last header seen and its widened copy.
    widened: Option<(Arc<Columns>, Arc<Columns>)>,
}

impl Attacher<'_> {
    /// Adds the attributes to `record`.
    pub fn attach(&mut self, record: &mut Record) {
        if self.meta.is_empty() {
            return;
        }
        match &mut record.body {
            Body::Tree(serde_json::Value::Object(root)) => {
                let attributes = self
                    .meta
                    .0
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                    .collect();
                root.insert(META.to_string(), serde_json::Value::Object(attributes));
            }
            Body::Tree(_) => {}
            Body::Row { columns, row } => {
                *columns = self.widen(columns);
                for (_, value) in &self.meta.0 {
                    row.push_field(value);
                }
            }
        }
    }

    fn widen(&mut self, columns: &Arc<Columns>) -> Arc<Columns> {
        if let Some((from, to)) = &self.widened
            && Arc::ptr_eq(from, columns)
        {
            return Arc::clone(to);
        }
        let mut names = columns.names().to_vec();
        names.extend(self.meta.0.iter().map(|(k, _)| format!("{META}.{k}")));
        let to = Arc::new(Columns::new(names, columns.delimiter()));
        self.widened = Some((Arc::clone(columns), Arc::clone(&to)));
        to
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::Origin;

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
    fn a_tree_gets_a_meta_object() {
        let meta = Meta::default().with("topic", "stores/0571/visits");
        let mut record = Record {
            origin: origin(),
            body: Body::Tree(serde_json::json!({"sku": "A1"})),
        };
        meta.attacher().attach(&mut record);
        assert_eq!(
            record.to_json(),
            r#"{"_meta":{"topic":"stores/0571/visits"},"sku":"A1"}"#
        );
    }

    #[test]
    fn rows_sharing_a_header_share_the_widened_header() {
        let meta = Meta::default().with("topic", "t").with("qos", "1");
        let columns = Arc::new(Columns::new(vec!["sku".into()], b','));
        let row = |v: &str| Record::row(origin(), Arc::clone(&columns), [v].into_iter().collect());
        let (mut a, mut b) = (row("A1"), row("B2"));
        let mut attacher = meta.attacher();
        attacher.attach(&mut a);
        attacher.attach(&mut b);
        assert_eq!(
            a.to_json(),
            r#"{"sku":"A1","_meta.topic":"t","_meta.qos":"1"}"#
        );
        let (Some(ca), Some(cb)) = (a.columns(), b.columns()) else {
            panic!("rows keep columns");
        };
        assert!(Arc::ptr_eq(ca, cb));
    }

    #[test]
    fn no_attributes_leave_a_record_as_it_is() {
        let mut record = Record {
            origin: origin(),
            body: Body::Tree(serde_json::json!({"sku": "A1"})),
        };
        Meta::default().attacher().attach(&mut record);
        assert_eq!(record.to_json(), r#"{"sku":"A1"}"#);
    }
}
