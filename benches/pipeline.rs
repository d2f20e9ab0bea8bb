//! Throughput and memory of the pipeline, measured in one run so the figures compare:
//!
//! - `decode`: decode + map + envelope + wire encoding of a generated 1,000,000-row, 10-column CSV
//!   on one thread, no broker (records/s);
//! - `e2e`: the hub's file pipeline into the real RabbitMQ with confirms, side by side with a raw
//!   lapin publisher sending as many same-size messages with the same confirm window (rate ratio);
//! - `outbox`: the file pipeline with the outbox engaged (broker slower than the sources) against
//!   direct publishing, and the outbox's drain rate after an outage (rate ratios);
//! - `rss`: peak RSS of the real `omnibus run` taking a generated ~1 GB file into RabbitMQ.
//!
//! `cargo bench --bench pipeline` runs `decode` and `e2e`; name the parts to run others:
//! `cargo bench --bench pipeline -- rss`. Sizes: `BENCH_ROWS` (decode, default 1,000,000),
//! `BENCH_E2E_ROWS` (default 200,000), `BENCH_OUTBOX_ROWS` (default 100,000), `BENCH_RSS_MB`
//! (default 1024).

mod common;

use common::{env_usize, vm_hwm_kb};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use omnibus::config::connector::{
    After, ConnectorSpec, ContentMode, CsvColumns, CsvSpec, FileSourceSpec, FormatSpec,
    OnDuplicate, SourceSpec,
};
use omnibus::connector::emit::Emitter;
use omnibus::connector::ingest::{Failures, Ingest};
use omnibus::connector::status::StatusHandle;
use omnibus::mapping::Mapping;
use omnibus::route::Publisher;
use omnibus::route::publisher::PublisherSettings;
use omnibus::route::topology::Topology;
use omnibus::state::Store;
use omnibus::state::ledger::FileKey;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const WINDOW: usize = 1024;
const HEADER: &str =
    "store_id,receipt_no,line_no,sold_at,sku,barcode,item_name,qty,unit_price,amount";

const MAPPING: &str = r#"
type = "retail.sale.recorded.v1"
subject = "{{ store }}/{{ receipt }}"
key = ["store", "receipt", "line"]
[fields]
store = { from = "store_id", lookup = "stores", required = true }
receipt = { from = "receipt_no", required = true }
line = { from = "line_no", type = "integer" }
sold_at = { from = "sold_at", type = "datetime", format = "%Y-%m-%d %H:%M:%S", tz = "Asia/Shanghai" }
sku = { from = "sku", trim = true }
ean = { from = "barcode" }
name = { from = "item_name", trim = true }
quantity = { from = "qty", type = "decimal" }
unit_price = { from = "unit_price", type = "decimal" }
amount = { from = "amount", type = "decimal" }
currency = { value = "CNY" }
[lookups.stores]
"1001" = "SH-001"
"1002" = "SH-002"
"#;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let parts: Vec<&str> = if args.is_empty() {
        vec!["decode", "e2e"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mapping_path = dir.path().join("bench_sales.toml");
    std::fs::write(&mapping_path, MAPPING).expect("write mapping");
    let mapping = Mapping::load(&mapping_path).expect("bench mapping compiles");
    for part in parts {
        match part {
            "decode" => bench_decode(dir.path(), &mapping),
            "e2e" => bench_e2e(dir.path(), &mapping),
            "rss" => bench_rss(dir.path()),
            "outbox" => bench_outbox(dir.path(), &mapping),
            other => eprintln!("unknown part {other}; use decode, e2e, outbox or rss"),
        }
    }
}

/// Writes a sales CSV of `rows` rows (about 100 bytes each).
fn generate(path: &Path, rows: usize) -> u64 {
    let mut w =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    writeln!(w, "{HEADER}").expect("write");
    for i in 0..rows {
        let store = if i % 2 == 0 { "1001" } else { "1002" };
        writeln!(
            w,
            "{store},R{:09},{},2024-03-01 {:02}:{:02}:{:02},{:08},69012345{:05},Item {} 农夫山泉,{},{}.50,{}.00",
            i / 4,
            i % 4 + 1,
            i % 24,
            i % 60,
            (i / 60) % 60,
            i % 100_000,
            i % 100_000,
            i % 977,
            i % 7 + 1,
            i % 90 + 1,
            (i % 7 + 1) * (i % 90 + 1)
        )
        .expect("write");
    }
    w.flush().expect("flush");
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn csv_spec() -> CsvSpec {
    CsvSpec {
        encoding: encoding_rs::UTF_8,
        charset: omnibus::format::charset::Charset::default(),
        delimiter: b',',
        quote: b'"',
        columns: CsvColumns::Header,
        skip_lines: 0,
    }
}

fn connector(spool: &Path) -> ConnectorSpec {
    ConnectorSpec {
        id: "bench".into(),
        system: "bench".into(),
        mapping: "bench_sales".into(),
        routing_key: None,
        content_mode: ContentMode::Binary,
        expect: None,
        source: SourceSpec::File(FileSourceSpec {
            path: spool.to_path_buf(),
            glob: "*.csv".into(),
            settle: Duration::from_millis(100),
            rescan: Duration::from_millis(100),
            after: After::Move,
            marker: None,
            ignore: vec![],
            on_duplicate: OnDuplicate::Reprocess,
            max_inflated_bytes: omnibus::format::compressed::DEFAULT_MAX_INFLATED,
        }),
        format: Some(FormatSpec::Csv(csv_spec())),
        file: PathBuf::from("bench.toml"),
        instance: None,
    }
}

fn bench_decode(dir: &Path, mapping: &Mapping) {
    let rows = env_usize("BENCH_ROWS", 1_000_000);
    let path = dir.join("decode.csv");
    let bytes = generate(&path, rows);
    for wire in [false, true] {
        let (records, secs) = decode_pass(dir, mapping, &path, wire);
        let stage = if wire {
            "decode+map+AMQP wire encoding"
        } else {
            "decode+map (to CloudEvents)  "
        };
        println!(
            "{stage}: {records} records, {:.1} MB in {secs:.2} s = {:.0} records/s, {:.1} MB/s (one thread; target for decode+map >= 500000 records/s)",
            bytes as f64 / 1e6,
            records as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
    }
}

/// One single-threaded pass over `path`: decode, map, build each event (and encode it for AMQP
/// when `wire`); returns the records done and the seconds taken.
fn decode_pass(dir: &Path, mapping: &Mapping, path: &Path, wire: bool) -> (usize, f64) {
    let spec = connector(dir);
    let emitter = Emitter::new(&spec, mapping.event_type()).expect("emitter");
    let file = std::fs::File::open(path).expect("open");
    let start = Instant::now();
    let time = omnibus::canonical::event::EventTime::now();
    let mut binder = omnibus::mapping::Binder::new(mapping);
    let mut done = 0usize;
    let format = spec.format.as_ref().expect("a CSV connector");
    for item in omnibus::format::decode(format, file, "bench".into(), "decode.csv".into()) {
        let record = item.expect("every generated row decodes");
        let bound = binder.bind(&record).expect("bind");
        let mapped = bound.eval(&record).expect("maps").pop().expect("kept");
        let event = emitter.event(mapped, record.origin.clone(), &time);
        if wire {
            let encoded =
                omnibus::canonical::wire::encode(event, ContentMode::Binary).expect("wire");
            std::hint::black_box(encoded);
        } else {
            std::hint::black_box(event);
        }
        done += 1;
    }
    (done, start.elapsed().as_secs_f64())
}

fn bench_e2e(dir: &Path, mapping: &Mapping) {
    let rows = env_usize("BENCH_E2E_ROWS", 200_000);
    let rt = runtime();
    rt.block_on(async {
        let names = Names::new();
        let conn = Connection::connect(BROKER, ConnectionProperties::default()).await.expect("RabbitMQ (scripts/services)");
        let ch = conn.create_channel().await.expect("channel");
        let run = HubRun::start(dir, "e2e", &names, BROKER, Duration::from_secs(60)).await;
        bind_sink(&ch, &names.exchange, &names.queue).await;
        let (published, hub_secs) = run.file(mapping, rows).await;
        assert_eq!(published, rows as u64, "every generated row is published, none dead-lettered");
        let hub_rate = published as f64 / hub_secs;
        let sample = sample_message(mapping, &run.emitter(mapping), &run.spec);
        let raw_rate = raw_publish(&ch, &names.exchange, rows, &sample).await;
        println!(
            "e2e with confirms (window {WINDOW}): hub {:.0} events/s ({published} events in {hub_secs:.2} s), raw lapin {raw_rate:.0} msgs/s, ratio {:.2} (target >= 0.8)",
            hub_rate,
            hub_rate / raw_rate
        );
        run.stop().await;
        names.cleanup(&ch).await;
    });
}

/// The outbox: direct publishing, against the same file with the outbox engaged (the publisher
/// spills after 1 ms of a full confirm window, as when the broker is slower than the sources), and
/// the drain rate after an outage (the file is taken into the outbox while the broker is cut off,
/// then the broker comes back).
fn bench_outbox(dir: &Path, mapping: &Mapping) {
    let rows = env_usize("BENCH_OUTBOX_ROWS", 100_000);
    let rt = runtime();
    rt.block_on(async {
        let names = Names::new();
        let conn = Connection::connect(BROKER, ConnectionProperties::default()).await.expect("RabbitMQ (scripts/services)");
        let ch = conn.create_channel().await.expect("channel");
        let direct = HubRun::start(dir, "direct", &names, BROKER, Duration::from_secs(60)).await;
        bind_sink(&ch, &names.exchange, &names.queue).await;
        let (n, secs) = direct.file(mapping, rows).await;
        let direct_rate = n as f64 / secs;
        direct.stop().await;

        let engaged = HubRun::start(dir, "engaged", &names, BROKER, Duration::from_millis(1)).await;
        let (n, intake_secs) = engaged.file(mapping, rows).await;
        let settled = engaged.until_outbox_empty().await;
        engaged.stop().await;
        println!(
            "outbox engaged (broker slower than sources): file acknowledged at {:.0} events/s, all confirmed at {:.0} events/s; direct {direct_rate:.0} events/s; ratio engaged/direct {:.2}",
            n as f64 / intake_secs,
            n as f64 / (intake_secs + settled),
            n as f64 / (intake_secs + settled) / direct_rate
        );

        let port = free_port();
        let url = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
        let outage = HubRun::start(dir, "outage", &names, &url, Duration::from_secs(2)).await;
        let (n, intake_secs) = outage.file(mapping, rows).await;
        let proxy = proxy(port).await;
        let drain_secs = outage.until_outbox_empty().await;
        outage.stop().await;
        proxy.abort();
        println!(
            "outage: {n} events taken into the outbox at {:.0} events/s with the broker unreachable; drained at {:.0} events/s once it came back ({:.2} of direct)",
            n as f64 / intake_secs,
            n as f64 / drain_secs,
            n as f64 / drain_secs / direct_rate
        );
        names.cleanup(&ch).await;
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A publisher with its own state store, and one connector's file pipeline on it.
struct HubRun {
    dir: PathBuf,
    spec: ConnectorSpec,
    store: Store,
    publisher: Publisher,
    task: tokio::task::JoinHandle<()>,
    cancel: CancellationToken,
}

impl HubRun {
    async fn start(
        root: &Path,
        name: &str,
        names: &Names,
        url: &str,
        spill_after: Duration,
    ) -> Self {
        let dir = root.join(name);
        let spool = dir.join("spool");
        std::fs::create_dir_all(&spool).expect("mkdir");
        let store = Store::open(&dir.join("state")).expect("state store");
        let cancel = CancellationToken::new();
        let settings = PublisherSettings {
            url: url.into(),
            topology: Topology {
                exchange: names.exchange.clone(),
                dead_letter_exchange: names.dead_exchange.clone(),
                dead_letter_queue: names.dead_queue.clone(),
                receipts: None,
            },
            confirm_window: WINDOW,
            max_backoff: Duration::from_millis(200),
            shutdown_grace: Duration::from_secs(5),
            store: Some(store.clone()),
            outbox_max_bytes: 4 << 30,
            spill_after,
        };
        let (publisher, task) = Publisher::spawn(settings, cancel.clone());
        if url == BROKER {
            while publisher.state() != omnibus::route::publisher::BrokerState::Connected {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Self {
            spec: connector(&spool),
            dir,
            store,
            publisher,
            task,
            cancel,
        }
    }

    fn emitter(&self, mapping: &Mapping) -> Emitter {
        Emitter::new(&self.spec, mapping.event_type()).expect("emitter")
    }

    /// Runs a generated file of `rows` rows until it is acknowledged; events and seconds.
    async fn file(&self, mapping: &Mapping, rows: usize) -> (u64, f64) {
        let path = self.dir.join("spool/input.csv");
        generate(&path, rows);
        let emitter = self.emitter(mapping);
        let schemas = omnibus::canonical::schema::Schemas::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas"),
        )
        .expect("the repository's schemas load");
        let schema = mapping.schema_in(&schemas).expect("the mapping's schema");
        let status = StatusHandle::detached("bench");
        let job = Ingest {
            format: self.spec.format.as_ref(),
            mapping,
            schema: Some(&schema),
            emitter: &emitter,
            publisher: &self.publisher,
            store: &self.store,
            dedupe: true,
            failures: Failures::DeadLetter,
            status: &status,
            tap: None,
            cancel: &self.cancel,
        };
        let start = Instant::now();
        let key = FileKey::of_file("bench", &path).expect("hash");
        let tally = job
            .run(
                &path,
                &key,
                0,
                omnibus::format::compressed::DEFAULT_MAX_INFLATED,
            )
            .await
            .expect("file settles");
        (tally.published, start.elapsed().as_secs_f64())
    }

    /// Seconds until the outbox is empty.
    async fn until_outbox_empty(&self) -> f64 {
        let start = Instant::now();
        loop {
            let depth = self
                .store
                .read(omnibus::state::outbox::depth)
                .await
                .expect("outbox depth");
            if depth.messages == 0 {
                return start.elapsed().as_secs_f64();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        drop(self.publisher);
        let _ = self.task.await;
    }
}

/// A loopback port nothing listens on yet.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Forwards `port` to the broker until aborted.
async fn proxy(port: u16) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("proxy bind");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5672").await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

/// A queue that keeps the broker's memory flat: bounded length, oldest dropped.
async fn bind_sink(ch: &lapin::Channel, exchange: &str, queue: &str) {
    let mut args = FieldTable::default();
    args.insert("x-max-length".into(), AMQPValue::LongLongInt(10_000));
    ch.queue_declare(queue.into(), QueueDeclareOptions::default(), args)
        .await
        .expect("queue");
    ch.queue_bind(
        queue.into(),
        exchange.into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind");
}

/// The wire form of one typical event, to give the raw publisher the same body and properties.
fn sample_message(
    mapping: &Mapping,
    emitter: &Emitter,
    spec: &ConnectorSpec,
) -> omnibus::canonical::wire::Wire {
    let line = format!(
        "{HEADER}\n1001,R000000001,1,2024-03-01 10:15:00,00001234,6901234500001,Item 5 农夫山泉,3,12.50,37.00\n"
    );
    let mut records = omnibus::format::decode(
        spec.format.as_ref().expect("a CSV connector"),
        line.as_bytes(),
        "bench".into(),
        "sample".into(),
    );
    let record = records.next().expect("one record").expect("decodes");
    let mapped = mapping
        .bind(record.columns().expect("a row"))
        .expect("bind")
        .eval(&record)
        .expect("maps")
        .pop()
        .expect("kept");
    let event = emitter.event(
        mapped,
        record.origin.clone(),
        &omnibus::canonical::event::EventTime::now(),
    );
    omnibus::canonical::wire::encode(event, ContentMode::Binary).expect("wire")
}

/// Publishes `n` copies of `sample` with confirms, `WINDOW` outstanding at most; returns msgs/s.
async fn raw_publish(
    ch: &lapin::Channel,
    exchange: &str,
    n: usize,
    sample: &omnibus::canonical::wire::Wire,
) -> f64 {
    let conn = Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("connect");
    let pub_ch = conn.create_channel().await.expect("channel");
    pub_ch
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let _ = ch;
    let mut inflight = FuturesUnordered::new();
    let opts = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    let start = Instant::now();
    for _ in 0..n {
        while inflight.len() >= WINDOW {
            let _ = inflight.next().await;
        }
        let props: BasicProperties = sample.properties.clone();
        let confirm = pub_ch
            .basic_publish(
                exchange.into(),
                "retail.sale.recorded.v1".into(),
                opts,
                &sample.body,
                props,
            )
            .await
            .expect("publish");
        inflight.push(confirm);
    }
    while inflight.next().await.is_some() {}
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let _ = conn.close(200, "bench done".into()).await;
    rate
}

struct Names {
    exchange: String,
    dead_exchange: String,
    dead_queue: String,
    queue: String,
}

impl Names {
    fn new() -> Self {
        let tag = format!(
            "bench.{}.{}",
            std::process::id(),
            Instant::now().elapsed().subsec_nanos()
        );
        Self {
            exchange: format!("{tag}.events"),
            dead_exchange: format!("{tag}.dead"),
            dead_queue: format!("{tag}.deadq"),
            queue: format!("{tag}.sink"),
        }
    }

    async fn cleanup(&self, ch: &lapin::Channel) {
        for q in [&self.queue, &self.dead_queue] {
            let _ = ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        for e in [&self.exchange, &self.dead_exchange] {
            let _ = ch
                .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
}

/// Peak RSS of the real binary taking a ~1 GB file into RabbitMQ.
fn bench_rss(dir: &Path) {
    let mb = env_usize("BENCH_RSS_MB", 1024);
    let rows = mb * 1_000_000 / 100;
    let root = dir.join("rss");
    let spool = root.join("spool");
    std::fs::create_dir_all(root.join("config")).expect("mkdir");
    std::fs::create_dir_all(root.join("connectors")).expect("mkdir");
    std::fs::create_dir_all(root.join("mappings")).expect("mkdir");
    std::fs::create_dir_all(&spool).expect("mkdir");
    std::fs::write(root.join("mappings/bench_sales.toml"), MAPPING).expect("mapping");
    let names = Names::new();
    std::fs::write(
        root.join("config/omnibus.toml"),
        format!(
            "[broker]\nurl = \"{BROKER}\"\nexchange = \"{}\"\ndead_letter_exchange = \"{}\"\ndead_letter_queue = \"{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            names.exchange, names.dead_exchange, names.dead_queue
        ),
    )
    .expect("hub file");
    std::fs::write(
        root.join("connectors/bench.toml"),
        format!(
            "system = \"bench\"\nmapping = \"bench_sales\"\n[source]\ntype = \"file\"\npath = \"{}\"\nglob = \"*.csv\"\nsettle = \"100ms\"\nrescan = \"200ms\"\n[format]\ntype = \"csv\"\n",
            spool.display()
        ),
    )
    .expect("connector");
    let big = root.join("big.csv.partial");
    let bytes = generate(&big, rows);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let conn = rt
        .block_on(Connection::connect(BROKER, ConnectionProperties::default()))
        .expect("RabbitMQ");
    let ch = rt.block_on(conn.create_channel()).expect("channel");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .args(["run", "--config"])
        .arg(root.join("config/omnibus.toml"))
        .env("OMNIBUS_LOG", "warn")
        .spawn()
        .expect("spawn omnibus");
    std::thread::sleep(Duration::from_secs(2));
    rt.block_on(bind_sink(&ch, &names.exchange, &names.queue));
    std::fs::rename(&big, spool.join("big.csv")).expect("drop");
    let start = Instant::now();
    let done = spool.join("done/big.csv");
    let status = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak_kb = 0u64;
    while !done.exists() {
        std::thread::sleep(Duration::from_millis(200));
        peak_kb = peak_kb.max(vm_hwm_kb(&status));
        if start.elapsed() > Duration::from_secs(3600) {
            break;
        }
    }
    peak_kb = peak_kb.max(vm_hwm_kb(&status));
    let secs = start.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "rss: {:.0} MB file ({rows} rows) taken in {secs:.1} s ({:.0} events/s); peak RSS of omnibus run {:.1} MB (target < 100 MB)",
        bytes as f64 / 1e6,
        rows as f64 / secs,
        peak_kb as f64 / 1024.0
    );
    rt.block_on(names.cleanup(&ch));
}
