//! `omnibus tap`: follows a running hub's live tap (`GET /api/tap`), handing on each line as it
//! arrives: a sample (a decoded record, a mapped event, a published event) or a count of the
//! samples skipped while the reader was behind.

use super::status::{StatusError, answer, unreachable};
use crate::connector::tap::Stage;

/// What to tap.
#[derive(Debug, Clone)]
pub struct TapRequest {
    /// One connector, or every connector.
    pub connector: Option<String>,
    pub stage: Stage,
    /// Samples to take before the hub ends the answer.
    pub limit: u64,
}

/// What the tap brings.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// The hub took the request: samples produced from now on follow.
    Started,
    /// A sample as JSON text.
    Sample(&'a str),
    /// This many samples passed the reader by.
    Skipped(u64),
}

/// Follows the tap of the hub whose admin API is at `base`, calling `on_line` once the hub took
/// the request and then for each line as it arrives; the number of samples received once the hub
/// ends the answer.
pub async fn follow(
    base: &str,
    request: &TapRequest,
    mut on_line: impl FnMut(Line<'_>),
) -> Result<u64, StatusError> {
    let url = format!("{}/api/tap", base.trim_end_matches('/'));
    let mut query = vec![
        ("stage", request.stage.as_str().to_string()),
        ("limit", request.limit.to_string()),
    ];
    if let Some(id) = &request.connector {
        query.push(("connector", id.clone()));
    }
    let get = reqwest::Client::new().get(&url).query(&query);
    let mut response = answer(get, &url).await?;
    on_line(Line::Started);
    let mut pending = Vec::new();
    let mut samples = 0;
    while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(&url, e))? {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let text = String::from_utf8_lossy(&pending[..end]).into_owned();
            pending.drain(..=end);
            let line = classify(&text);
            samples += u64::from(matches!(line, Line::Sample(_)));
            on_line(line);
        }
    }
    Ok(samples)
}

/// A line of the answer: a `{"skipped": n}` notice, or a sample.
fn classify(text: &str) -> Line<'_> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Skipped {
        skipped: u64,
    }
    match serde_json::from_str::<Skipped>(text) {
        Ok(notice) => Line::Skipped(notice.skipped),
        Err(_) => Line::Sample(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_notices_are_told_from_samples() {
        assert_eq!(classify("{\"skipped\":7}"), Line::Skipped(7));
        let sample = "{\"connector\":\"pos\",\"stage\":\"mapped\",\"event\":{\"skipped\":1}}";
        assert_eq!(classify(sample), Line::Sample(sample));
    }
}
