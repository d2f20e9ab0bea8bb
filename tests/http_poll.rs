//! `[source] type = "http_poll"` end to end: the real hub polls a legacy REST API (a small axum
//! server started here on a free loopback port, with its own state) and publishes the mapped
//! events to the real RabbitMQ. Cursor pagination with an OAuth2 token (fetched once, fetched
//! again after a 401) and a field watermark that survives a restart; retries that honour
//! `Retry-After` on 503 and 429; `Link` pagination of CSV pages with an API-key header.

mod common;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::{BROKER, Broker, Deployment, with_broker};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);
const CLIENT_ID: &str = "mall-hub";
const CLIENT_SECRET: &str = "Zq9-client-secret-never-logged";
const API_KEY: &str = "Kx7-api-key-never-logged";

const ORDER: &str = "type = \"test.http.order.v1\"\nkey = [\"id\"]\n[fields]\n\
                     id = { from = \"id\", required = true }\n\
                     total = { from = \"total\", type = \"decimal\" }\n\
                     updated_at = { from = \"updated_at\" }\n\
                     page = { from = \"_meta.page\" }\n";

/// One request the API saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: HashMap<String, String>,
    at: Instant,
}

/// The legacy API's state.
#[derive(Default)]
struct Api {
    /// `(id, updated_at, total)`, in `updated_at` order.
    orders: Vec<(String, String, String)>,
    seen: Vec<Seen>,
    /// The token `/token` handed out last; `/orders` takes only it.
    token: Option<String>,
    tokens_issued: u32,
    /// Answers given instead of the real one, in order: each to the first request for a later
    /// page (`true`, it has a `cursor`) or a first page (`false`), as it says.
    script: VecDeque<Scripted>,
}

/// `(later page?, status, Retry-After)`.
type Scripted = (bool, StatusCode, Option<&'static str>);

type Shared = Arc<Mutex<Api>>;

fn lock(api: &Shared) -> std::sync::MutexGuard<'_, Api> {
    api.lock().expect("api state")
}

fn order(id: &str, at: &str, total: &str) -> (String, String, String) {
    (id.into(), at.into(), total.into())
}

/// Starts the API on a free loopback port; returns its base URL.
async fn serve(api: Shared) -> String {
    let app = axum::Router::new()
        .route("/token", post(token))
        .route("/orders", get(orders))
        .route("/export", get(export))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Records the request; a scripted answer, if any, replaces the real one.
fn record(api: &Shared, path: &str, query: &HashMap<String, String>) -> Option<Response> {
    let mut api = lock(api);
    api.seen.push(Seen {
        path: path.to_string(),
        query: query.clone(),
        at: Instant::now(),
    });
    let later_page = query.contains_key("cursor");
    if api.script.front()?.0 != later_page {
        return None;
    }
    let (_, status, retry_after) = api.script.pop_front()?;
    let mut response = (status, "try later").into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.parse().expect("header"));
    }
    Some(response)
}

async fn token(State(api): State<Shared>, headers: HeaderMap, body: String) -> Response {
    use base64::Engine as _;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let authorised = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(format!("Basic {basic}").as_str());
    if !authorised || !body.contains("grant_type=client_credentials") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut api = lock(&api);
    api.tokens_issued += 1;
    let token = format!("tok-{}", api.tokens_issued);
    api.token = Some(token.clone());
    axum::Json(serde_json::json!({
        "access_token": token, "token_type": "bearer", "expires_in": 3600
    }))
    .into_response()
}

/// Orders updated after `updated_since`, two a page, by cursor (`"c<index>"`).
async fn orders(
    State(api): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(scripted) = record(&api, "/orders", &query) {
        return scripted;
    }
    let api = lock(&api);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_none() || bearer != api.token.as_deref() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let since = query.get("updated_since").cloned().unwrap_or_default();
    let fresh: Vec<_> = api.orders.iter().filter(|o| o.1 > since).collect();
    let from: usize = query
        .get("cursor")
        .and_then(|c| c.strip_prefix('c')?.parse().ok())
        .unwrap_or(0);
    let page: Vec<_> = fresh
        .iter()
        .skip(from)
        .take(2)
        .map(|(id, at, total)| serde_json::json!({"id": id, "updated_at": at, "total": total}))
        .collect();
    let next = (from + 2 < fresh.len()).then(|| format!("c{}", from + 2));
    axum::Json(serde_json::json!({"orders": page, "next": next})).into_response()
}

/// Every order as CSV, two rows a page, with `Link: <…>; rel="next"`; needs the API key.
async fn export(
    State(api): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(scripted) = record(&api, "/export", &query) {
        return scripted;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("x-api-key") != Some(API_KEY) || header("x-tenant") != Some("mall-east") {
        return StatusCode::FORBIDDEN.into_response();
    }
    let api = lock(&api);
    let page: usize = query.get("p").and_then(|p| p.parse().ok()).unwrap_or(1);
    let mut csv = String::from("id,updated_at,total\n");
    for (id, at, total) in api.orders.iter().skip((page - 1) * 2).take(2) {
        csv.push_str(&format!("{id},{at},{total}\n"));
    }
    let mut response = csv.into_response();
    if page * 2 < api.orders.len() {
        let link = format!("</export?p={}>; rel=\"next\"", page + 1);
        response
            .headers_mut()
            .insert(header::LINK, link.parse().expect("header"));
    }
    response
}

fn connector(d: &Deployment, source: &str, format: &str) {
    std::fs::write(
        d.dir.path().join("connectors/mall.toml"),
        format!(
            "system = \"mall\"\nmapping = \"order\"\n[source]\ntype = \"http_poll\"\n{source}\n\
             [format]\n{format}\n"
        ),
    )
    .expect("connector");
}

/// Waits until the API has seen a request that `matches`.
async fn seen(api: &Shared, matches: impl Fn(&Seen) -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if lock(api).seen.iter().any(&matches) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Waits until the API has seen `n` requests.
async fn seen_after(api: &Shared, n: usize) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if lock(api).seen.len() >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn ids(messages: &[common::Message]) -> Vec<String> {
    let mut ids: Vec<String> = messages
        .iter()
        .map(|m| m.json()["id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_pages_with_oauth2_and_a_watermark_that_survives_a_restart() {
    with_broker(|mut broker: Broker| async move {
        let api: Shared = Arc::default();
        lock(&api).orders = vec![
            order("O1", "2024-03-01T10:00:00Z", "10.00"),
            order("O2", "2024-03-01T10:05:00Z", "20.00"),
            order("O3", "2024-03-01T10:10:00Z", "30.00"),
            order("O4", "2024-03-01T10:15:00Z", "40.00"),
            order("O5", "2024-03-01T10:20:00Z", "50.00"),
        ];
        let base = serve(Arc::clone(&api)).await;
        let d = Deployment::new("httppoll");
        broker.owns(&d);
        d.mapping("order", ORDER);
        connector(
            &d,
            &format!(
                "url = \"{base}/orders\"\ninterval = \"1s\"\n\
                 [source.auth]\ntype = \"oauth2\"\ntoken_url = \"{base}/token\"\n\
                 client_id_env = \"MALL_CLIENT_ID\"\nclient_secret_env = \"MALL_CLIENT_SECRET\"\n\
                 [source.pagination]\ntype = \"cursor\"\nparam = \"cursor\"\nnext = \"/next\"\n\
                 [source.watermark]\nfield = \"updated_at\"\nparam = \"updated_since\"\n\
                 initial = \"2024-01-01T00:00:00Z\""
            ),
            "type = \"json\"\nrecord = \"/orders/*\"",
        );
        let events = broker.bound_queue(&d.exchange, "test.http.#").await;
        let env = [
            ("MALL_CLIENT_ID", CLIENT_ID),
            ("MALL_CLIENT_SECRET", CLIENT_SECRET),
        ];
        let hub = d.start_with_env(Some(BROKER), &env);

        let got = broker.take(&events, 5, WAIT).await;
        assert_eq!(
            ids(&got),
            ["O1", "O2", "O3", "O4", "O5"],
            "hub log:\n{}",
            hub.log_text()
        );
        let pages: Vec<String> = got.iter().map(|m| m.json()["page"].to_string()).collect();
        assert!(
            pages.contains(&"\"3\"".to_string()),
            "three pages: {pages:?}"
        );
        let first = lock(&api).seen[0].clone();
        assert_eq!(
            first.query.get("updated_since").map(String::as_str),
            Some("2024-01-01T00:00:00Z"),
            "the initial watermark is sent"
        );
        let next_poll = |s: &Seen| {
            s.query.get("updated_since").map(String::as_str) == Some("2024-03-01T10:20:00Z")
        };
        assert!(
            seen(&api, next_poll).await,
            "the next poll sends the watermark"
        );
        assert!(
            seen(&api, |s| s.query.get("cursor").map(String::as_str)
                == Some("c4"))
            .await
        );
        assert_eq!(lock(&api).tokens_issued, 1, "the token is cached");

        // The API revokes the token: one 401, one new token, and polling goes on.
        {
            let mut api = lock(&api);
            api.token = Some("revoked".into());
            api.orders
                .push(order("O6", "2024-03-01T11:00:00Z", "60.00"));
        }
        let got = broker.take(&events, 1, WAIT).await;
        assert_eq!(ids(&got), ["O6"], "hub log:\n{}", hub.log_text());
        assert_eq!(lock(&api).tokens_issued, 2, "one new token after the 401");
        assert!(hub.stop().success());

        // A restart resumes from the saved watermark: nothing is read, nothing published again.
        lock(&api).seen.clear();
        let hub = d.start_with_env(Some(BROKER), &env);
        assert!(
            seen(&api, |s| s.path == "/orders").await,
            "polled after restart"
        );
        let first = lock(&api).seen[0].clone();
        assert_eq!(
            first.query.get("updated_since").map(String::as_str),
            Some("2024-03-01T11:00:00Z"),
            "the first poll after the restart starts at the saved watermark"
        );
        let again = broker.take(&events, 1, Duration::from_secs(3)).await;
        assert!(again.is_empty(), "re-published: {:?}", ids(&again));
        let log = hub.log_text();
        assert!(!log.contains(CLIENT_SECRET), "the client secret was logged");
        assert!(!log.contains("tok-"), "a token was logged");
        assert!(hub.stop().success());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_on_503_and_429_and_a_404_waits_for_the_next_poll() {
    with_broker(|mut broker: Broker| async move {
        let api: Shared = Arc::default();
        {
            let mut api = lock(&api);
            api.orders = vec![
                order("R1", "2024-03-01T10:00:00Z", "1.00"),
                order("R2", "2024-03-01T10:01:00Z", "2.00"),
                order("R3", "2024-03-01T10:02:00Z", "3.00"),
            ];
            api.token = Some("static-token".into());
            api.script = VecDeque::from([
                (false, StatusCode::SERVICE_UNAVAILABLE, Some("1")),
                (false, StatusCode::SERVICE_UNAVAILABLE, Some("1")),
                (true, StatusCode::TOO_MANY_REQUESTS, Some("3")),
            ]);
        }
        let base = serve(Arc::clone(&api)).await;
        let d = Deployment::new("httpretry");
        broker.owns(&d);
        d.mapping("order", ORDER);
        connector(
            &d,
            &format!(
                "url = \"{base}/orders\"\ninterval = \"2s\"\nretries = 3\n\
                 [source.auth]\ntype = \"bearer\"\ntoken_env = \"MALL_TOKEN\"\n\
                 [source.pagination]\ntype = \"cursor\"\nnext = \"/next\"\n\
                 [source.watermark]\nfrom = \"cursor\""
            ),
            "type = \"json\"\nrecord = \"/orders/*\"",
        );
        let events = broker.bound_queue(&d.exchange, "test.http.#").await;
        let hub = d.start_with_env(Some(BROKER), &[("MALL_TOKEN", "static-token")]);

        let got = broker.take(&events, 3, WAIT).await;
        assert_eq!(
            ids(&got),
            ["R1", "R2", "R3"],
            "hub log:\n{}",
            hub.log_text()
        );
        let seen = lock(&api).seen.clone();
        let later: Vec<bool> = seen
            .iter()
            .take(5)
            .map(|s| s.query.contains_key("cursor"))
            .collect();
        assert_eq!(
            later,
            [false, false, false, true, true],
            "503, 503, 200, 429, 200"
        );
        let gap = |n: usize| seen[n].at - seen[n - 1].at;
        assert!(gap(1) >= Duration::from_millis(900) && gap(2) >= Duration::from_millis(900));
        assert!(
            gap(4) >= Duration::from_millis(2900),
            "Retry-After: 3 honoured after the 429"
        );

        // The next poll resumes at the last cursor saved; a 404 fails a poll at once (no
        // retries), and the next scheduled poll goes on.
        let before = lock(&api).seen.len();
        lock(&api)
            .script
            .push_back((true, StatusCode::NOT_FOUND, None));
        let failed = common::eventually(WAIT, || hub.log_text().contains("poll failed")).await;
        assert!(failed, "hub log:\n{}", hub.log_text());
        assert!(
            seen_after(&api, before + 2).await,
            "polling goes on after the 404"
        );
        let resumed = lock(&api).seen[5].query.get("cursor").cloned();
        assert_eq!(
            resumed.as_deref(),
            Some("c2"),
            "the second poll starts at the saved cursor"
        );
        let log = hub.log_text();
        assert!(log.contains("HTTP 503 Service Unavailable"), "{log}");
        let retried_404 = log
            .lines()
            .any(|l| l.contains("HTTP 404") && l.contains("retrying"));
        assert!(!retried_404, "a 404 was retried:\n{log}");
        assert!(!log.contains("static-token"), "the bearer token was logged");
        assert!(hub.stop().success());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_pages_of_csv_with_an_api_key() {
    with_broker(|mut broker: Broker| async move {
        let api: Shared = Arc::default();
        lock(&api).orders = vec![
            order("L1", "2024-03-01T10:00:00Z", "1.50"),
            order("L2", "2024-03-01T10:01:00Z", "2.50"),
            order("L3", "2024-03-01T10:02:00Z", "3.50"),
        ];
        let base = serve(Arc::clone(&api)).await;
        let d = Deployment::new("httplink");
        broker.owns(&d);
        d.mapping("order", ORDER);
        connector(
            &d,
            &format!(
                "url = \"{base}/export\"\ncron = \"* * * * *\"\nrate_limit = 5\n\
                 query = {{ region = \"east\" }}\nheaders = {{ X-Tenant = \"mall-${{MALL_REGION}}\" }}\n\
                 [source.auth]\ntype = \"api_key\"\nheader = \"X-Api-Key\"\nkey_env = \"MALL_KEY\"\n\
                 [source.pagination]\ntype = \"link\""
            ),
            "type = \"csv\"",
        );
        let events = broker.bound_queue(&d.exchange, "test.http.#").await;
        let hub = d.start_with_env(Some(BROKER), &[("MALL_KEY", API_KEY), ("MALL_REGION", "east")]);
        // The cron fires at the next full minute.
        let got = broker.take(&events, 3, Duration::from_secs(90)).await;
        assert_eq!(ids(&got), ["L1", "L2", "L3"], "hub log:\n{}", hub.log_text());
        let totals: Vec<String> = got.iter().map(|m| m.json()["total"].to_string()).collect();
        assert!(totals.contains(&"\"3.50\"".to_string()), "{totals:?}");
        let seen = lock(&api).seen.clone();
        assert_eq!(seen[0].query.get("region").map(String::as_str), Some("east"));
        assert_eq!(seen[1].query.get("p").map(String::as_str), Some("2"), "the link is followed");
        assert!(!hub.log_text().contains(API_KEY), "the API key was logged");
        assert!(hub.stop().success());
    })
    .await;
}
