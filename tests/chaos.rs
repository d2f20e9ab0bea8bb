//! Chaos tests: the real hub binary against the real RabbitMQ, hurt the way production hurts it —
//! SIGKILL in the middle of a big file, the broker out of reach for half a minute while files keep
//! arriving, a broker memory alarm, a state store on a full disk — and held to its promise: every
//! record arrives exactly once, and a source is acknowledged only once its events are safe.
//!
//! The tests run one at a time (`LOCK`): the memory alarm blocks every publisher on the broker.

mod common;

use common::POS_FORMAT;

use common::{Broker, Deployment, eventually, with_broker};
use futures_util::StreamExt;
use lapin::BasicProperties;
use lapin::options::BasicConsumeOptions;
use lapin::types::{AMQPValue, FieldTable};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Held by each test for its whole run.
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const POS_HEADER: &str = "store_id,receipt_no,line_no,sold_at,sku,barcode,item_name,qty,unit_price,amount,payment,member_card\n";
/// A generous deadline for anything the hub does.
const WAIT: Duration = Duration::from_secs(120);
/// How long no new message must arrive before a queue counts as drained.
const QUIET: Duration = Duration::from_secs(3);

/// A POS sales file of `rows` rows, each a receipt of its own (`<prefix><n>`), so each row's event
/// has an id of its own.
fn pos_csv(prefix: &str, rows: usize) -> Vec<u8> {
    let mut csv = String::with_capacity(64 * rows + POS_HEADER.len());
    csv.push_str(POS_HEADER);
    for i in 0..rows {
        csv.push_str(&format!(
            "SH-001,{prefix}{i},1,2024-03-01 10:15:00,{i},,x,1,1.00,1.00,cash,\n"
        ));
    }
    csv.into_bytes()
}

/// The subjects (`store/receipt`) of the events a [`pos_csv`] file makes.
fn subjects(prefix: &str, rows: usize) -> HashSet<String> {
    (0..rows).map(|i| format!("SH-001/{prefix}{i}")).collect()
}

/// A deployment with one POS connector `pos`; the broker cleans up its exchanges, queues and the
/// receipts stream.
fn pos_deployment(broker: &mut Broker, name: &str, delivery: &str) -> Deployment {
    let d = Deployment::new(name);
    broker.owns(&d);
    broker.forget_later(&format!("{}.receipts", d.exchange));
    d.hub_section(delivery);
    d.file_connector("pos", "pos_sales", POS_FORMAT);
    d
}

/// Sets the hub's confirm window (the test harness uses 64).
fn confirm_window(d: &Deployment, window: usize) {
    let config = std::fs::read_to_string(d.config()).expect("hub file");
    let config = config.replace("confirm_window = 64", &format!("confirm_window = {window}"));
    std::fs::write(d.config(), config).expect("hub file");
}

fn done(d: &Deployment, name: &str) -> PathBuf {
    done_in(d, "pos", name)
}

fn done_in(d: &Deployment, connector: &str, name: &str) -> PathBuf {
    d.spool(connector).join("done").join(name)
}

/// What arrived on a queue, consumed in the background as fast as the broker delivers.
#[derive(Clone, Default)]
struct Arrivals {
    inner: Arc<Mutex<Seen>>,
}

#[derive(Default)]
struct Seen {
    /// How many times each `cloudEvents_id` arrived.
    ids: HashMap<String, u32>,
    subjects: HashSet<String>,
    messages: usize,
    last: Option<Instant>,
}

impl Arrivals {
    /// Starts consuming `queue` on the test's channel, with automatic acks (the broker pushes
    /// without waiting for the test).
    async fn consume(broker: &Broker, queue: &str) -> Self {
        let mut consumer = broker
            .channel
            .basic_consume(
                queue.into(),
                "chaos".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("basic_consume");
        let arrivals = Self::default();
        let inner = Arc::clone(&arrivals.inner);
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let id = header(&delivery.properties, "cloudEvents_id").unwrap_or_default();
                let subject = header(&delivery.properties, "cloudEvents_subject");
                let mut seen = inner.lock().expect("arrivals");
                *seen.ids.entry(id).or_default() += 1;
                seen.subjects.extend(subject);
                seen.messages += 1;
                seen.last = Some(Instant::now());
            }
        });
        arrivals
    }

    fn distinct(&self) -> usize {
        self.inner.lock().expect("arrivals").ids.len()
    }

    fn messages(&self) -> usize {
        self.inner.lock().expect("arrivals").messages
    }

    /// Ids that arrived more than once (a few, for the failure message) and how many there are.
    fn duplicates(&self) -> (usize, Vec<(String, u32)>) {
        let seen = self.inner.lock().expect("arrivals");
        let twice: Vec<(String, u32)> = seen
            .ids
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, n)| (id.clone(), *n))
            .collect();
        (twice.len(), twice.into_iter().take(5).collect())
    }

    /// The expected subjects that never arrived (a few) and how many there are.
    fn missing(&self, expected: &HashSet<String>) -> (usize, Vec<String>) {
        let seen = self.inner.lock().expect("arrivals");
        let missing: Vec<&String> = expected.difference(&seen.subjects).collect();
        let few = missing.iter().take(5).map(|s| s.to_string()).collect();
        (missing.len(), few)
    }

    /// Waits until `n` distinct ids arrived and then nothing more for [`QUIET`] (so late
    /// duplicates are counted too); false when `n` did not arrive in time.
    async fn settle(&self, n: usize, timeout: Duration) -> bool {
        if !eventually(timeout, || self.distinct() >= n).await {
            return false;
        }
        loop {
            let last = self.inner.lock().expect("arrivals").last;
            match last {
                Some(at) if at.elapsed() < QUIET => tokio::time::sleep(QUIET - at.elapsed()).await,
                _ => return true,
            }
        }
    }
}

fn header(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(s.to_string()),
        _ => None,
    }
}

/// Asserts that exactly the events of `expected` arrived, each once.
fn assert_exactly_once(arrivals: &Arrivals, expected: &HashSet<String>, log: &str) {
    let (missing, some_missing) = arrivals.missing(expected);
    let (twice, some_twice) = arrivals.duplicates();
    assert_eq!(
        (missing, twice),
        (0, 0),
        "missing {some_missing:?}, duplicated {some_twice:?}; log:\n{}",
        tail(log)
    );
    assert_eq!(
        arrivals.distinct(),
        expected.len(),
        "no event beyond the rows"
    );
    assert_eq!(arrivals.messages(), expected.len(), "one message per row");
}

/// The end of a long log, for failure messages.
fn tail(log: &str) -> &str {
    let start = log.len().saturating_sub(20_000);
    let start = (start..log.len())
        .find(|i| log.is_char_boundary(*i))
        .unwrap_or(0);
    &log[start..]
}

/// A small deterministic pseudo-random generator (SplitMix64), so a failure can be replayed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// The `pos` connector's ledger row (`rows_done`, `state`), read from the hub's state store
/// read-only; `None` before the hub has taken the file.
fn ledger(d: &Deployment) -> Option<(u64, String)> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn =
        rusqlite::Connection::open_with_flags(d.state_dir().join("omnibus.db"), flags).ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    conn.query_row(
        "SELECT rows_done, state FROM files WHERE connector = 'pos'",
        [],
        |r| Ok((u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0), r.get(1)?)),
    )
    .ok()
}

/// A hub's log, also after it was killed mid-line.
fn log_of(path: &std::path::Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// A run after a SIGKILL reads the receipts of the messages in doubt before it publishes. A run
/// killed before its publisher connected (rows it skipped through the dedupe window need no
/// broker) never gets that far, and says neither.
fn assert_receipts_before_publishing(run: &str) {
    let connected = run.find("broker connected");
    let receipts = run.find("read the receipts of messages in doubt");
    if let Some(connected) = connected {
        assert!(
            receipts.is_some_and(|r| r < connected),
            "a restart published before reading the receipts; log:\n{}",
            tail(run)
        );
    }
}

/// The `resume=` values of the hub's "taking file" log lines.
fn resumes(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("taking file"))
        .filter_map(|l| l.split("resume=").nth(1))
        .filter_map(|s| s.split_whitespace().next()?.parse().ok())
        .collect()
}

const KILL_ROWS: usize = 200_000;
const KILLS: usize = 6;
const SEED: u64 = 0x0B5E_55ED;

/// (a) SIGKILL at pseudo-random points while the hub takes a 200,000-row file, restarting it each
/// time: every row's event arrives exactly once (receipts on), and the file ends in `done/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_file_loses_and_duplicates_nothing() {
    let _serial = LOCK.lock().await;
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment(&mut broker, "kill", "[delivery]\nreceipts = true");
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let arrivals = Arrivals::consume(&broker, &queue).await;
        let mut rng = SplitMix(SEED);
        let mut targets: Vec<u64> = (0..KILLS)
            .map(|_| rng.between(KILL_ROWS as u64 / 20, KILL_ROWS as u64 * 17 / 20))
            .collect();
        targets.sort_unstable();
        confirm_window(&d, 512);
        let mut hub = d.start(None);
        d.drop_file("pos", "big.csv", &pos_csv("R", KILL_ROWS));
        let mut log = String::new();
        let mut killed_at = Vec::new();
        let mut runs = Vec::new();
        for target in targets {
            let after = killed_at.last().map_or(0, |(rows, _)| rows + 1);
            let target = target.max(after);
            let reached =
                eventually(WAIT, || ledger(&d).is_some_and(|(rows, _)| rows >= target)).await;
            assert!(
                reached,
                "rows_done never reached {target}; log:\n{}",
                tail(&(log.clone() + &hub.log_text()))
            );
            tokio::time::sleep(Duration::from_millis(rng.between(0, 400))).await;
            let (rows, state) = ledger(&d).expect("ledger row");
            let run_log = hub.log.clone();
            hub.kill9();
            assert_eq!(state, "active", "killed mid-file");
            assert!(
                !done(&d, "big.csv").exists(),
                "killed before the file was finished"
            );
            let run_text = log_of(&run_log);
            log.push_str(&run_text);
            runs.push(run_text);
            tokio::time::sleep(Duration::from_millis(500)).await;
            killed_at.push((rows, arrivals.messages()));
            hub = d.start(None);
        }
        let finished = eventually(Duration::from_secs(300), || done(&d, "big.csv").exists()).await;
        assert!(finished, "log:\n{}", tail(&(log.clone() + &hub.log_text())));
        assert!(
            arrivals.settle(KILL_ROWS, WAIT).await,
            "log:\n{}",
            tail(&(log.clone() + &hub.log_text()))
        );
        assert!(hub.is_running(), "the hub runs on after the file");
        log.push_str(&hub.log_text());
        runs.push(hub.log_text());
        eprintln!(
            "killed at (rows_done, messages so far): {killed_at:?}; resumed at {:?}",
            resumes(&log)
        );
        assert_exactly_once(&arrivals, &subjects("R", KILL_ROWS), &log);
        assert!(
            killed_at
                .iter()
                .any(|(rows, messages)| *messages as u64 > *rows),
            "some kill left events on the broker past the saved checkpoint: {killed_at:?}"
        );
        let resumed = resumes(&log);
        assert_eq!(resumed.len(), KILLS + 1, "the file was taken once per run");
        let restarts: Vec<&str> = runs.iter().skip(1).map(String::as_str).collect();
        for run in &restarts {
            assert_receipts_before_publishing(run);
        }
        assert!(
            restarts
                .iter()
                .any(|run| run.contains("read the receipts of messages in doubt")),
            "no restart read the receipts"
        );
        for ((rows, _), resume) in killed_at.iter().zip(&resumed[1..]) {
            assert!(
                resume >= rows,
                "each run resumed at the last checkpoint ({resume} < {rows})"
            );
        }
        assert_eq!(ledger(&d), Some((KILL_ROWS as u64, "done".to_string())));
        assert!(hub.stop().success(), "clean stop");
    })
    .await;
}

/// How long the broker stays out of reach in (b).
const OUTAGE: Duration = Duration::from_secs(32);

/// (b) The broker out of reach for over 30 s in the middle of a file while more files arrive: the
/// outbox takes them (each file is acknowledged during the outage), and once the broker is back
/// every row of every file arrives exactly once and the hub publishes directly again by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_goes_through_the_outbox_and_loses_nothing() {
    let _serial = LOCK.lock().await;
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment(&mut broker, "outage", "[delivery]\nreceipts = true");
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let arrivals = Arrivals::consume(&broker, &queue).await;
        let port = common::proxy::free_port();
        let proxy = common::proxy::start(port, 5672).await;
        let mut hub = d.start(Some(&format!("amqp://guest:guest@127.0.0.1:{port}/%2f")));
        let files = [("A", 30_000), ("B", 2_000), ("C", 2_000), ("D", 2_000)];
        let mut expected = HashSet::new();
        for (prefix, rows) in files {
            expected.extend(subjects(prefix, rows));
        }
        d.drop_file("pos", "A.csv", &pos_csv("A", files[0].1));
        let started = eventually(WAIT, || arrivals.distinct() >= 1_000).await;
        assert!(started, "log:\n{}", hub.log_text());
        proxy.abort();
        let cut = Instant::now();
        assert!(
            !done(&d, "A.csv").exists(),
            "the broker was cut off mid-file"
        );
        for (i, (prefix, rows)) in files.iter().enumerate().skip(1) {
            let name = format!("{prefix}.csv");
            tokio::time::sleep(Duration::from_secs(5)).await;
            d.drop_file("pos", &name, &pos_csv(prefix, *rows));
            let acknowledged = eventually(WAIT, || done(&d, &name).exists()).await;
            assert!(
                acknowledged,
                "file {i} acknowledged during the outage; log:\n{}",
                hub.log_text()
            );
        }
        let acknowledged = eventually(WAIT, || done(&d, "A.csv").exists()).await;
        assert!(
            acknowledged,
            "the cut file acknowledged; log:\n{}",
            hub.log_text()
        );
        let during = arrivals.messages();
        assert!(
            hub.log_text()
                .contains("messages now go through the outbox"),
            "log:\n{}",
            hub.log_text()
        );
        tokio::time::sleep(OUTAGE.saturating_sub(cut.elapsed())).await;
        assert!(hub.is_running(), "the hub survives the outage");
        assert_eq!(
            arrivals.messages(),
            during,
            "nothing was published while the broker was away"
        );
        let proxy = common::proxy::start(port, 5672).await;
        assert!(
            arrivals.settle(expected.len(), WAIT).await,
            "log:\n{}",
            hub.log_text()
        );
        assert_exactly_once(&arrivals, &expected, &hub.log_text());
        let drained = eventually(WAIT, || {
            hub.log_text()
                .contains("outbox drained; publishing directly again")
        })
        .await;
        assert!(drained, "log:\n{}", hub.log_text());
        d.drop_file("pos", "E.csv", &pos_csv("E", 100));
        expected.extend(subjects("E", 100));
        assert!(
            arrivals.settle(expected.len(), WAIT).await,
            "log:\n{}",
            hub.log_text()
        );
        assert!(eventually(WAIT, || done(&d, "E.csv").exists()).await);
        assert_exactly_once(&arrivals, &expected, &hub.log_text());
        assert!(hub.is_running());
        assert!(hub.stop().success(), "clean stop");
        proxy.abort();
    })
    .await;
}

/// The broker's memory alarm, raised by setting a tiny memory watermark; dropping it restores the
/// default watermark, also when the test panics.
struct MemoryAlarm;

impl MemoryAlarm {
    async fn raise() -> Self {
        let alarm = Self;
        assert!(rabbitmqctl(&["set_vm_memory_high_watermark", "0.0000001"]));
        let on = eventually(WAIT, || {
            let out = std::process::Command::new("rabbitmq-diagnostics")
                .args(["-q", "alarms"])
                .output();
            out.is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .to_lowercase()
                    .contains("memory")
            })
        })
        .await;
        assert!(on, "the broker raised its memory alarm");
        alarm
    }
}

impl Drop for MemoryAlarm {
    fn drop(&mut self) {
        rabbitmqctl(&["set_vm_memory_high_watermark", "0.4"]);
    }
}

fn rabbitmqctl(args: &[&str]) -> bool {
    std::process::Command::new("rabbitmqctl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `episodes` memory alarms on one hub (confirm window 64). In each, connector `pos` gets a
/// file as the alarm goes up (its first publishes make the broker block the hub's connection), and
/// 3 s later connector `pos2` gets another. With `outbox_required`, the `pos2` file must be
/// acknowledged through the outbox while the alarm lasts (the `pos` file may wait: docs/delivery.md
/// lets messages already sent wait for their confirms); without, a file may only leave its spool
/// through the outbox. After each alarm, every event arrives exactly once and both files are done.
async fn memory_alarm_case(mut broker: Broker, episodes: usize, outbox_required: bool) {
    let d = pos_deployment(&mut broker, "alarm", "[delivery]\nspill_after = \"1s\"");
    d.file_connector("pos2", "pos_sales", POS_FORMAT);
    let queue = broker.bound_queue(&d.exchange, "#").await;
    let arrivals = Arrivals::consume(&broker, &queue).await;
    let mut hub = d.start(None);
    let mut expected = subjects("W", 10);
    d.drop_file("pos", "warm.csv", &pos_csv("W", 10));
    assert!(arrivals.settle(10, WAIT).await, "log:\n{}", hub.log_text());
    for episode in 0..episodes {
        let (first, second) = (
            format!("first{episode}.csv"),
            format!("second{episode}.csv"),
        );
        let (x, y) = (format!("X{episode}-"), format!("Y{episode}-"));
        let before = arrivals.messages();
        let alarm = MemoryAlarm::raise().await;
        d.drop_file("pos", &first, &pos_csv(&x, 2_000));
        let taken = eventually(WAIT, || {
            hub.log_text().contains(&format!("{first} resume=0"))
        })
        .await;
        assert!(taken, "log:\n{}", hub.log_text());
        tokio::time::sleep(Duration::from_secs(3)).await;
        d.drop_file("pos2", &second, &pos_csv(&y, 2_000));
        expected.extend(subjects(&x, 2_000));
        expected.extend(subjects(&y, 2_000));
        let acknowledged = || {
            [
                done_in(&d, "pos", &first).exists(),
                done_in(&d, "pos2", &second).exists(),
            ]
        };
        if outbox_required {
            let stored = eventually(Duration::from_secs(30), || acknowledged()[1]).await;
            let log = hub.log_text();
            assert!(
                stored,
                "alarm {episode}: {second} acknowledged through the outbox during the alarm; log:\n{log}"
            );
            assert!(
                log.matches("the broker blocked publishing").count() > episode,
                "log:\n{log}"
            );
        } else {
            let watch_until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < watch_until {
                let early = acknowledged().contains(&true);
                let spilled = hub
                    .log_text()
                    .matches("messages now go through the outbox")
                    .count()
                    > episode;
                assert!(
                    !early || spilled,
                    "a file was acknowledged while the broker was blocked, not through the outbox; log:\n{}",
                    hub.log_text()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        assert_eq!(
            arrivals.messages(),
            before,
            "the alarm held every publish back"
        );
        assert!(hub.is_running(), "the hub survives the alarm");
        eprintln!(
            "alarm {episode}: [{first}, {second}] acknowledged during the alarm: {:?}",
            acknowledged()
        );
        drop(alarm);
        assert!(
            arrivals.settle(expected.len(), WAIT).await,
            "log:\n{}",
            hub.log_text()
        );
        assert_exactly_once(&arrivals, &expected, &hub.log_text());
        let finished = eventually(WAIT, || acknowledged() == [true, true]).await;
        assert!(finished, "log:\n{}", hub.log_text());
    }
    assert!(hub.log_text().contains("the broker blocked publishing"));
    assert!(hub.is_running());
    assert!(hub.stop().success(), "clean stop");
}

/// (c) A memory alarm blocks publishing: no file is acknowledged unless the outbox holds its
/// events, the hub survives, and once the alarm clears every event arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_alarm_loses_nothing_and_acknowledges_only_what_is_stored() {
    let _serial = LOCK.lock().await;
    with_broker(|broker: Broker| memory_alarm_case(broker, 1, false)).await;
}

/// (c) As documented (docs/delivery.md, `src/route/publisher.rs`): while the broker is blocked by
/// an alarm, new messages go to the outbox and their files are acknowledged from there — in each of
/// five alarms, since whether the hub notices the block is a race today.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_alarm_acknowledges_files_through_the_outbox() {
    let _serial = LOCK.lock().await;
    with_broker(|broker: Broker| memory_alarm_case(broker, 5, true)).await;
}

/// A tmpfs mounted on a folder for the length of a test; unmounted when dropped (lazily when
/// something still holds it).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        match out.status.success() {
            true => Ok(Self(dir.to_path_buf())),
            false => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        }
    }

    /// Fills the file system with `filler` until it is full (ENOSPC); returns the filler's path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        for chunk in [64 * 1024, 1] {
            let bytes = vec![0xA5u8; chunk];
            loop {
                match file.write(&bytes) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(28) => break,
                    Err(e) => panic!("filling {}: {e}", path.display()),
                }
            }
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let umount = |lazy: bool| {
            let mut cmd = std::process::Command::new("umount");
            if lazy {
                cmd.arg("-l");
            }
            cmd.arg(&self.0).status().is_ok_and(|s| s.success())
        };
        if !umount(false) {
            umount(true);
        }
    }
}

/// Runs the full-disk case: the state dir is a small tmpfs; after a first file went through, the
/// tmpfs is filled to ENOSPC and a file is dropped. It must stay in the spool, not acknowledged,
/// while the log says loudly why (with `paced`, at most about once per rescan, not in a busy loop);
/// once the space is freed it completes and every event arrives exactly once. Skipped (with a
/// note) where a tmpfs cannot be mounted.
async fn full_state_disk_case(mut broker: Broker, paced: bool) {
    let d = pos_deployment(&mut broker, "store", "");
    let queue = broker.bound_queue(&d.exchange, "#").await;
    let arrivals = Arrivals::consume(&broker, &queue).await;
    let tmpfs = match Tmpfs::mount(&d.state_dir(), "4m") {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            eprintln!("skipped: cannot mount a tmpfs on the state dir (needs root): {why}");
            return;
        }
    };
    let mut hub = d.start(None);
    let mut expected = subjects("W", 10);
    d.drop_file("pos", "warm.csv", &pos_csv("W", 10));
    assert!(arrivals.settle(10, WAIT).await, "log:\n{}", hub.log_text());
    assert!(eventually(WAIT, || done(&d, "warm.csv").exists()).await);
    let filler = tmpfs.fill();
    let stuck = d.drop_file("pos", "stuck.csv", &pos_csv("S", 500));
    expected.extend(subjects("S", 500));
    let loud = eventually(WAIT, || hub.log_text().contains("STATE STORE")).await;
    assert!(
        loud,
        "the log says the state store fails; log:\n{}",
        hub.log_text()
    );
    let failures = |hub: &common::Hub| hub.log_text().matches("STATE STORE FAILING").count();
    let before = failures(&hub);
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        let held = stuck.exists() && !done(&d, "stuck.csv").exists();
        assert!(
            held,
            "the file is not acknowledged while the store cannot commit; log:\n{}",
            hub.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let retries = failures(&hub) - before;
    eprintln!("{retries} failure lines in 3 s of a full state disk (rescan every 200 ms)");
    if paced {
        assert!(
            retries <= 50,
            "{retries} retries in 3 s: the file is retried in a busy loop, not once per rescan"
        );
    }
    assert!(hub.is_running(), "the hub survives a full disk");
    std::fs::remove_file(filler).expect("free the space");
    let finished = eventually(WAIT, || done(&d, "stuck.csv").exists()).await;
    assert!(finished, "log:\n{}", tail(&hub.log_text()));
    assert!(
        arrivals.settle(expected.len(), WAIT).await,
        "log:\n{}",
        tail(&hub.log_text())
    );
    assert_exactly_once(&arrivals, &expected, &hub.log_text());
    assert!(hub.log_text().contains("state store commits again"));
    assert!(hub.is_running());
    assert!(hub.stop().success(), "clean stop");
    drop(tmpfs);
}

/// (d) The state store's disk is full: a dropped file is not acknowledged (it stays in the spool)
/// and the log says so loudly; once there is space again the file completes and its events arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_state_disk_holds_files_until_it_has_space() {
    let _serial = LOCK.lock().await;
    with_broker(|broker: Broker| full_state_disk_case(broker, false)).await;
}

/// (d) A file the state store cannot take is retried on the next scan, as the log line says, not in
/// a busy loop that re-reads the file and logs thousands of lines a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_store_failure_is_retried_at_the_rescan_pace() {
    let _serial = LOCK.lock().await;
    with_broker(|broker: Broker| full_state_disk_case(broker, true)).await;
}
