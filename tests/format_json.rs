//! `omnibus map` on JSON and NDJSON inputs: records at a record path with a context value, numbers
//! kept exact, and bad records named by their line and path.

mod common;

use common::offline::{events, omnibus, succeeded};

const MAPPING: &str = r#"type = "retail.inventory.level.v1"
key = ["store", "sku", "as_of"]
[fields]
store   = { from = "STORE", required = true }
sku     = { from = "sku", required = true }
on_hand = { from = "on_hand", type = "decimal", required = true }
as_of   = { from = "AS_OF", type = "date", format = "%Y-%m-%d", required = true }
"#;

/// A deployment with a `json` connector (records at `/levels/*`, the header as context) and an
/// `ndjson` one.
fn deployment() -> tempfile::TempDir {
    let dir = common::offline::deployment();
    let connectors = [
        (
            "shop",
            "shop_levels",
            "type = \"json\"\nrecord = \"/levels/*\"\ncontext = [\"/meta\"]\n",
        ),
        (
            "feed",
            "feed_levels",
            "type = \"ndjson\"\nencoding = \"gbk\"\n",
        ),
    ];
    for (id, mapping, format) in connectors {
        std::fs::write(
            dir.path().join(format!("connectors/{id}.toml")),
            format!(
                "system = \"{id}\"\nmapping = \"{mapping}\"\n[source]\ntype = \"file\"\n\
                 path = \"../spool\"\n[format]\n{format}"
            ),
        )
        .expect("connector");
    }
    let shop = MAPPING
        .replace("\"STORE\"", "\"meta.store\"")
        .replace("\"AS_OF\"", "\"meta.as_of\"");
    std::fs::write(dir.path().join("mappings/shop_levels.toml"), shop).expect("mapping");
    let feed = MAPPING
        .replace("\"STORE\"", "\"store\"")
        .replace("\"AS_OF\"", "\"date\"");
    std::fs::write(dir.path().join("mappings/feed_levels.toml"), feed).expect("mapping");
    dir
}

#[test]
fn json_records_at_a_path_get_the_header_and_keep_exact_numbers() {
    let dir = deployment();
    let config = dir.path().join("config/omnibus.toml");
    let out = omnibus(&["check"], &config);
    succeeded(&out);
    let file = dir.path().join("levels.json");
    std::fs::write(
        &file,
        r#"{
  "meta": {"store": "SH-001", "as_of": "2024-03-01"},
  "levels": [
    {"sku": "000123", "on_hand": 12.50},
    {"sku": "000456", "on_hand": 3},
    "not a record",
    {"sku": "000789", "on_hand": 12345678901234567890.125}
  ]
}"#,
    )
    .expect("write");
    let out = omnibus(
        &[
            "map",
            "--connector",
            "shop",
            file.to_str().expect("utf-8 path"),
        ],
        &config,
    );
    assert_eq!(out.status.code(), Some(1));
    let events = events(&out);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["type"], "retail.inventory.level.v1");
    assert_eq!(
        events[0]["data"],
        serde_json::json!({"store": "SH-001", "sku": "000123", "on_hand": "12.50", "as_of": "2024-03-01"})
    );
    assert_eq!(events[1]["data"]["on_hand"], "3");
    assert_eq!(events[2]["data"]["on_hand"], "12345678901234567890.125");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("levels.json:6 (/levels/2)") && err.contains("not a JSON object"),
        "{err}"
    );
}

#[test]
fn ndjson_lines_in_gbk_map_one_event_each_and_bad_lines_are_named() {
    let dir = deployment();
    let config = dir.path().join("config/omnibus.toml");
    let text = "{\"store\": \"SH-001\", \"sku\": \"康师傅\", \"on_hand\": 120.000, \"date\": \"2024-03-01\"}\n\
                \n\
                {\"store\": \"SH-002\", \"sku\": \"A\", \"on_hand\": 1, \"date\": \"2024-03-01\"\n\
                {\"store\": \"SH-003\", \"sku\": \"B\", \"on_hand\": 2, \"date\": \"2024-03-02\"}\n";
    let (bytes, _, _) = encoding_rs::GBK.encode(text);
    let file = dir.path().join("levels.ndjson");
    std::fs::write(&file, &bytes).expect("write");
    let out = omnibus(
        &[
            "map",
            "--connector",
            "feed",
            file.to_str().expect("utf-8 path"),
        ],
        &config,
    );
    assert_eq!(out.status.code(), Some(1));
    let events = events(&out);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["data"]["sku"], "康师傅");
    assert_eq!(events[0]["data"]["on_hand"], "120.000");
    assert_eq!(events[1]["data"]["store"], "SH-003");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("levels.ndjson:3:"), "{err}");
}
