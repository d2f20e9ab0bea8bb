//! `[source] type = "sql"` end to end: the real hub polls a real MariaDB table and a real
//! PostgreSQL query, publishes each new row's event to the real RabbitMQ, follows the
//! (timestamp, id) watermark through ties and batches, finds a row committed late within
//! `commit_lag` exactly once, resumes from its saved watermark after a restart, never logs the
//! database password, and hands a `[group]` mapping whole groups even when a batch ends inside
//! one. Deduplication is off in the hub, so a row read twice would show up twice. Every test works in its own database (MariaDB) or table (PostgreSQL) and drops it.

mod common;

use common::{BROKER, Broker, Deployment, eventually, with_broker};
use futures_util::FutureExt;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, raw_sql};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// How long a test waits to see that nothing more arrives (many polls at 200 ms).
const QUIET: Duration = Duration::from_secs(2);
const MARIADB: &str = "mysql://root@127.0.0.1:3306";
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

const MEMBER: &str = "type = \"test.sql.member.v1\"\nkey = [\"id\"]\n[fields]\n\
                      id = { from = \"id\", required = true }\nname = { from = \"name\" }\n\
                      points = { from = \"points\" }\nupdated_at = { from = \"updated_at\" }\n";

/// An identifier no other test (or run) uses.
fn unique_ident(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("omnibus_{prefix}_{}_{nanos}_{n}", std::process::id())
}

/// Runs `body` on a MariaDB database of its own (its name and a pool on it), dropped afterwards
/// even when the body panics.
async fn with_mariadb<F, Fut>(body: F)
where
    F: FnOnce(String, MySqlPool) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = unique_ident("crm");
    let admin = MySqlPoolOptions::new()
        .max_connections(1)
        .connect(MARIADB)
        .await
        .expect("MariaDB on 127.0.0.1:3306");
    run(&admin, &format!("CREATE DATABASE `{name}`")).await;
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .connect(&format!("{MARIADB}/{name}"))
        .await
        .expect("the test database");
    let result = AssertUnwindSafe(body(name.clone(), pool.clone()))
        .catch_unwind()
        .await;
    pool.close().await;
    run(&admin, &format!("DROP DATABASE `{name}`")).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `body` with a PostgreSQL table name of its own and a pool, dropping the table afterwards.
async fn with_postgres<F, Fut>(body: F)
where
    F: FnOnce(String, PgPool) -> Fut,
    Fut: Future<Output = ()>,
{
    let table = unique_ident("stock");
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(POSTGRES)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432");
    let result = AssertUnwindSafe(body(table.clone(), pool.clone()))
        .catch_unwind()
        .await;
    run(&pool, &format!("DROP TABLE IF EXISTS \"{table}\"")).await;
    pool.close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

async fn run<'c, E>(db: E, sql: &str)
where
    E: sqlx::Executor<'c>,
{
    raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A deployment with deduplication off (a row read twice is published twice) and the member
/// mapping; `connector` is the `[source]` body after `type = "sql"`.
fn deployment(name: &str, id: &str, mapping: (&str, &str), source: &str) -> Deployment {
    let d = Deployment::new(name);
    d.hub_section("[delivery]\ndedupe_window = \"0s\"\n");
    d.mapping(mapping.0, mapping.1);
    write_connector(&d, id, mapping.0, source);
    d
}

fn write_connector(d: &Deployment, id: &str, mapping: &str, source: &str) {
    let text = format!(
        "system = \"crm\"\nmapping = \"{mapping}\"\n[source]\ntype = \"sql\"\ninterval = \"200ms\"\n{source}\n"
    );
    std::fs::write(d.dir.path().join(format!("connectors/{id}.toml")), text).expect("connector");
}

async fn members_table(pool: &MySqlPool) {
    run(
        pool,
        "CREATE TABLE members (id BIGINT PRIMARY KEY, name VARCHAR(50), points DECIMAL(10,2), \
         updated_at DATETIME(6) NOT NULL)",
    )
    .await;
}

/// The values of `field` in the events' data, in arrival order.
fn field(events: &[common::Message], field: &str) -> Vec<String> {
    events
        .iter()
        .map(|m| m.json()[field].as_str().unwrap_or("?").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_are_published_once_in_watermark_order_through_ties_and_batches() {
    with_broker(|mut broker: Broker| async move {
        with_mariadb(|db, pool| async move {
            members_table(&pool).await;
            run(
                &pool,
                "INSERT INTO members VALUES \
                 (1, 'Li Wei', 120.50, '2024-03-01 09:00:00'), \
                 (3, NULL, 7.00, '2024-03-01 09:05:00'), \
                 (2, 'Zhao Min', 0.10, '2024-03-01 09:05:00'), \
                 (4, 'Sun Li', 3.00, '2024-03-01 09:10:00.250000'), \
                 (5, 'Qian Yu', 99.99, '2024-03-01 09:20:00')",
            )
            .await;
            let source = format!(
                "url = \"mariadb://root@127.0.0.1:3306/{db}\"\ntable = \"members\"\n\
                 timestamp_column = \"updated_at\"\nid_column = \"id\"\nbatch_size = 2"
            );
            let d = deployment("sqlmembers", "crm-members", ("member", MEMBER), &source);
            broker.owns(&d);
            let events = broker.bound_queue(&d.exchange, "test.sql.#").await;
            let hub = d.start(Some(BROKER));

            let got = broker.take(&events, 5, WAIT).await;
            assert_eq!(got.len(), 5, "hub log:\n{}", hub.log_text());
            assert_eq!(
                field(&got, "id"),
                ["1", "2", "3", "4", "5"],
                "ordered by (ts, id)"
            );
            assert_eq!(
                field(&got, "points")[..2],
                ["120.50", "0.10"],
                "decimals exact"
            );
            assert_eq!(
                field(&got, "updated_at")[3],
                "2024-03-01T09:10:00.250",
                "a DATETIME as written, without an offset"
            );
            assert_eq!(
                got[1].header("cloudEvents_omnibusorigin").as_deref(),
                Some("sql:members:2 (id=2)"),
                "origin: table, ordinal in the batch, id"
            );
            assert!(
                broker.take(&events, 1, QUIET).await.is_empty(),
                "no row twice"
            );

            run(
                &pool,
                "INSERT INTO members VALUES (6, 'Zhou Jie', 1.00, '2024-03-02 08:00:00'), \
                 (7, 'Wu Fang', 2.00, '2024-03-02 08:00:00')",
            )
            .await;
            let got = broker.take(&events, 3, WAIT).await;
            assert_eq!(field(&got, "id"), ["6", "7"], "only the new rows");
            hub.stop();
        })
        .await;
    })
    .await;
}

/// Order lines grouped by order: one event per order, its lines in a list.
const ORDER: &str = "type = \"test.sql.order.v1\"\nkey = [\"order\"]\n[group]\nby = [\"order_no\"]\n\
                     [fields]\norder = { from = \"order_no\", required = true }\n\
                     skus = { expr = \"rows | map(attribute='sku') | join(',')\" }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_rows_make_one_event_per_group_even_when_a_batch_ends_inside_one() {
    with_broker(|mut broker: Broker| async move {
        with_mariadb(|db, pool| async move {
            run(
                &pool,
                "CREATE TABLE order_lines (id BIGINT PRIMARY KEY, order_no VARCHAR(20) NOT NULL,                  sku VARCHAR(20) NOT NULL, updated_at DATETIME NOT NULL)",
            )
            .await;
            run(
                &pool,
                "INSERT INTO order_lines VALUES \
                 (1, 'FX-A', 'a1', '2024-03-01 09:00:00'), (2, 'FX-A', 'a2', '2024-03-01 09:00:00'), \
                 (3, 'FX-B', 'b1', '2024-03-01 09:05:00'), (4, 'FX-B', 'b2', '2024-03-01 09:05:00'), \
                 (5, 'FX-C', 'c1', '2024-03-01 09:07:00')",
            )
            .await;
            let source = format!(
                "url = \"mysql://root@127.0.0.1:3306/{db}\"\ntable = \"order_lines\"\n\
                 timestamp_column = \"updated_at\"\nid_column = \"id\"\nbatch_size = 3"
            );
            let d = deployment("sqlorders", "dist-orders", ("order", ORDER), &source);
            broker.owns(&d);
            let events = broker.bound_queue(&d.exchange, "test.sql.#").await;
            let hub = d.start(Some(BROKER));

            let got = broker.take(&events, 3, WAIT).await;
            assert_eq!(got.len(), 3, "hub log:\n{}", hub.log_text());
            assert_eq!(field(&got, "order"), ["FX-A", "FX-B", "FX-C"]);
            assert_eq!(
                field(&got, "skus"),
                ["a1,a2", "b1,b2", "c1"],
                "the batches of 3 rows end inside FX-B and at FX-C: those rows wait for the next poll"
            );
            assert!(
                broker.take(&events, 1, QUIET).await.is_empty(),
                "no order twice, none cut in two"
            );
            hub.stop();
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_committed_late_within_the_lag_is_published_once() {
    with_broker(|mut broker: Broker| async move {
        with_mariadb(|db, pool| async move {
            members_table(&pool).await;
            run(
                &pool,
                "INSERT INTO members VALUES (1, 'Li Wei', 1.00, '2024-03-01 10:00:00'), \
                 (2, 'Zhao Min', 2.00, '2024-03-01 10:05:00')",
            )
            .await;
            let source = format!(
                "url = \"mysql://root@127.0.0.1:3306/{db}\"\ntable = \"members\"\n\
                 columns = [\"id\", \"name\", \"points\", \"updated_at\"]\n\
                 timestamp_column = \"updated_at\"\nid_column = \"id\"\ncommit_lag = \"1h\""
            );
            let d = deployment("sqllag", "crm-lag", ("member", MEMBER), &source);
            broker.owns(&d);
            let events = broker.bound_queue(&d.exchange, "test.sql.#").await;
            let hub = d.start(Some(BROKER));
            let got = broker.take(&events, 2, WAIT).await;
            assert_eq!(
                field(&got, "id"),
                ["1", "2"],
                "hub log:\n{}",
                hub.log_text()
            );

            // Committed now with timestamps older than the watermark (10:05): one within the
            // hour of lag, one before it.
            run(
                &pool,
                "INSERT INTO members VALUES (3, 'Late', 3.00, '2024-03-01 10:02:00'), \
                 (4, 'Too late', 4.00, '2024-03-01 08:00:00')",
            )
            .await;
            let got = broker
                .take(&events, 2, WAIT.min(Duration::from_secs(10)))
                .await;
            assert_eq!(
                field(&got, "id"),
                ["3"],
                "the late row once; the one before the window never"
            );
            assert!(
                broker.take(&events, 1, QUIET).await.is_empty(),
                "window rows are not re-published"
            );
            run(
                &pool,
                "INSERT INTO members VALUES (5, 'Next', 5.00, '2024-03-01 10:06:00')",
            )
            .await;
            let got = broker
                .take(&events, 2, WAIT.min(Duration::from_secs(10)))
                .await;
            assert_eq!(field(&got, "id"), ["5"]);
            hub.stop();
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_hub_resumes_from_the_saved_watermark() {
    with_broker(|mut broker: Broker| async move {
        with_mariadb(|db, pool| async move {
            members_table(&pool).await;
            run(
                &pool,
                "INSERT INTO members VALUES (1, 'A', 1.00, '2024-03-01 10:00:00'), \
                 (2, 'B', 2.00, '2024-03-01 10:01:00'), (3, 'C', 3.00, '2024-03-01 10:01:00')",
            )
            .await;
            let source = format!(
                "url = \"mariadb://root@127.0.0.1:3306/{db}\"\ntable = \"members\"\n\
                 timestamp_column = \"updated_at\"\nid_column = \"id\"\ncommit_lag = \"5m\""
            );
            let d = deployment("sqlrestart", "crm-restart", ("member", MEMBER), &source);
            broker.owns(&d);
            let events = broker.bound_queue(&d.exchange, "test.sql.#").await;
            let hub = d.start(Some(BROKER));
            let got = broker.take(&events, 3, WAIT).await;
            assert_eq!(
                field(&got, "id"),
                ["1", "2", "3"],
                "hub log:\n{}",
                hub.log_text()
            );
            assert!(hub.stop().success());

            run(
                &pool,
                "INSERT INTO members VALUES (4, 'D', 4.00, '2024-03-01 10:02:00')",
            )
            .await;
            let hub = d.start(Some(BROKER));
            let got = broker
                .take(&events, 2, WAIT.min(Duration::from_secs(10)))
                .await;
            assert_eq!(field(&got, "id"), ["4"], "hub log:\n{}", hub.log_text());
            assert!(
                broker.take(&events, 1, QUIET).await.is_empty(),
                "nothing re-published"
            );
            hub.stop();
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_query_publishes_numeric_and_timestamptz_and_the_password_stays_secret() {
    const PASSWORD: &str = "pg-s3cr3t-never-logged";
    with_broker(|mut broker: Broker| async move {
        with_postgres(|table, pool| async move {
            run(
                &pool,
                &format!(
                    "CREATE TABLE \"{table}\" (id BIGSERIAL PRIMARY KEY, sku TEXT NOT NULL, \
                     qty NUMERIC(12,3) NOT NULL, note TEXT, at TIMESTAMPTZ NOT NULL)"
                ),
            )
            .await;
            run(
                &pool,
                &format!(
                    "INSERT INTO \"{table}\" (sku, qty, note, at) VALUES \
                     ('A-1', 12.500, NULL, '2024-03-01 10:00:00+08'), \
                     ('B-2', 0.001, 'n', '2024-03-01 10:00:00+08'), \
                     ('C-3', 123456789.125, NULL, '2024-03-01 11:00:00+08')"
                ),
            )
            .await;
            let stock = "type = \"test.sql.stock.v1\"\nkey = [\"sku\"]\n[fields]\n\
                         sku = { from = \"sku\", required = true }\nqty = { from = \"qty\" }\n\
                         at = { from = \"at\" }\n";
            let query = format!(
                "SELECT s.id, s.sku, s.qty, s.note, s.at FROM \\\"{table}\\\" s \
                 WHERE s.qty::text <> ':not_a_param' AND (s.at > :since_ts OR \
                 (s.at = :since_ts AND s.id > :since_id)) ORDER BY s.at, s.id LIMIT :limit"
            );
            let source = format!(
                "url = \"postgres://postgres:${{PG_PASSWORD}}@127.0.0.1:5432/postgres\"\n\
                 query = \"{query}\"\ntimestamp_column = \"at\"\nid_column = \"id\"\nbatch_size = 2"
            );
            let d = deployment("sqlstock", "wms-stock", ("stock", stock), &source);
            write_connector(
                &d,
                "wms-down",
                "stock",
                "url = \"postgres://postgres:${PG_PASSWORD}@127.0.0.1:1/postgres\"\n\
                 table = \"stock\"\ntimestamp_column = \"at\"\nid_column = \"id\"",
            );
            broker.owns(&d);
            let events = broker.bound_queue(&d.exchange, "test.sql.#").await;
            let hub = d.start_with_env(Some(BROKER), &[("PG_PASSWORD", PASSWORD)]);

            let got = broker.take(&events, 3, WAIT).await;
            assert_eq!(got.len(), 3, "hub log:\n{}", hub.log_text());
            assert_eq!(field(&got, "sku"), ["A-1", "B-2", "C-3"]);
            assert_eq!(field(&got, "qty"), ["12.500", "0.001", "123456789.125"]);
            assert_eq!(
                field(&got, "at"),
                [
                    "2024-03-01T02:00:00Z",
                    "2024-03-01T02:00:00Z",
                    "2024-03-01T03:00:00Z"
                ]
            );
            assert!(broker.take(&events, 1, QUIET).await.is_empty());
            let masked = "postgres://***@127.0.0.1:1/postgres";
            let logged = eventually(WAIT, || hub.log_text().contains(masked)).await;
            let log = hub.log_text();
            hub.stop();
            assert!(
                logged,
                "the failing connector logs its database, masked:\n{log}"
            );
            assert!(
                !log.contains(PASSWORD),
                "the password is in the log:\n{log}"
            );
        })
        .await;
    })
    .await;
}
