//! The systems that call webhooks: each sample is POSTed to the hub's ingest listener at the
//! connector's path, with a content type the connector accepts, signed as its `auth` requires, and
//! with a fresh delivery id in its idempotency header.

use crate::connector::http_push::{Auth, ContentKind, HttpPushSpec};
use std::path::Path;

/// POSTs `sample` to `base` (the ingest listener's URL) + the connector's path; the answer's
/// status line.
pub async fn post(
    client: &reqwest::Client,
    base: &str,
    spec: &HttpPushSpec,
    sample: &Path,
) -> Result<String, String> {
    let body = std::fs::read(sample).map_err(|e| format!("{}: {e}", sample.display()))?;
    let url = format!("{}{}", base.trim_end_matches('/'), spec.path);
    let mut request = client
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, content_type(spec, sample));
    if let Some(header) = &spec.idempotency_header {
        request = request.header(header.as_str(), uuid::Uuid::now_v7().to_string());
    }
    match &spec.auth {
        Auth::None => {}
        Auth::HmacSha256 { header, .. } => {
            let signature = spec
                .auth
                .signature(&body)
                .ok_or("the connector's HMAC secret cannot key a signature")?;
            request = request.header(header.as_str(), signature);
        }
        Auth::Bearer { .. } => {
            return Err(
                "auth = \"bearer\": the hub keeps only a tag of the token, so the demo cannot send it"
                    .into(),
            );
        }
    }
    let response = request
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e} (is the hub's [ingest] listener up?)"))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(format!("POST {url} answered {status}: {text}"));
    }
    Ok(format!("POST {url} → {status}"))
}

/// The accepted content type that fits the sample's extension, else the first accepted one.
fn content_type(spec: &HttpPushSpec, sample: &Path) -> &'static str {
    let by_extension = match sample.extension().and_then(|e| e.to_str()) {
        Some("xml") => Some(ContentKind::Xml),
        Some("csv") => Some(ContentKind::Csv),
        Some("json" | "ndjson") => Some(ContentKind::Json),
        _ => None,
    };
    let kind = by_extension
        .filter(|k| spec.content_types.contains(k))
        .or_else(|| spec.content_types.first().copied())
        .unwrap_or(ContentKind::Json);
    match kind {
        ContentKind::Json => "application/json",
        ContentKind::Xml => "application/xml",
        ContentKind::Csv => "text/csv",
        ContentKind::Form => "application/x-www-form-urlencoded",
    }
}
