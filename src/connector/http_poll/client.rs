//! The HTTP client of one poll connector: reqwest behind tower's `ConcurrencyLimit` and `Timeout`,
//! a governor rate limit, a cap on the body size, and the retries — exponential backoff with
//! jitter (backon) after a connection error, a timeout, a 5xx or a 429, waiting what a
//! `Retry-After` header asks instead when there is one.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::{Bytes, BytesMut};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode, Url};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower::limit::ConcurrencyLimit;
use tower::timeout::Timeout;

use super::auth::Auth;
use crate::connector::status::{Phase, StatusHandle};

/// The shortest and longest backoff between two attempts.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The longest `Retry-After` honoured; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// One response, its body read whole.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The URL answered (after redirects).
    pub url: Url,
    pub body: Bytes,
}

/// Why a request failed. `url` is shown without user, password or the configured query.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{url}: HTTP {status}")]
    Status {
        url: String,
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    #[error(
        "{url}: the response body is larger than max_body = {max} bytes; raise max_body or ask \
         for smaller pages"
    )]
    TooLarge { url: String, max: u64 },
    #[error("{url}: {reason}")]
    Token { url: String, reason: String },
    #[error("cannot build the request to {url}: {reason}")]
    Build { url: String, reason: String },
    #[error("the hub is stopping")]
    Stopped,
}

impl FetchError {
    /// Whether the request is tried again, after how long if the server said so.
    fn retry(&self) -> Option<Option<Duration>> {
        match self {
            FetchError::Transport { .. } => Some(None),
            FetchError::Status {
                status,
                retry_after,
                ..
            } if *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// A transport failure of a request to `url`, told without the URL reqwest would add.
    pub fn transport(url: &str, e: &(dyn std::error::Error + 'static)) -> Self {
        let reason = match e.downcast_ref::<reqwest::Error>() {
            Some(e) if e.is_connect() => "cannot connect".to_string(),
            Some(e) if e.is_timeout() => "timed out".to_string(),
            Some(e) => source_chain(e),
            None if e.is::<tower::timeout::error::Elapsed>() => "timed out".to_string(),
            None => e.to_string(),
        };
        FetchError::Transport {
            url: url.to_string(),
            reason,
        }
    }
}

/// A reqwest error and its causes, without the URL (which may hold a secret).
fn source_chain(e: &reqwest::Error) -> String {
    let mut out = match e.url() {
        Some(_) => "request failed".to_string(),
        None => e.to_string(),
    };
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// How one connector sends requests.
pub struct Client {
    /// The connector's id, for logs.
    connector: String,
    pub http: reqwest::Client,
    stack: ConcurrencyLimit<Timeout<reqwest::Client>>,
    limiter: Option<DefaultDirectRateLimiter>,
    timeout: Duration,
    retries: u32,
    max_body: u64,
}

/// A connector's request limits.
pub struct Limits {
    pub timeout: Duration,
    pub retries: u32,
    pub rate_limit: Option<NonZeroU32>,
    pub max_in_flight: usize,
    pub max_body: u64,
}

impl Client {
    pub fn new(connector: &str, limits: &Limits) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("omnibus/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(limits.timeout)
            .build()?;
        let stack = tower::ServiceBuilder::new()
            .concurrency_limit(limits.max_in_flight)
            .timeout(limits.timeout)
            .service(http.clone());
        Ok(Self {
            connector: connector.to_string(),
            http,
            stack,
            limiter: limits
                .rate_limit
                .map(|n| RateLimiter::direct(Quota::per_second(n))),
            timeout: limits.timeout,
            retries: limits.retries,
            max_body: limits.max_body,
        })
    }

    /// Sends one request through the stack and reads the body (at most `max_body` bytes);
    /// any HTTP status is `Ok`.
    pub async fn send(&self, request: RequestBuilder, shown: &str) -> Result<Fetched, FetchError> {
        let request = request.build().map_err(|e| FetchError::Build {
            url: shown.to_string(),
            reason: source_chain(&e),
        })?;
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let response = self
            .stack
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| FetchError::transport(shown, e.as_ref()))?;
        let (status, headers, url) = (
            response.status(),
            response.headers().clone(),
            response.url().clone(),
        );
        let body = tokio::time::timeout(self.timeout, self.body(response, shown))
            .await
            .map_err(|e| FetchError::transport(shown, &e))??;
        Ok(Fetched {
            status,
            headers,
            url,
            body,
        })
    }

    async fn body(
        &self,
        mut response: reqwest::Response,
        shown: &str,
    ) -> Result<Bytes, FetchError> {
        let too_large = || FetchError::TooLarge {
            url: shown.to_string(),
            max: self.max_body,
        };
        if response.content_length().is_some_and(|n| n > self.max_body) {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::transport(shown, &e))?
        {
            if (body.len() + chunk.len()) as u64 > self.max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// Sends the request `request` builds (again for each attempt), authorised by `auth`, until
    /// it answers 2xx, fails for good, or the retries are used up.
    pub async fn fetch(
        &self,
        auth: &Auth,
        request: impl Fn(&reqwest::Client) -> RequestBuilder,
        shown: &str,
        status: &StatusHandle,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        let mut delays = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(MIN_BACKOFF)
            .with_max_delay(MAX_BACKOFF)
            .with_max_times(self.retries as usize)
            .build();
        loop {
            let failure = match self.authorized(auth, &request, shown).await {
                Ok(fetched) => return Ok(fetched),
                Err(e) => e,
            };
            let Some(asked) = failure.retry() else {
                return Err(failure);
            };
            let Some(backoff) = delays.next() else {
                return Err(failure);
            };
            let delay = asked.map_or(backoff, |d| d.min(MAX_RETRY_AFTER));
            status.backing_off(&failure.to_string(), delay);
            tracing::warn!(connector = %self.connector, error = %failure, retry_in = ?delay, "HTTP request failed; retrying");
            tokio::select! {
                () = cancel.cancelled() => return Err(FetchError::Stopped),
                () = tokio::time::sleep(delay) => {}
            }
            status.phase(Phase::Polling);
        }
    }

    /// One attempt; a 401 with an OAuth2 token fetches a new token and tries once more.
    async fn authorized(
        &self,
        auth: &Auth,
        request: &impl Fn(&reqwest::Client) -> RequestBuilder,
        shown: &str,
    ) -> Result<Fetched, FetchError> {
        let first = auth.apply(self, request(&self.http)).await?;
        let fetched = self.send(first, shown).await?;
        if fetched.status == StatusCode::UNAUTHORIZED && auth.refreshes() {
            tracing::info!(connector = %self.connector, url = shown, "HTTP 401: fetching a new OAuth2 token");
            auth.forget().await;
            let again = auth.apply(self, request(&self.http)).await?;
            return success(self.send(again, shown).await?, shown);
        }
        success(fetched, shown)
    }
}

/// `Ok` for a 2xx response, else the status (with its `Retry-After`) as an error.
pub fn success(fetched: Fetched, shown: &str) -> Result<Fetched, FetchError> {
    if fetched.status.is_success() {
        return Ok(fetched);
    }
    let retry_after = fetched
        .headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, SystemTime::now()));
    Err(FetchError::Status {
        url: shown.to_string(),
        status: fetched.status,
        retry_after,
    })
}

/// A `Retry-After` value (delay seconds, or an HTTP-date) as a wait from `now`; a date in the
/// past is no wait.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn only_transport_errors_5xx_and_429_are_retried() {
        let status = |status, retry_after| FetchError::Status {
            url: "h/o".into(),
            status,
            retry_after,
        };
        let wait = Some(Duration::from_secs(1));
        assert_eq!(
            status(StatusCode::SERVICE_UNAVAILABLE, wait).retry(),
            Some(wait)
        );
        assert_eq!(
            status(StatusCode::TOO_MANY_REQUESTS, None).retry(),
            Some(None)
        );
        assert_eq!(status(StatusCode::NOT_FOUND, None).retry(), None);
        assert_eq!(status(StatusCode::UNAUTHORIZED, None).retry(), None);
        let refused = FetchError::Transport {
            url: "h/o".into(),
            reason: "cannot connect".into(),
        };
        assert_eq!(refused.retry(), Some(None));
    }

    fn client(max_body: u64) -> Client {
        let limits = Limits {
            timeout: Duration::from_secs(5),
            retries: 0,
            rate_limit: None,
            max_in_flight: 1,
            max_body,
        };
        Client::new("test", &limits).unwrap()
    }

    #[tokio::test]
    async fn a_body_over_max_body_is_refused_and_a_closed_port_is_a_transport_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app =
            axum::Router::new().route("/big", axum::routing::get(|| async { "x".repeat(64) }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://{addr}/big");
        let small = client(16);
        let err = small.send(small.http.get(&url), "h/big").await.unwrap_err();
        assert!(matches!(err, FetchError::TooLarge { max: 16, .. }), "{err}");
        let large = client(64);
        let fetched = large.send(large.http.get(&url), "h/big").await.unwrap();
        assert_eq!(fetched.body.len(), 64);

        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gone = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let err = large.send(large.http.get(&gone), "h/").await.unwrap_err();
        assert!(matches!(err, FetchError::Transport { .. }), "{err}");
        assert!(err.retry().is_some());
    }
}
