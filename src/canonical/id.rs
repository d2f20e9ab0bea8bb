//! Deterministic event ids: UUIDv5 over the connector id and the record's natural key, so the same
//! record read twice gets the same id and consumers can drop duplicates by `source` + `id`.

use uuid::Uuid;

/// The namespace of every Omnibus event id (a fixed UUIDv5 of the URL namespace).
const NAMESPACE: Uuid = Uuid::from_u128(0x5d1b_6a5e_2c1f_5a57_9b0d_3f6e_8c4a_0e21);

/// The id of the event that `connector` derives from a record with this natural key.
pub fn event_id<S: AsRef<str>>(connector: &str, natural_key: &[S]) -> Uuid {
    let mut name = Vec::with_capacity(64);
    push_part(&mut name, connector);
    for part in natural_key {
        push_part(&mut name, part.as_ref());
    }
    Uuid::new_v5(&NAMESPACE, &name)
}

/// The id of an event whose mapping names no natural key: the record's data decides.
pub fn content_id(connector: &str, data: &[u8]) -> Uuid {
    let mut name = Vec::with_capacity(data.len() + connector.len() + 16);
    push_part(&mut name, connector);
    name.extend_from_slice(data);
    Uuid::new_v5(&NAMESPACE, &name)
}

/// The id of the dead letter for a bad record: the same bytes at the same place of the same input
/// keep their id, so a bad record read again is one dead letter, not two.
pub fn dead_letter_id(connector: &str, input: &str, offset: u64, raw: &[u8]) -> Uuid {
    let mut name = Vec::with_capacity(raw.len() + connector.len() + input.len() + 32);
    push_part(&mut name, "dead-letter");
    push_part(&mut name, connector);
    push_part(&mut name, input);
    name.extend_from_slice(&offset.to_be_bytes());
    name.extend_from_slice(raw);
    Uuid::new_v5(&NAMESPACE, &name)
}

/// Appends one length-prefixed part, so ("a", "bc") and ("ab", "c") hash differently.
fn push_part(buf: &mut Vec<u8>, part: &str) {
    buf.extend_from_slice(&(part.len() as u64).to_be_bytes());
    buf.extend_from_slice(part.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_id_and_parts_do_not_run_together() {
        let a = event_id("erp-inventory", &["SH-001", "12345"]);
        assert_eq!(a, event_id("erp-inventory", &["SH-001", "12345"]));
        assert_eq!(a.get_version_num(), 5);
        assert_ne!(a, event_id("erp-inventory", &["SH-0011", "2345"]));
        assert_ne!(a, event_id("pos-sales", &["SH-001", "12345"]));
    }

    #[test]
    fn content_id_depends_on_data() {
        assert_eq!(content_id("c", b"{\"a\":1}"), content_id("c", b"{\"a\":1}"));
        assert_ne!(content_id("c", b"{\"a\":1}"), content_id("c", b"{\"a\":2}"));
    }
}
