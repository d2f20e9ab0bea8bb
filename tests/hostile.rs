//! Hostile input through the real binary and the real RabbitMQ: one hub runs one connector per
//! hostile file (invalid UTF-8, invalid GBK, a 1 GiB line, binary garbage, empty and header-only
//! files, an unterminated quote, rows of the wrong width, a row of too many fields, a mapping
//! that fails every record, NUL bytes) plus a control connector with a good file. Every hostile
//! file must end in `done/` or `error/` (with a report naming the line when something failed),
//! every bad record must be dead-lettered with its origin, the control file's events must all
//! arrive, and the process must stay up and small.
//!
//! Three cases run on a hub of their own (an unclosed quote, a lone CR, the report of a refused file).

mod common;

use common::{Broker, Deployment, Hub, Message, eventually, with_broker};
use lapin::options::BasicGetOptions;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// Peak resident memory the hub may reach while refusing a 1 GiB line.
const MAX_PEAK_KIB: u64 = 200 * 1024;
const GIB: u64 = 1 << 30;

/// Two text columns, keyed by `id`.
const ROWS: &str = "type = \"test.hostile.row.v1\"\nkey = [\"id\"]\n[fields]\n\
                    id = { from = \"id\", required = true }\nname = { from = \"name\" }\n";
/// Fails on every record: `id ~ 'x'` is never an integer.
const NEVER: &str = "type = \"test.hostile.never.v1\"\nkey = [\"id\"]\n[fields]\n\
                     id = { from = \"id\", required = true }\n\
                     n = { expr = \"id ~ 'x'\", type = \"integer\" }\n";

/// One file dropped into its own connector, and the folder (`done` or `error`) it must end in.
struct Case {
    connector: &'static str,
    mapping: &'static str,
    encoding: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
    folder: &'static str,
}

impl Case {
    fn new(
        connector: &'static str,
        file: &'static str,
        bytes: Vec<u8>,
        folder: &'static str,
    ) -> Self {
        Self {
            connector,
            mapping: "rows",
            encoding: "utf-8",
            file,
            bytes,
            folder,
        }
    }

    fn encoding(self, encoding: &'static str) -> Self {
        Self { encoding, ..self }
    }

    fn mapping(self, mapping: &'static str) -> Self {
        Self { mapping, ..self }
    }

    /// Where the file ends up once the hub is done with it.
    fn destination(&self, d: &Deployment) -> PathBuf {
        d.spool(self.connector).join(self.folder).join(self.file)
    }

    fn report(&self, d: &Deployment) -> String {
        let path = d
            .spool(self.connector)
            .join(self.folder)
            .join(format!("{}.report.txt", self.file));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn offset_of(&self, needle: &[u8]) -> u64 {
        self.bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("needle in the case's bytes") as u64
    }
}

fn csv_format(encoding: &str) -> String {
    format!("type = \"csv\"\nencoding = \"{encoding}\"\nheader = true")
}

/// A deployment with this test's mappings and one connector per case; the broker cleans it up.
fn deployment(broker: &mut Broker, name: &str, cases: &[&Case]) -> Deployment {
    let d = Deployment::new(name);
    broker.owns(&d);
    d.mapping("rows", ROWS);
    d.mapping("never", NEVER);
    for case in cases {
        d.file_connector(case.connector, case.mapping, &csv_format(case.encoding));
    }
    d
}

/// Waits until the hub has declared its topology (so that the dead-letter queue exists even when
/// every file is refused without a publish), drops the cases' files and waits until every one
/// has left its folder for its destination.
async fn drop_and_settle(d: &Deployment, hub: &Hub, cases: &[&Case]) {
    let connected = eventually(WAIT, || hub.log_text().contains("topology declared")).await;
    assert!(connected, "log:\n{}", hub.log_text());
    for case in cases {
        d.drop_file(case.connector, case.file, &case.bytes);
    }
    let settled = eventually(WAIT, || cases.iter().all(|c| c.destination(d).exists())).await;
    assert!(
        settled,
        "not every file was finished; log:\n{}",
        hub.log_text()
    );
}

/// Everything the hub published, by connector: events and dead letters.
struct Outcome {
    events: BTreeMap<String, Vec<Message>>,
    dead: BTreeMap<String, Vec<Message>>,
}

impl Outcome {
    /// Drains both queues. A file is finished only once its messages are confirmed, and a
    /// confirm means the message is in every queue it was routed to: what is there is all.
    async fn collect(broker: &Broker, events: &str, dead: &str) -> Self {
        let mut out = Self {
            events: BTreeMap::new(),
            dead: BTreeMap::new(),
        };
        for m in drain(broker, events).await {
            let source = m.header("cloudEvents_source").expect("source header");
            let connector = source.rsplit('/').next().unwrap_or_default().to_string();
            out.events.entry(connector).or_default().push(m);
        }
        for m in drain(broker, dead).await {
            let connector = m.header("x-omnibus-connector").expect("connector header");
            out.dead.entry(connector).or_default().push(m);
        }
        out
    }

    /// The `data` of each event from `connector`, ordered by its `id` field.
    fn data(&self, connector: &str) -> Vec<serde_json::Value> {
        let mut data: Vec<serde_json::Value> = self
            .events
            .get(connector)
            .map(|ms| ms.iter().map(Message::json).collect())
            .unwrap_or_default();
        data.sort_by_key(|d| d["id"].as_str().unwrap_or_default().to_string());
        data
    }

    /// The `id` field of each event from `connector`, sorted.
    fn ids(&self, connector: &str) -> Vec<String> {
        self.data(connector)
            .iter()
            .map(|d| d["id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The dead letters of `connector`, ordered by line.
    fn dead(&self, connector: &str) -> Vec<&Message> {
        let mut letters: Vec<&Message> = self.dead.get(connector).into_iter().flatten().collect();
        letters.sort_by_key(|m| line_of(m));
        letters
    }
}

/// Takes every message in `queue` until the broker says it is empty.
async fn drain(broker: &Broker, queue: &str) -> Vec<Message> {
    let mut out = Vec::new();
    let options = BasicGetOptions { no_ack: true };
    while let Some(got) = broker
        .channel
        .basic_get(queue.into(), options)
        .await
        .expect("basic_get")
    {
        let delivery = got.delivery;
        out.push(Message {
            routing_key: delivery.routing_key.to_string(),
            body: delivery.data,
            properties: delivery.properties,
        });
    }
    out
}

fn line_of(m: &Message) -> u64 {
    m.header("x-omnibus-line")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

/// What a dead letter must say about where its record came from and why it failed.
struct Expected<'a> {
    case: &'a Case,
    line: u64,
    offset: u64,
    stage: &'a str,
    error: &'a str,
}

fn assert_dead_letter(m: &Message, want: Expected<'_>) {
    let connector = want.case.connector;
    assert_eq!(m.routing_key, connector);
    assert_eq!(m.header("x-omnibus-connector").as_deref(), Some(connector));
    assert!(
        m.header("x-omnibus-file")
            .is_some_and(|f| f.ends_with(&format!("{connector}/{}", want.case.file))),
        "{m:?}"
    );
    assert_eq!(line_of(m), want.line, "{m:?}");
    assert_eq!(
        m.header("x-omnibus-offset").as_deref(),
        Some(want.offset.to_string().as_str()),
        "{m:?}"
    );
    assert_eq!(m.header("x-omnibus-stage").as_deref(), Some(want.stage));
    let error = m.header("x-omnibus-error").unwrap_or_default();
    assert!(
        error.contains(want.error),
        "{error:?} lacks {:?}",
        want.error
    );
    assert!(
        !m.body.is_empty(),
        "the raw record travels with the dead letter"
    );
}

/// Pseudo-random bytes from a fixed seed (xorshift64), the same on every run.
fn garbage(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Writes `header` and extends the file to `len` bytes without writing them (a sparse file of NUL
/// bytes), then renames it into the connector's folder.
fn drop_sparse(d: &Deployment, connector: &str, name: &str, header: &[u8], len: u64) {
    let tmp = d.dir.path().join(format!(".{name}.writing"));
    std::fs::write(&tmp, header).expect("write header");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&tmp)
        .and_then(|f| f.set_len(len))
        .expect("extend sparse file");
    std::fs::rename(&tmp, d.spool(connector).join(name)).expect("rename into spool");
}

fn control() -> Case {
    Case::new(
        "control",
        "control.csv",
        b"id,name\nc1,alpha\nc2,beta\nc3,gamma\n".to_vec(),
        "done",
    )
}

fn invalid_utf8() -> Case {
    let bytes = b"id,name\nu1,ok\nu2,bad\xFF\xFEend\nu3,fine\n".to_vec();
    Case::new("utf8", "utf8.csv", bytes, "done")
}

fn invalid_gbk() -> Case {
    let mut bytes = GBK_HEAD.to_vec();
    bytes.extend_from_slice(b"g2,x\x81\x20y\n");
    bytes.extend_from_slice(GBK_TAIL);
    Case::new("gbk", "gbk.csv", bytes, "done").encoding("gbk")
}

/// `id,name\ng1,和珅\n` in GBK (珅 is AB 7C: its trail byte is `|`).
const GBK_HEAD: &[u8] = b"id,name\ng1,\xBA\xCD\xAB\x7C\n";
/// `g3,亅\n` in GBK (亅 is 81 7C).
const GBK_TAIL: &[u8] = b"g3,\x81\x7C\n";

fn binary_garbage() -> Case {
    Case::new("garbage", "garbage.bin", garbage(4096), "error")
}

/// The same garbage in a single-byte encoding, where every byte is a valid character.
fn binary_garbage_1252() -> Case {
    Case::new("garbage1252", "garbage.bin", garbage(4096), "error").encoding("windows-1252")
}

fn empty() -> Case {
    Case::new("empty", "empty.csv", Vec::new(), "done")
}

fn header_only() -> Case {
    Case::new("header", "header.csv", b"id,name\n".to_vec(), "done")
}

fn unterminated_quote() -> Case {
    let bytes = b"id,name\nq1,ok\nq2,\"never closed\nq3,more\n".to_vec();
    Case::new("quote", "quote.csv", bytes, "done")
}

/// Rows of three and of one fields under a two-column header, between good rows.
fn wrong_widths() -> Case {
    let bytes = b"id,name\nw1,ok\nw2,a,b\nw3\nw4,ok\n".to_vec();
    Case::new("widths", "widths.csv", bytes, "done")
}

/// A row of 70 001 fields (over the 65 536 limit) between good rows.
fn too_many_fields() -> Case {
    let mut bytes = b"id,name\nm1,ok\nm2".to_vec();
    bytes.extend(b",f".repeat(70_000));
    bytes.extend_from_slice(b"\nm3,after\n");
    Case::new("wide", "wide.csv", bytes, "error")
}

fn never_maps() -> Case {
    let bytes = b"id,name\nn1,a\nn2,b\nn3,c\n".to_vec();
    Case::new("never", "never.csv", bytes, "error").mapping("never")
}

fn nul_bytes() -> Case {
    let bytes = b"id,name\nz1,a\x00b\nz2,\x00\x00\nz3,c\n".to_vec();
    Case::new("nul", "nul.csv", bytes, "done")
}

fn lone_cr() -> Case {
    let bytes = b"id,name\nz1,a\nz2,c\rd,e\nz3,f\n".to_vec();
    Case::new("cr", "cr.csv", bytes, "done")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_are_contained_and_the_hub_survives() {
    with_broker(|mut broker: Broker| async move {
        let cases = [
            control(),
            invalid_utf8(),
            invalid_gbk(),
            binary_garbage(),
            binary_garbage_1252(),
            empty(),
            header_only(),
            unterminated_quote(),
            wrong_widths(),
            too_many_fields(),
            never_maps(),
            nul_bytes(),
        ];
        let all: Vec<&Case> = cases.iter().collect();
        let d = deployment(&mut broker, "hostile", &all);
        d.file_connector("huge", "rows", &csv_format("utf-8"));
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let mut hub = d.start(None);
        drop_sparse(&d, "huge", "huge.csv", b"id,name\n", GIB);
        drop_and_settle(&d, &hub, &all).await;
        let huge = d.spool("huge").join("error/huge.csv");
        assert!(
            eventually(WAIT, || huge.exists()).await,
            "log:\n{}",
            hub.log_text()
        );
        let out = Outcome::collect(&broker, &queue, &d.dead_queue).await;
        let log = hub.log_text();

        assert_eq!(out.ids("control"), ["c1", "c2", "c3"], "log:\n{log}");
        assert!(out.dead("control").is_empty());
        check_invalid_utf8(&d, &out, &cases[1]);
        check_invalid_gbk(&d, &out, &cases[2]);
        check_garbage(&d, &out, &cases[3], &cases[4]);
        check_nothing_to_read(&d, &out, &cases[5]);
        check_nothing_to_read(&d, &out, &cases[6]);
        assert_eq!(out.ids("quote").first().map(String::as_str), Some("q1"));
        check_wrong_widths(&d, &out, &cases[8]);
        check_too_many_fields(&d, &out, &cases[9], &log);
        check_never_maps(&d, &out, &cases[10]);
        check_nul_bytes(&d, &out, &cases[11]);
        check_huge(&d, &out, &hub, &log);

        assert!(hub.is_running(), "the hub died; log:\n{log}");
        assert_eq!(hub.stop().code(), Some(0));
    })
    .await;
}

/// The row with invalid UTF-8 is dead-lettered with its line and offset; the others flow.
fn check_invalid_utf8(d: &Deployment, out: &Outcome, case: &Case) {
    assert_eq!(out.ids(case.connector), ["u1", "u3"]);
    let dead = out.dead(case.connector);
    assert_eq!(dead.len(), 1);
    let error = format!(
        "invalid UTF-8 byte sequence 0xFF at byte offset {}",
        case.offset_of(b"\xFF")
    );
    let want = Expected {
        case,
        line: 3,
        offset: case.offset_of(b"u2,"),
        stage: "decode",
        error: &error,
    };
    assert_dead_letter(dead[0], want);
    assert!(
        dead[0].body.starts_with(b"u2,bad\xEF\xBF\xBD"),
        "U+FFFD stands for the bad bytes"
    );
    assert!(case.report(d).contains(&format!("\n3\t{error}")));
}

/// An invalid GBK sequence is named by its bytes and offset; the characters around it decode.
fn check_invalid_gbk(d: &Deployment, out: &Outcome, case: &Case) {
    assert_eq!(out.ids(case.connector), ["g1", "g3"]);
    let names: Vec<_> = out
        .data(case.connector)
        .iter()
        .map(|v| v["name"].clone())
        .collect();
    assert_eq!(names, ["和珅", "亅"]);
    let dead = out.dead(case.connector);
    assert_eq!(dead.len(), 1);
    let error = format!(
        "invalid GBK byte sequence 0x81 at byte offset {}",
        case.offset_of(b"\x81\x20")
    );
    let want = Expected {
        case,
        line: 3,
        offset: case.offset_of(b"g2,"),
        stage: "decode",
        error: &error,
    };
    assert_dead_letter(dead[0], want);
    assert!(case.report(d).contains(&format!("\n3\t{error}")));
}

/// Garbage is refused whole: as UTF-8 its header is invalid; as windows-1252 (every byte valid)
/// it lacks the mapping's columns. Nothing is published or dead-lettered.
fn check_garbage(d: &Deployment, out: &Outcome, utf8: &Case, latin: &Case) {
    for case in [utf8, latin] {
        assert!(out.ids(case.connector).is_empty());
        assert!(out.dead(case.connector).is_empty());
        assert_eq!(
            std::fs::read(case.destination(d)).expect("kept in error/"),
            case.bytes
        );
    }
    let report = utf8.report(d);
    assert!(
        report.contains("line 1: header: invalid UTF-8 byte sequence"),
        "{report}"
    );
    let report = latin.report(d);
    assert!(report.contains("the file has no column \"id\""), "{report}");
}

/// An empty or header-only file is finished in done/ with no events, no dead letter, no report.
fn check_nothing_to_read(d: &Deployment, out: &Outcome, case: &Case) {
    assert!(out.ids(case.connector).is_empty());
    assert!(out.dead(case.connector).is_empty());
    assert_eq!(
        std::fs::read(case.destination(d)).expect("in done/"),
        case.bytes
    );
    let report = d
        .spool(case.connector)
        .join(format!("done/{}.report.txt", case.file));
    assert!(!report.exists());
}

/// Rows of the wrong width are dead letters with their line and offset; the good rows flow.
fn check_wrong_widths(d: &Deployment, out: &Outcome, case: &Case) {
    assert_eq!(out.ids(case.connector), ["w1", "w4"]);
    let dead = out.dead(case.connector);
    assert_eq!(dead.len(), 2);
    let three = Expected {
        case,
        line: 3,
        offset: case.offset_of(b"w2,"),
        stage: "decode",
        error: "expected 2 fields, found 3",
    };
    assert_dead_letter(dead[0], three);
    let one = Expected {
        case,
        line: 4,
        offset: case.offset_of(b"w3\n"),
        stage: "decode",
        error: "expected 2 fields, found 1",
    };
    assert_dead_letter(dead[1], one);
    let report = case.report(d);
    assert!(
        report.contains("\n3\texpected 2 fields, found 3"),
        "{report}"
    );
    assert!(
        report.contains("\n4\texpected 2 fields, found 1"),
        "{report}"
    );
}

/// A row past the field limit refuses the file at its line: to error/, kept whole; the rows
/// after it are not read.
fn check_too_many_fields(d: &Deployment, out: &Outcome, case: &Case, log: &str) {
    assert!(!out.ids(case.connector).contains(&"m3".to_string()));
    assert_eq!(
        std::fs::read(case.destination(d)).expect("kept in error/"),
        case.bytes
    );
    let report = case.report(d);
    let reason = "line 3: the record that starts here has over 65536 fields";
    assert!(report.contains(reason), "{report}");
    assert!(
        log.contains("moving it to error/") && log.contains(reason),
        "{log}"
    );
}

/// A mapping that fails on every record dead-letters each one (stage `map`) and sends the file
/// to error/ with every line in its report.
fn check_never_maps(d: &Deployment, out: &Outcome, case: &Case) {
    assert!(out.ids(case.connector).is_empty());
    let dead = out.dead(case.connector);
    assert_eq!(dead.len(), 3);
    for (letter, (line, id)) in dead.iter().zip([(2, "n1"), (3, "n2"), (4, "n3")]) {
        let error = format!("field \"n\": cannot read \"{id}x\" as an integer");
        let offset = case.offset_of(format!("{id},").as_bytes());
        assert_dead_letter(
            letter,
            Expected {
                case,
                line,
                offset,
                stage: "map",
                error: &error,
            },
        );
    }
    let report = case.report(d);
    assert!(
        report.contains("3 record(s) failed, 0 published"),
        "{report}"
    );
    for line in ["\n2\t", "\n3\t", "\n4\t"] {
        assert!(report.contains(line), "{report}");
    }
}

/// NUL bytes are data: they reach the event intact, JSON-escaped.
fn check_nul_bytes(d: &Deployment, out: &Outcome, case: &Case) {
    assert_eq!(out.ids(case.connector), ["z1", "z2", "z3"]);
    let names: Vec<_> = out
        .data(case.connector)
        .iter()
        .map(|v| v["name"].clone())
        .collect();
    assert_eq!(names, ["a\u{0}b", "\u{0}\u{0}", "c"]);
    assert!(out.dead(case.connector).is_empty());
    assert!(case.destination(d).exists());
}

/// A 1 GiB line is refused at 16 MiB: the file goes to error/ untouched, memory stays small.
fn check_huge(d: &Deployment, out: &Outcome, hub: &Hub, log: &str) {
    assert!(out.ids("huge").is_empty() && out.dead("huge").is_empty());
    let refused = d.spool("huge").join("error/huge.csv");
    assert_eq!(std::fs::metadata(&refused).expect("kept").len(), GIB);
    let report =
        std::fs::read_to_string(d.spool("huge").join("error/huge.csv.report.txt")).expect("report");
    assert!(
        report.contains("line 2: the record that starts here is longer than 16 MiB"),
        "{report}"
    );
    assert!(log.contains("longer than 16 MiB"), "{log}");
    let peak = hub.peak_rss_kib().expect("VmHWM of the hub");
    assert!(peak < MAX_PEAK_KIB, "peak RSS {peak} KiB");
}

/// Runs one case on a hub of its own, for the ignored tests.
async fn run_alone(broker: &mut Broker, name: &str, case: &Case) -> (Deployment, Outcome) {
    let d = deployment(broker, name, &[case]);
    let queue = broker.bound_queue(&d.exchange, "#").await;
    let mut hub = d.start(None);
    drop_and_settle(&d, &hub, &[case]).await;
    let out = Outcome::collect(broker, &queue, &d.dead_queue).await;
    assert!(hub.is_running(), "log:\n{}", hub.log_text());
    (d, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_open_at_the_end_of_the_file_is_a_dead_letter() {
    with_broker(|mut broker: Broker| async move {
        let case = unterminated_quote();
        let (d, out) = run_alone(&mut broker, "quote", &case).await;
        assert_eq!(out.ids(case.connector), ["q1"]);
        let dead = out.dead(case.connector);
        assert_eq!(dead.len(), 1);
        let want = Expected {
            case: &case,
            line: 3,
            offset: case.offset_of(b"q2,"),
            stage: "decode",
            error: "quote",
        };
        assert_dead_letter(dead[0], want);
        assert!(case.report(&d).contains("\n3\t"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_cr_inside_a_row_does_not_split_it() {
    with_broker(|mut broker: Broker| async move {
        let case = lone_cr();
        let (d, out) = run_alone(&mut broker, "cr", &case).await;
        assert_eq!(out.ids(case.connector), ["z1", "z3"]);
        let dead = out.dead(case.connector);
        assert_eq!(dead.len(), 1);
        let want = Expected {
            case: &case,
            line: 3,
            offset: case.offset_of(b"z2,"),
            stage: "decode",
            error: "expected 2 fields, found 3",
        };
        assert_dead_letter(dead[0], want);
        assert!(String::from_utf8_lossy(&dead[0].body).contains("c\rd"));
        assert!(case.report(&d).contains("\n3\t"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_refused_midway_has_a_truthful_report() {
    with_broker(|mut broker: Broker| async move {
        let case = too_many_fields();
        let (d, out) = run_alone(&mut broker, "midway", &case).await;
        let report = case.report(&d);
        let published = out.ids(case.connector).len();
        assert!(
            report.contains(&format!(" {published} published")),
            "{report}"
        );
        for letter in out.dead(case.connector) {
            assert!(
                report.contains(&format!("\n{}\t", line_of(letter))),
                "{report}"
            );
        }
        assert!(report.contains("\n3\tline 3: "), "{report}");
    })
    .await;
}
