//! One message's segments → the record tree mappings address.
//!
//! A segment becomes an object: `tag`, its position `n` in the message (UNH is 1) and each
//! non-empty data element as `eN`, an object of its non-empty components `c1`, `c2`, …; an
//! element with repetitions also lists them all as `rN`. Segments sit in their parent under two
//! keys: the tag, always a list of every such segment in order (`LIN`, `DTM`), and the tag with
//! its qualifier, the first segment whose first component of element 1 is that qualifier
//! (`NAD+BY`, `QTY+21`). A group trigger's segment holds the segments of its group the same way.
//! The shape depends only on the tags, never on how many segments there are, so a path that
//! works on one message works on all.

use serde_json::{Map, Value};

use super::spec::Groups;
use super::tokenizer::Segment;

/// The envelope of a message: the segments around its body.
pub struct Envelope<'a> {
    pub unb: Option<&'a Segment>,
    pub ung: Option<&'a Segment>,
    pub unh: &'a Segment,
    pub unt: &'a Segment,
}

/// A segment and the segments of the group it starts.
struct Node {
    segment: usize,
    children: Vec<usize>,
}

/// The record tree of a message whose segments between UNH and UNT are `body`.
pub fn message(envelope: &Envelope<'_>, body: &[Segment], groups: &Groups) -> Value {
    let mut root = Map::new();
    if let Some(unb) = envelope.unb {
        root.insert("UNB".into(), Value::Object(fields(unb, None)));
    }
    if let Some(ung) = envelope.ung {
        root.insert("UNG".into(), Value::Object(fields(ung, None)));
    }
    root.insert("UNH".into(), Value::Object(fields(envelope.unh, Some(1))));
    let unt_number = body.len() + 2;
    root.insert(
        "UNT".into(),
        Value::Object(fields(envelope.unt, Some(unt_number))),
    );
    let (nodes, top) = nest(body, groups);
    for &index in &top {
        let segment = &body[index];
        place(&mut root, segment, node_value(index, &nodes, body));
    }
    Value::Object(root)
}

/// Nests the body's segments into groups: a trigger closes the open group it already started
/// (and the groups inside it), then joins the innermost open group that holds it; any other
/// segment joins the innermost open group that holds it, closing those that do not. UNS closes
/// every group. Returns each segment's node and the top-level segments.
fn nest(body: &[Segment], groups: &Groups) -> (Vec<Node>, Vec<usize>) {
    let mut nodes: Vec<Node> = (0..body.len())
        .map(|segment| Node {
            segment,
            children: Vec::new(),
        })
        .collect();
    let mut top = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for (index, segment) in body.iter().enumerate() {
        let tag = segment.tag.as_str();
        let trigger = groups.is_trigger(tag);
        if tag == "UNS" {
            open.clear();
        }
        if trigger && let Some(at) = open.iter().position(|&o| body[o].tag == tag) {
            open.truncate(at);
        }
        while let Some(&parent) = open.last()
            && !groups.accepts(&body[parent].tag, tag)
        {
            open.pop();
        }
        match open.last() {
            Some(&parent) => nodes[parent].children.push(index),
            None => top.push(index),
        }
        if trigger {
            open.push(index);
        }
    }
    (nodes, top)
}

/// A segment with the segments of its group.
fn node_value(index: usize, nodes: &[Node], body: &[Segment]) -> Value {
    let node = &nodes[index];
    let mut map = fields(&body[node.segment], Some(node.segment + 2));
    for &child in &node.children {
        place(&mut map, &body[child], node_value(child, nodes, body));
    }
    Value::Object(map)
}

/// Puts a segment's value under its tag (a list) and its tag with qualifier (the first only).
fn place(map: &mut Map<String, Value>, segment: &Segment, value: Value) {
    if let Some(qualifier) = segment.value(1, 0) {
        map.entry(format!("{}+{qualifier}", segment.tag))
            .or_insert_with(|| value.clone());
    }
    if let Value::Array(items) = map
        .entry(segment.tag.clone())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        items.push(value);
    }
}

/// `tag`, `n` and the elements of one segment.
fn fields(segment: &Segment, number: Option<usize>) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("tag".into(), Value::from(segment.tag.as_str()));
    if let Some(number) = number {
        map.insert("n".into(), Value::from(number.to_string()));
    }
    for (index, element) in segment.elements.iter().enumerate() {
        let n = index + 1;
        let repetitions: Vec<Map<String, Value>> = element.iter().map(|r| components(r)).collect();
        if let Some(first) = repetitions.first().filter(|c| !c.is_empty()) {
            map.insert(format!("e{n}"), Value::Object(first.clone()));
        }
        if repetitions.len() > 1 {
            let all = repetitions.into_iter().map(Value::Object).collect();
            map.insert(format!("r{n}"), Value::Array(all));
        }
    }
    map
}

/// `c1`, `c2`, … of the non-empty components.
fn components(repetition: &[String]) -> Map<String, Value> {
    repetition
        .iter()
        .enumerate()
        .filter(|(_, value)| !value.is_empty())
        .map(|(i, value)| (format!("c{}", i + 1), Value::from(value.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn segment(text: &str) -> Segment {
        let mut elements: Vec<Vec<Vec<String>>> = text
            .split('+')
            .map(|e| {
                e.split('*')
                    .map(|r| r.split(':').map(str::to_string).collect())
                    .collect()
            })
            .collect();
        let tag = elements.remove(0).remove(0).remove(0);
        Segment {
            tag,
            elements,
            line: 1,
            offset: 0,
            before: String::new(),
            raw: text.to_string(),
            terminated: true,
            malformation: None,
        }
    }

    fn tree(body: &[&str], groups: &Groups) -> Value {
        let unh = segment("UNH+1+ORDERS:D:96A:UN");
        let unt = segment("UNT+9+1");
        let body: Vec<Segment> = body.iter().map(|s| segment(s)).collect();
        let envelope = Envelope {
            unb: None,
            ung: None,
            unh: &unh,
            unt: &unt,
        };
        message(&envelope, &body, groups)
    }

    #[test]
    fn segments_are_keyed_by_tag_and_qualifier() {
        let t = tree(
            &[
                "DTM+137:20240311:102",
                "DTM+2:20240315:102",
                "NAD+BY+111::9",
            ],
            &Groups::none(),
        );
        assert_eq!(t["DTM"].as_array().unwrap().len(), 2);
        assert_eq!(t["DTM+2"]["e1"]["c2"], "20240315");
        assert_eq!(t["DTM+137"]["n"], "2");
        assert_eq!(t["NAD+BY"]["e2"], json!({"c1": "111", "c3": "9"}));
        assert_eq!(t["NAD"][0]["tag"], "NAD");
        assert_eq!(t["UNH"]["e2"]["c1"], "ORDERS");
        assert_eq!(t["UNT"]["n"], "5");
    }

    #[test]
    fn groups_nest_until_a_segment_they_do_not_hold() {
        let t = tree(
            &[
                "NAD+BY+111::9",
                "CTA+PD+:Jane",
                "NAD+SU+222::9",
                "CUX+2:EUR:9",
                "LIN+1++871:EN",
                "QTY+21:38",
                "NAD+DP+333",
                "LOC+7+X",
                "PRI+AAA:75.55",
                "LIN+2++872:EN",
                "QTY+21:5",
                "UNS+S",
                "CNT+2:2",
            ],
            &Groups::default(),
        );
        assert_eq!(t["NAD+BY"]["CTA+PD"]["e2"]["c2"], "Jane");
        assert!(t["NAD+SU"].get("CUX").is_none());
        assert_eq!(t["CUX"][0]["e1"]["c2"], "EUR");
        let lines = t["LIN"].as_array().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["QTY+21"]["e1"]["c2"], "38");
        assert_eq!(lines[0]["NAD+DP"]["LOC"][0]["e2"]["c1"], "X");
        assert_eq!(lines[0]["PRI+AAA"]["e1"]["c2"], "75.55");
        assert_eq!(t["LIN+2"]["QTY+21"]["e1"]["c2"], "5");
        assert_eq!(t["CNT+2"]["e1"]["c2"], "2");
        assert!(lines[1].get("UNS").is_none());
    }

    #[test]
    fn a_group_that_holds_anything_nests_other_groups() {
        let mut spec = std::collections::BTreeMap::new();
        spec.insert("CPS".to_string(), vec!["*".to_string()]);
        spec.insert("LIN".to_string(), vec!["QTY".to_string()]);
        let groups = Groups::new(spec).unwrap();
        let t = tree(
            &[
                "CPS+1", "LIN+1", "QTY+12:1", "LIN+2", "CPS+2", "LIN+3", "CNT+2:3",
            ],
            &groups,
        );
        assert_eq!(t["CPS"][0]["LIN"].as_array().unwrap().len(), 2);
        assert_eq!(t["CPS"][0]["LIN+1"]["QTY+12"]["e1"]["c2"], "1");
        assert_eq!(t["CPS+2"]["LIN"][0]["e1"]["c1"], "3");
        assert_eq!(t["CPS+2"]["CNT"][0]["e1"]["c2"], "3");
    }

    #[test]
    fn empty_elements_are_left_out_and_repetitions_listed() {
        let t = tree(&["IMD+++:::Seal", "COM+1:2*3:4"], &Groups::none());
        assert_eq!(
            t["IMD"][0],
            json!({"tag": "IMD", "n": "2", "e3": {"c4": "Seal"}})
        );
        assert_eq!(t["COM"][0]["e1"], json!({"c1": "1", "c2": "2"}));
        assert_eq!(t["COM"][0]["r1"][1], json!({"c1": "3", "c2": "4"}));
    }
}
