//! `omnibus dlq` and `omnibus offsets`, end to end: the real binary on a throw-away deployment whose
//! state store the test fills itself, replaying to the real local RabbitMQ.

mod common;

use common::POS_FORMAT;

use common::{Broker, Deployment, with_broker};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use omnibus::state::dead_letters::{self, Letter, NewLetter};
use omnibus::state::ledger::{self, FileKey};
use omnibus::state::{HubLock, Store, outbox, positions};
use serde_json::{Value, json};
use std::process::{Command, Output};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const POS_COLUMNS: [&str; 12] = [
    "store_id",
    "receipt_no",
    "line_no",
    "sold_at",
    "sku",
    "barcode",
    "item_name",
    "qty",
    "unit_price",
    "amount",
    "payment",
    "member_card",
];

/// A deployment with the `pos` connector on the repository's `pos_sales` mapping.
fn pos_deployment(name: &str) -> Deployment {
    let d = Deployment::new(name);
    d.file_connector("pos", "pos_sales", POS_FORMAT);
    d
}

/// The deployment's state store (`[state] dir` defaults to `../var/state` beside `config/`).
fn store(d: &Deployment) -> Store {
    Store::open(&d.state_dir()).expect("open the state store")
}

/// The fields of one `pos_sales` row.
fn pos_fields(receipt: &str, amount: &str) -> [String; 12] {
    [
        "SH-001",
        receipt,
        "1",
        "2024-03-01 10:15:00",
        "10023456",
        "6901234567892",
        "农夫山泉 550ml",
        "2",
        "2.00",
        amount,
        "alipay",
        "",
    ]
    .map(String::from)
}

/// A `pos_sales` row as the dead-letter index stores a decoded record: a JSON object, columns in
/// file order.
fn pos_row(receipt: &str, amount: &str) -> String {
    let fields: Vec<String> = POS_COLUMNS
        .iter()
        .zip(pos_fields(receipt, amount))
        .map(|(c, v)| format!("{}:{}", Value::from(*c), Value::from(v)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

fn letter(n: u8, connector: &str, error: &str, decoded: Option<String>) -> NewLetter {
    NewLetter {
        key: [n; 16],
        connector: connector.into(),
        file: format!("/spool/{connector}/sales.csv"),
        line: u64::from(n) + 1,
        offset: u64::from(n) * 100,
        locator: None,
        stage: "map".into(),
        error: error.into(),
        raw: format!("raw line {n}\n").into_bytes(),
        decoded,
        mapping: Some("pos_sales".into()),
        mapping_version: Some("0ld0ld0ld0ld".into()),
    }
}

async fn record(store: &Store, letters: Vec<NewLetter>) {
    store
        .write(move |c| {
            for l in &letters {
                dead_letters::record(c, l)?;
            }
            Ok(())
        })
        .await
        .expect("record letters");
}

async fn get(store: &Store, id: i64) -> Letter {
    store
        .read(move |c| dead_letters::get(c, id))
        .await
        .expect("read")
        .expect("letter exists")
}

/// Runs `omnibus <args> --config <d's hub file>` with extra environment variables.
async fn omnibus_env(d: &Deployment, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnibus"));
    cmd.args(args).arg("--config").arg(d.config());
    for (name, value) in env {
        cmd.env(name, value);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run omnibus"))
        .await
        .expect("join")
}

async fn omnibus(d: &Deployment, args: &[&str]) -> Output {
    omnibus_env(d, args, &[]).await
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `dlq list --json` with `args`: the ids listed.
async fn listed(d: &Deployment, args: &[&str]) -> Vec<i64> {
    let out = omnibus(d, &[&["dlq", "list", "--json"], args].concat()).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let letters: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON array");
    letters
        .iter()
        .map(|l| l["id"].as_i64().expect("id"))
        .collect()
}

/// Messages in `queue` (every publish of the binary was confirmed, so routed, before it exited).
async fn depth(broker: &Broker, queue: &str) -> u32 {
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    broker
        .channel
        .queue_declare(queue.into(), options, FieldTable::default())
        .await
        .expect("passive queue_declare")
        .message_count()
}

#[tokio::test]
async fn list_filters_and_show_every_detail() {
    let d = pos_deployment("dlq-list");
    let store = store(&d);
    let decimal = "field \"amount\" (from column \"amount\"): cannot read \"abc\" as a decimal";
    let mut undecodable = letter(2, "pos", "expected 12 fields, found 3", None);
    undecodable.stage = "decode".into();
    undecodable.raw = b"SH-001,\xff\xfe,1\n".to_vec();
    record(
        &store,
        vec![
            letter(1, "pos", decimal, Some(pos_row("R1", "abc"))),
            undecodable,
            letter(3, "erp", "field store is required", Some("{}".into())),
        ],
    )
    .await;
    let hours_ago = chrono::Utc::now().timestamp() - 3 * 3600;
    store
        .write(move |c| {
            c.execute(
                "UPDATE dead_letters SET last_at = ?1 WHERE id = 1",
                [hours_ago],
            )
        })
        .await
        .expect("age letter 1");

    assert_eq!(listed(&d, &[]).await, [1, 2, 3]);
    assert_eq!(listed(&d, &["--connector", "pos"]).await, [1, 2]);
    assert_eq!(listed(&d, &["--error", "EXPECTED 12"]).await, [2]);
    assert_eq!(listed(&d, &["--since", "1h"]).await, [2, 3]);
    assert_eq!(listed(&d, &["--limit", "1"]).await, [1]);
    assert!(listed(&d, &["--status", "replayed"]).await.is_empty());

    let table = stdout(&omnibus(&d, &["dlq", "list", "--connector", "pos"]).await);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("id") && lines[0].contains("file:line"),
        "{table}"
    );
    assert!(
        lines[1].contains("/spool/pos/sales.csv:2") && lines[1].contains("map"),
        "{table}"
    );
    assert!(
        lines[2].contains("decode") && lines[2].contains("expected 12 fields"),
        "{table}"
    );

    let shown = stdout(&omnibus(&d, &["dlq", "show", "1"]).await);
    assert!(shown.contains("0ld0ld0ld0ld"), "{shown}");
    assert!(shown.contains("pos_sales"), "{shown}");
    assert!(shown.contains(decimal), "{shown}");
    assert!(shown.contains("raw line 1"), "{shown}");
    let receipt = shown.find("receipt_no = \"R1\"").expect("decoded fields");
    let store_id = shown.find("store_id = \"SH-001\"").expect("decoded fields");
    assert!(store_id < receipt, "in stored order: {shown}");
    let json = omnibus(&d, &["dlq", "list", "--json", "--limit", "1"]).await;
    let first: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(first[0]["decoded"]["amount"], "abc");
    assert_eq!(first[0]["mapping_version"], "0ld0ld0ld0ld");
    let hex = stdout(&omnibus(&d, &["dlq", "show", "2"]).await);
    assert!(hex.contains("53 48 2d 30 30 31 2c ff fe 2c 31 0a"), "{hex}");
    assert!(hex.contains("|SH-001,..,1.|"), "{hex}");

    let missing = omnibus(&d, &["dlq", "show", "99"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no dead letter #99"));
}

#[tokio::test]
async fn replay_publishes_fixed_records_and_marks_them_replayed_but_a_dry_run_changes_nothing() {
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment("dlq-replay");
        broker.owns(&d);
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let store = store(&d);
        let mut undecodable = letter(2, "pos", "expected 13 fields, found 12", None);
        undecodable.stage = "decode".into();
        undecodable.decoded = Some(json!(POS_COLUMNS).to_string());
        undecodable.raw = format!("{}\n", pos_fields("R2", "5.00").join(",")).into_bytes();
        let mapped = letter(1, "pos", "old mapping failed", Some(pos_row("R1", "4.00")));
        record(&store, vec![mapped, undecodable]).await;

        let dry = omnibus(&d, &["dlq", "replay", "--dry-run"]).await;
        assert!(dry.status.success(), "{}", stderr(&dry));
        assert!(stdout(&dry).contains("dry run"), "{}", stdout(&dry));
        assert!(
            stdout(&dry).contains("replayed 2, still failing 0"),
            "{}",
            stdout(&dry)
        );
        assert_eq!(
            depth(&broker, &queue).await,
            0,
            "a dry run publishes nothing"
        );
        assert_eq!(listed(&d, &[]).await, [1, 2], "a dry run changes nothing");

        let out = omnibus(&d, &["dlq", "replay"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stdout(&out).trim(),
            "replayed 2, still failing 0, skipped 0 (loop guard)"
        );
        let got = broker.take(&queue, 2, WAIT).await;
        assert_eq!(got.len(), 2);
        for (message, (receipt, amount, line)) in
            got.iter().zip([("R1", "4.00", 2), ("R2", "5.00", 3)])
        {
            assert_eq!(message.routing_key, "retail.sale.recorded.v1");
            let data = message.json();
            assert_eq!(
                (data["receipt"].as_str(), data["amount"].as_str()),
                (Some(receipt), Some(amount))
            );
            assert_eq!(data["store"], "SH-001");
            assert_eq!(data["sold_at"], "2024-03-01T10:15:00+08:00");
            assert_eq!(
                message.header("cloudEvents_source").as_deref(),
                Some("/omnibus/test/pos")
            );
            assert_eq!(
                message.header("cloudEvents_subject"),
                Some(format!("SH-001/{receipt}"))
            );
            let origin = message.header("cloudEvents_omnibusorigin").expect("origin");
            assert!(origin.ends_with(&format!("sales.csv:{line}")), "{origin}");
        }
        assert!(
            listed(&d, &[]).await.is_empty(),
            "no letter is open any more"
        );
        assert_eq!(listed(&d, &["--status", "replayed"]).await, [1, 2]);
        assert_eq!(get(&store, 1).await.attempts, 1);

        let again = omnibus(&d, &["dlq", "replay"]).await;
        assert!(
            stdout(&again).starts_with("replayed 0,"),
            "{}",
            stdout(&again)
        );
        assert_eq!(
            depth(&broker, &queue).await,
            0,
            "replayed letters are not replayed again"
        );
    })
    .await;
}

#[tokio::test]
async fn a_letter_failing_again_counts_an_attempt_and_the_loop_guard_skips_it_unless_forced() {
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment("dlq-again");
        broker.owns(&d);
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let store = store(&d);
        record(
            &store,
            vec![letter(1, "pos", "old error", Some(pos_row("R1", "abc")))],
        )
        .await;

        let out = omnibus(&d, &["dlq", "replay"]).await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "exit 1 while a letter still fails"
        );
        assert!(
            stdout(&out).contains("replayed 0, still failing 1"),
            "{}",
            stdout(&out)
        );
        assert!(
            stderr(&out).contains("#1 /spool/pos/sales.csv:2: still failing"),
            "{}",
            stderr(&out)
        );
        let failed = get(&store, 1).await;
        assert_eq!(failed.attempts, 2);
        assert!(failed.error.contains("abc"), "{}", failed.error);
        assert_eq!(failed.stage, "map");
        let version = failed.mapping_version.expect("mapping version");
        assert!(
            version != "0ld0ld0ld0ld" && version.len() == 12,
            "{version}"
        );
        assert_eq!(failed.status, dead_letters::Status::Open);

        let guarded = letter(2, "pos", "guarded", Some(pos_row("R2", "4.00")));
        record(&store, vec![guarded.clone(); 5]).await;
        assert_eq!(get(&store, 2).await.attempts, 5);
        let out = omnibus(&d, &["dlq", "replay", "--connector", "pos"]).await;
        assert!(
            stdout(&out).contains("replayed 0, still failing 1, skipped 1"),
            "{}",
            stdout(&out)
        );
        assert_eq!(get(&store, 1).await.attempts, 3);
        assert_eq!(
            get(&store, 2).await.attempts,
            5,
            "a skipped letter keeps its count"
        );
        assert_eq!(depth(&broker, &queue).await, 0);

        let forced = omnibus(&d, &["dlq", "replay", "--force", "--error", "guarded"]).await;
        assert!(forced.status.success(), "{}", stderr(&forced));
        assert!(
            stdout(&forced).starts_with("replayed 1, still failing 0"),
            "{}",
            stdout(&forced)
        );
        let got = broker.take(&queue, 1, WAIT).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].json()["receipt"], "R2");
        assert_eq!(get(&store, 2).await.status, dead_letters::Status::Replayed);
        assert_eq!(
            get(&store, 1).await.attempts,
            3,
            "--error left letter 1 alone"
        );
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_broker_stops_replay_and_changes_nothing() {
    let d = pos_deployment("dlq-down");
    let store = store(&d);
    record(
        &store,
        vec![letter(1, "pos", "old", Some(pos_row("R1", "4.00")))],
    )
    .await;
    let closed = [("OMNIBUS__BROKER__URL", "amqp://guest:guest@127.0.0.1:1/%2f")];
    let out = omnibus_env(&d, &["dlq", "replay"], &closed).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the broker is unreachable"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("the others are unchanged"),
        "{}",
        stderr(&out)
    );
    let unchanged = get(&store, 1).await;
    assert_eq!(
        (unchanged.attempts, unchanged.status),
        (1, dead_letters::Status::Open)
    );
    assert_eq!(unchanged.error, "old");
}

#[tokio::test]
async fn purge_deletes_what_the_filters_select() {
    let d = pos_deployment("dlq-purge");
    let store = store(&d);
    record(
        &store,
        vec![
            letter(1, "pos", "a", None),
            letter(2, "pos", "b", None),
            letter(3, "erp", "c", None),
        ],
    )
    .await;
    let dry = omnibus(&d, &["dlq", "purge", "--connector", "pos", "--dry-run"]).await;
    assert_eq!(stdout(&dry).trim(), "would purge 2 dead letter(s)");
    assert_eq!(listed(&d, &[]).await, [1, 2, 3]);
    let erp = omnibus(&d, &["dlq", "purge", "--connector", "erp"]).await;
    assert_eq!(stdout(&erp).trim(), "purged 1 dead letter(s)");
    assert_eq!(listed(&d, &[]).await, [1, 2]);
    store
        .write(|c| dead_letters::mark_replayed(c, 1))
        .await
        .expect("mark");
    let replayed = omnibus(&d, &["dlq", "purge", "--status", "replayed"]).await;
    assert_eq!(stdout(&replayed).trim(), "purged 1 dead letter(s)");
    assert_eq!(listed(&d, &["--status", "all"]).await, [2]);
}

fn file_key(connector: &str) -> FileKey {
    FileKey {
        connector: connector.into(),
        hash: [0xab; 32],
        size: 10,
    }
}

/// A finished file of `pos` in the ledger, a watermark of `mall`, one `pos` message in the outbox.
async fn offsets_state(store: &Store) {
    store
        .write(|c| {
            ledger::begin(c, &file_key("pos"), "/spool/pos/sales.csv")?;
            ledger::finish(c, &file_key("pos"), 10, 9, 1)?;
            positions::set(c, "mall", "watermark", "2024-03-01T00:00:00Z")?;
            let row = outbox::Row {
                connector: "pos".into(),
                target: 0,
                routing_key: "retail.sale.recorded.v1".into(),
                message_id: None,
                properties: b"{}".to_vec(),
                body: b"{}".to_vec(),
            };
            outbox::append(c, &[row]).map(drop)
        })
        .await
        .expect("offsets state");
}

#[tokio::test]
async fn offsets_show_lists_the_ledger_the_positions_and_the_outbox() {
    let d = pos_deployment("offsets-show");
    let store = store(&d);
    offsets_state(&store).await;

    let out = omnibus(&d, &["offsets", "show"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let file = text
        .lines()
        .find(|l| l.contains("/spool/pos/sales.csv"))
        .expect("file row");
    for cell in ["pos", "done", "10", "9/1", "abababababababab"] {
        assert!(file.contains(cell), "{cell} missing in {file}");
    }
    assert!(
        !file.contains(&"ab".repeat(9)),
        "the hash is shortened: {file}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("mall") && l.contains("2024-03-01T00:00:00Z")),
        "{text}"
    );

    let json = omnibus(&d, &["offsets", "show", "--connector", "pos", "--json"]).await;
    let shown: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(shown["files"][0]["path"], "/spool/pos/sales.csv");
    assert_eq!(shown["files"][0]["rows_done"], 10);
    assert_eq!(
        shown["positions"],
        json!([]),
        "mall's position is not pos's"
    );
    assert_eq!(
        shown["outbox"],
        json!([{"connector": "pos", "messages": 1}])
    );
}

#[tokio::test]
async fn offsets_reset_is_refused_while_a_hub_holds_the_lock_and_works_once_it_is_gone() {
    let d = pos_deployment("offsets-reset");
    let store = store(&d);
    offsets_state(&store).await;
    store
        .write(|c| positions::set(c, "pos", "cursor", "p7"))
        .await
        .expect("position");

    let lock = HubLock::acquire(&d.state_dir()).expect("lock");
    let refused = omnibus(&d, &["offsets", "reset", "--connector", "pos"]).await;
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    assert!(
        message.contains("POST /api/connectors/pos/offsets"),
        "{message}"
    );
    let files = store
        .read(|c| ledger::list(c, Some("pos")))
        .await
        .expect("ledger");
    assert_eq!(files.len(), 1, "nothing was reset");
    drop(lock);

    let reset = omnibus(&d, &["offsets", "reset", "--connector", "pos"]).await;
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert!(
        stdout(&reset).contains("forgot 1 file(s) and 1 position(s)"),
        "{}",
        stdout(&reset)
    );
    let key = file_key("pos");
    let seen = store
        .read(move |c| ledger::lookup(c, &key))
        .await
        .expect("lookup");
    assert_eq!(
        seen,
        ledger::Seen::New,
        "the same file dropped again is new"
    );
    let left = store
        .read(|c| positions::list(c, None))
        .await
        .expect("positions");
    assert_eq!(left.len(), 1, "other connectors keep theirs: {left:?}");

    let to = omnibus(
        &d,
        &[
            "offsets",
            "reset",
            "--connector",
            "mall",
            "--to",
            "2024-03-02T00:00:00Z",
        ],
    )
    .await;
    assert!(to.status.success(), "{}", stderr(&to));
    let named = omnibus(
        &d,
        &[
            "offsets",
            "reset",
            "--connector",
            "mall",
            "--name",
            "cursor",
            "--to",
            "page-9",
        ],
    )
    .await;
    assert!(named.status.success(), "{}", stderr(&named));
    let mall = store
        .read(|c| positions::list(c, Some("mall")))
        .await
        .expect("positions");
    let values: Vec<(&str, &str)> = mall
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        values,
        [("cursor", "page-9"), ("watermark", "2024-03-02T00:00:00Z")]
    );
}
