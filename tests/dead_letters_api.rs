//! The admin API's dead-letter endpoints on a running hub with the real RabbitMQ: a bad row is
//! listed (with counts per connector and the filters), shown with its raw record, fails again on
//! replay while the mapping is unchanged, and is published once the mapping is fixed and reloaded
//! — replayed inside the running hub, which holds the state dir.

mod common;

use common::{BROKER, Broker, Deployment, with_broker};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

const STRICT: &str = "type = \"test.dlq.sale.v1\"\nkey = [\"receipt\"]\n[fields]\n\
                      receipt = { from = \"receipt\", required = true }\n\
                      amount = { from = \"amount\", required = true }\n";
const LENIENT: &str = "type = \"test.dlq.sale.v1\"\nkey = [\"receipt\"]\n[fields]\n\
                       receipt = { from = \"receipt\", required = true }\n\
                       amount = { from = \"amount\" }\n";

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("an answer");
    answer(response).await
}

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("an answer");
    answer(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_shown_and_replayed_in_the_running_hub() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("dlqapi");
        broker.owns(&d);
        d.mapping("sale", STRICT);
        d.file_connector("pos", "sale", "type = \"csv\"");
        let base = d.admin_on_free_port();
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(Some(BROKER));
        d.drop_file("pos", "day.csv", b"receipt,amount\nR1,5\nR2,\n");
        assert_eq!(
            broker.take(&queue, 1, WAIT).await.len(),
            1,
            "log:\n{}",
            hub.log_text()
        );

        let url = format!("{base}/api/dead-letters");
        let mut listed = Value::Null;
        for _ in 0..150 {
            listed = get(&url).await.1;
            if listed["total"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(listed["total"], 1, "{listed}\nlog:\n{}", hub.log_text());
        assert_eq!(listed["counts"], json!({"pos": 1}));
        let letter = &listed["dead_letters"][0];
        assert_eq!(
            (&letter["stage"], &letter["line"]),
            (&json!("map"), &json!(3))
        );
        let (_, none) = get(&format!("{url}?stage=decode")).await;
        assert_eq!(none["total"], 0, "{none}");
        let (status, bad) = get(&format!("{url}?since=yesterday")).await;
        assert_eq!(status, 400, "{bad}");

        let id = letter["id"].as_i64().expect("id");
        let (status, shown) = get(&format!("{url}/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(
            shown["raw"].as_str().map(str::trim_end),
            Some("R2,"),
            "{shown}"
        );
        assert_eq!(get(&format!("{url}/999999")).await.0, 404);

        let replay = format!("{url}/replay");
        let (status, again) = post(&replay, json!({"ids": [id]})).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(
            (&again["replayed"], &again["failing"]),
            (&json!(0), &json!(1)),
            "{again}"
        );
        assert_eq!(again["failed_again"][0]["id"], id, "{again}");

        d.mapping("sale", LENIENT);
        let (status, reloaded) = post(&format!("{base}/api/reload"), json!({})).await;
        assert_eq!(status, 200, "{reloaded}");
        let (status, done) = post(&replay, json!({"connector": "pos", "since": "1h"})).await;
        assert_eq!(status, 200, "{done}\nlog:\n{}", hub.log_text());
        assert_eq!(
            (&done["replayed"], &done["failing"]),
            (&json!(1), &json!(0)),
            "{done}"
        );
        let events = broker.take(&queue, 1, WAIT).await;
        assert_eq!(events.len(), 1, "the replayed record is published");
        assert_eq!(events[0].json()["receipt"], "R2");
        let (_, open) = get(&url).await;
        assert_eq!(open["total"], 0, "{open}");
        let (_, replayed) = get(&format!("{url}?status=replayed")).await;
        assert_eq!(replayed["total"], 1, "{replayed}");
    })
    .await;
}
