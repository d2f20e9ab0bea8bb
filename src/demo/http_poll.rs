//! The systems the hub polls over HTTP: a stand-in API serves the sample pages' records at the
//! connector URL's address and path, honouring the connector's pagination (page number or offset,
//! with their size parameters) and watermark (only records whose watermark field is at or after
//! the value asked for), in the envelope of the first sample page. It serves for as long as the
//! demo runs, and tells when a poll has read it to the end (an empty page).

use crate::config::connector::FormatSpec;
use crate::connector::http_poll::{HttpPollSpec, Pagination, WatermarkSpec, compare_watermarks};
use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// One API: the records of the sample pages, and how the connector pages and filters them.
#[derive(Debug, Clone)]
pub struct Api {
    /// The first sample page: every answer is it with its record array replaced.
    envelope: Value,
    /// JSON Pointer of the record array in a page (`""`: the page is the array).
    array: String,
    records: Vec<Value>,
    pagination: Pagination,
    watermark: Option<(String, String)>,
}

impl Api {
    /// The API a connector polls, from its sample pages.
    pub fn new(
        spec: &HttpPollSpec,
        format: Option<&FormatSpec>,
        pages: &[&Path],
    ) -> Result<Self, String> {
        let array = record_array(format)?;
        match &spec.pagination {
            Pagination::None | Pagination::Page { .. } | Pagination::Offset { .. } => {}
            _ => {
                return Err(
                    "the demo's stand-in API pages by page number or offset only".to_string(),
                );
            }
        }
        let mut envelope = None;
        let mut records = Vec::new();
        for page in pages {
            let text = std::fs::read(page).map_err(|e| format!("{}: {e}", page.display()))?;
            let doc: Value = serde_json::from_slice(&text)
                .map_err(|e| format!("{}: not JSON: {e}", page.display()))?;
            match doc.pointer(&array) {
                Some(Value::Array(items)) => records.extend(items.iter().cloned()),
                _ => {
                    return Err(format!(
                        "{}: no record array at \"{array}\"",
                        page.display()
                    ));
                }
            }
            envelope.get_or_insert(doc);
        }
        let envelope = envelope.ok_or("no sample page to serve")?;
        let watermark = match &spec.watermark {
            Some(WatermarkSpec::Field { field, param, .. }) => Some((field.clone(), param.clone())),
            _ => None,
        };
        Ok(Self {
            envelope,
            array,
            records,
            pagination: spec.pagination.clone(),
            watermark,
        })
    }

    /// The page `query` asks for, and whether it is empty (the end of a poll).
    pub fn page(&self, query: &HashMap<String, String>) -> (Value, bool) {
        let since = self.watermark.as_ref().and_then(|(field, param)| {
            query
                .get(param)
                .map(|since| (field.as_str(), since.as_str()))
        });
        let matching = self
            .records
            .iter()
            .filter(|r| since.is_none_or(|(field, since)| at_or_after(r, field, since)));
        let number = |name: &str, default: u64| {
            query
                .get(name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(default)
        };
        let (skip, take) = match &self.pagination {
            Pagination::Page { param, start, size } => {
                let size = size
                    .as_ref()
                    .map_or(u64::MAX, |(name, default)| number(name, *default).max(1));
                let page = number(param, *start).saturating_sub(*start);
                (page.saturating_mul(size), size)
            }
            Pagination::Offset {
                offset_param,
                limit_param,
                limit,
            } => (number(offset_param, 0), number(limit_param, *limit).max(1)),
            _ => (0, u64::MAX),
        };
        let items: Vec<Value> = matching
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(take).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        let empty = items.is_empty();
        let mut page = self.envelope.clone();
        if let Some(slot) = page.pointer_mut(&self.array) {
            *slot = Value::Array(items);
        }
        (page, empty)
    }
}

/// Whether the record's watermark field is at or after `since`.
fn at_or_after(record: &Value, field: &str, since: &str) -> bool {
    let value = match field.starts_with('/') {
        true => record.pointer(field),
        false => field.split('.').try_fold(record, |v, step| v.get(step)),
    };
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => return true,
    };
    compare_watermarks(&text, since) != Ordering::Less
}

/// The JSON Pointer of the record array: the connector's `record` without its final `/*`.
fn record_array(format: Option<&FormatSpec>) -> Result<String, String> {
    let Some(FormatSpec::Json(json)) = format else {
        return Err("the demo's stand-in API serves JSON pages only".into());
    };
    let Some(record) = &json.record else {
        return Ok(String::new());
    };
    match record.text().strip_suffix("/*") {
        Some(array) if !array.contains('*') => Ok(array.to_string()),
        _ => Err(format!(
            "the demo's stand-in API needs records in one array (record = \"/…/*\"), not \"{}\"",
            record.text()
        )),
    }
}

/// The stand-in APIs of one address, by path.
#[derive(Clone)]
struct Served {
    apis: Arc<HashMap<String, Api>>,
    ends: watch::Sender<u64>,
}

/// Running stand-in APIs; they stop when the demo's cancellation token fires.
pub struct Servers {
    ends: Vec<(String, watch::Receiver<u64>)>,
}

impl Servers {
    /// Starts one server per address with the APIs at their paths (`url` → API).
    pub async fn start(
        apis: Vec<(url::Url, Api)>,
        cancel: CancellationToken,
    ) -> Result<Self, String> {
        let mut by_address: HashMap<SocketAddr, HashMap<String, Api>> = HashMap::new();
        for (url, api) in apis {
            let address = url
                .socket_addrs(|| None)
                .ok()
                .and_then(|a| a.into_iter().next())
                .ok_or_else(|| format!("{url}: no address to serve it on"))?;
            by_address
                .entry(address)
                .or_default()
                .insert(url.path().to_string(), api);
        }
        let mut ends = Vec::new();
        for (address, apis) in by_address {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| format!("serving the stand-in API on {address}: {e}"))?;
            let (sender, receiver) = watch::channel(0);
            ends.push((address.to_string(), receiver));
            let served = Served {
                apis: Arc::new(apis),
                ends: sender,
            };
            let app = axum::Router::new().fallback(answer).with_state(served);
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(cancel.cancelled_owned())
                    .await;
            });
        }
        Ok(Self { ends })
    }

    /// Waits until every server was read to the end (an empty page) at least once; the addresses
    /// of those that were not when `timeout` passed.
    pub async fn read_through(&mut self, timeout: std::time::Duration) -> Vec<String> {
        let mut unread = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        for (address, ends) in &mut self.ends {
            let read = tokio::time::timeout_at(deadline, ends.wait_for(|n| *n > 0)).await;
            if !matches!(read, Ok(Ok(_))) {
                unread.push(address.clone());
            }
        }
        unread
    }
}

async fn answer(
    State(served): State<Served>,
    uri: axum::http::Uri,
    RawQuery(query): RawQuery,
) -> axum::response::Response {
    let Some(api) = served.apis.get(uri.path()) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    let query: HashMap<String, String> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let (page, empty) = api.page(&query);
    if empty {
        served.ends.send_modify(|n| *n += 1);
    }
    axum::Json(page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(pagination: Pagination) -> Api {
        Api {
            envelope: json!({"code": 0, "data": {"list": []}}),
            array: "/data/list".into(),
            records: (1..=5)
                .map(|n| json!({"n": n, "at": format!("2024-03-01T0{n}:00:00+08:00")}))
                .collect(),
            pagination,
            watermark: Some(("at".into(), "since".into())),
        }
    }

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn numbers(page: &Value) -> Vec<i64> {
        page["data"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["n"].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn pages_count_from_start_and_end_empty() {
        let api = api(Pagination::Page {
            param: "page".into(),
            start: 1,
            size: Some(("page_size".into(), 2)),
        });
        let (first, empty) = api.page(&query(&[]));
        assert_eq!((numbers(&first), empty), (vec![1, 2], false));
        assert_eq!(first["code"], 0);
        let (third, _) = api.page(&query(&[("page", "3")]));
        assert_eq!(numbers(&third), [5]);
        let (fourth, empty) = api.page(&query(&[("page", "4")]));
        assert_eq!((numbers(&fourth), empty), (vec![], true));
    }

    #[test]
    fn the_watermark_leaves_out_older_records() {
        let api = api(Pagination::Offset {
            offset_param: "offset".into(),
            limit_param: "limit".into(),
            limit: 10,
        });
        let since = [("since", "2024-03-01T04:00:00+08:00"), ("offset", "0")];
        assert_eq!(numbers(&api.page(&query(&since)).0), [4, 5]);
        let later = [
            ("since", "2024-02-29T18:00:00Z"),
            ("offset", "1"),
            ("limit", "2"),
        ];
        assert_eq!(numbers(&api.page(&query(&later)).0), [3, 4]);
    }
}
