//! One element's subtree as a JSON value, built event by event: an element with only text is a
//! string; one with attributes or children is an object of `@attribute` keys, child keys and
//! `#text` for the text left between them. A child name met twice makes an array. Text is trimmed
//! of XML whitespace; whitespace-only text is dropped.

use serde_json::{Map, Value};

/// Key of an element's own text when it also has attributes or children.
pub(super) const TEXT_KEY: &str = "#text";

/// An element being built.
struct Frame {
    key: String,
    map: Map<String, Value>,
    text: String,
}

/// Builds the subtree of one element from its events.
#[derive(Default)]
pub(super) struct TreeBuilder {
    frames: Vec<Frame>,
}

impl TreeBuilder {
    /// Opens an element named `key` inside the current one (or as the root).
    pub fn open(&mut self, key: String) {
        self.frames.push(Frame {
            key,
            map: Map::new(),
            text: String::new(),
        });
    }

    /// Adds an attribute to the open element, as `@name`.
    pub fn attribute(&mut self, name: &str, value: String) {
        if let Some(frame) = self.frames.last_mut() {
            frame.map.insert(format!("@{name}"), Value::String(value));
        }
    }

    /// Appends text to the open element. Leading whitespace (indentation) is never kept, so it
    /// is not copied either.
    pub fn text(&mut self, text: &str) {
        if let Some(frame) = self.frames.last_mut() {
            let text = match frame.text.is_empty() {
                true => text.trim_start_matches(is_space),
                false => text,
            };
            frame.text.push_str(text);
        }
    }

    /// Closes the open element; yields it with its key once the root closes.
    pub fn close(&mut self) -> Option<(String, Value)> {
        let Frame { key, mut map, text } = self.frames.pop()?;
        let text = trim(text);
        let value = if map.is_empty() {
            Value::String(text)
        } else {
            if !text.is_empty() {
                map.insert(TEXT_KEY.to_string(), Value::String(text));
            }
            Value::Object(map)
        };
        match self.frames.last_mut() {
            Some(parent) => {
                insert(&mut parent.map, key, value);
                None
            }
            None => Some((key, value)),
        }
    }

    /// Drops everything built so far.
    pub fn clear(&mut self) {
        self.frames.clear();
    }
}

/// Adds `value` under `key`; a key already there becomes (or grows) an array.
pub(super) fn insert(map: &mut Map<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        None => {
            map.insert(key, value);
        }
        Some(existing) => append(existing, value),
    }
}

/// Turns `existing` into an array (an element's value never is one) and adds `value` to it.
pub(super) fn append(existing: &mut Value, value: Value) {
    match existing {
        Value::Array(items) => items.push(value),
        other => {
            let first = other.take();
            *other = Value::Array(vec![first, value]);
        }
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Removes leading and trailing XML whitespace, in place.
fn trim(mut text: String) -> String {
    let end = text.trim_end_matches(is_space).len();
    text.truncate(end);
    let start = text.len() - text.trim_start_matches(is_space).len();
    text.drain(..start);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_attributes_children_and_repeats() {
        let mut tree = TreeBuilder::default();
        tree.open("IDOC".into());
        tree.attribute("BEGIN", "1".into());
        tree.text("\n  ");
        for sku in ["A", "B"] {
            tree.open("E1EDP01".into());
            tree.open("MATNR".into());
            tree.text(&format!("  {sku} \n"));
            assert_eq!(tree.close(), None);
            assert_eq!(tree.close(), None);
        }
        tree.open("EMPTY".into());
        tree.close();
        tree.text(" tail ");
        let (key, value) = tree.close().unwrap();
        assert_eq!(key, "IDOC");
        assert_eq!(
            value,
            json!({"@BEGIN": "1", "E1EDP01": [{"MATNR": "A"}, {"MATNR": "B"}], "EMPTY": "",
                   "#text": "tail"})
        );
    }
}
