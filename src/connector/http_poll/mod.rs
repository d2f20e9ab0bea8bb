//! The HTTP poll connector (`[source] type = "http_poll"`): on a schedule (an interval or a cron
//! expression), fetches a legacy REST API page by page — one page at a time, each body ingested
//! whole with the connector's `[format]` ([`crate::connector::ingest`]) before the next is asked
//! for — and keeps an incremental watermark (the largest value of a record field, or the last
//! cursor) that is sent on the next poll and saved only once the events it covers are settled.
//!
//! A failed poll (retries used up, a 4xx, an unsettled page) is logged and reported, the
//! watermark stays where it was, and the next scheduled poll starts over from it; the dedupe
//! window drops the events of pages read twice.

mod auth;
mod client;
mod page;
mod schedule;
mod spec;
mod watermark;

pub use spec::{AuthSpec, HttpPollSpec, OAuth2Spec, Pagination, WatermarkSpec, parse_spec};
pub use watermark::compare as compare_watermarks;

use std::sync::Arc;

use chrono::Utc;
use reqwest::{RequestBuilder, Url};
use tokio_util::sync::CancellationToken;

use self::auth::Auth;
use self::client::{Client, FetchError, Fetched, Limits};
use self::page::{PageView, Pager, Target};
use crate::connector::ingest::{Ingest, IngestError, Pipeline};
use crate::connector::meta::Meta;
use crate::connector::status::Phase;
use crate::connector::tally::Tally;
use crate::state::StoreError;

/// A running HTTP poll connector.
pub struct HttpPollSource {
    pub pipeline: Pipeline,
    pub source: HttpPollSpec,
}

/// Why a poll stopped before its last page.
#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{page}: {source}")]
    Ingest { page: String, source: IngestError },
    #[error("state store: {0}; the watermark is not saved")]
    Store(#[from] StoreError),
}

/// What one poll took.
#[derive(Debug, Default)]
struct Polled {
    pages: u64,
    records: u64,
    published: u64,
}

/// One page, fetched and ingested.
struct Taken {
    fetched: Fetched,
    tally: Tally,
    /// The page's URL as logs show it.
    shown: String,
    /// The page's largest field-watermark value.
    seen: Option<String>,
}

/// The pieces one poll uses.
struct Poll<'a> {
    job: Ingest<'a>,
    client: Client,
    auth: Auth,
    cancel: &'a CancellationToken,
}

impl HttpPollSource {
    /// Polls on schedule until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), String> {
        let spec = &self.source;
        let limits = Limits {
            timeout: spec.timeout,
            retries: spec.retries,
            rate_limit: spec.rate_limit,
            max_in_flight: spec.max_in_flight,
            max_body: spec.max_body,
        };
        let client = Client::new(&self.pipeline.spec.id, &limits)
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let poll = Poll {
            job: self.pipeline.ingest(&cancel),
            client,
            auth: Auth::new(spec.auth.clone()),
            cancel: &cancel,
        };
        let status = &self.pipeline.status;
        let mut wait = spec.schedule.first(Utc::now());
        while let Some(delay) = wait {
            status.phase(Phase::Idle);
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(delay) => {}
                () = self.pipeline.wake.notified() => {}
            }
            status.phase(Phase::Polling);
            let outcome = self.poll(&poll).await;
            if cancel.is_cancelled() {
                break;
            }
            self.report(outcome);
            wait = spec.schedule.next(Utc::now());
        }
        if wait.is_none() {
            tracing::warn!(connector = %self.pipeline.spec.id, "the cron expression has no later time; polling stops");
        }
        status.phase(Phase::Stopped);
        Ok(())
    }

    fn report(&self, outcome: Result<Polled, PollError>) {
        let (id, status) = (&self.pipeline.spec.id, &self.pipeline.status);
        match outcome {
            Ok(polled) if polled.records == 0 => {
                status.success();
                tracing::debug!(connector = %id, pages = polled.pages, "poll done: nothing new");
            }
            Ok(polled) => {
                status.success();
                tracing::info!(connector = %id, pages = polled.pages, records = polled.records, published = polled.published, "poll done");
            }
            Err(e) => {
                status.error(&e.to_string());
                tracing::warn!(connector = %id, error = %e, "poll failed; the watermark stays, the next poll starts over from it");
            }
        }
    }

    /// One poll: every page from the watermark on, then the watermark saved.
    async fn poll(&self, poll: &Poll<'_>) -> Result<Polled, PollError> {
        let (spec, id) = (&self.source, &self.pipeline.spec.id);
        let store = &self.pipeline.store;
        let mark = match &spec.watermark {
            Some(w) => watermark::load(store, id, w).await?,
            None => None,
        };
        let activity = self.pipeline.status.activity();
        if let Some(mark) = &mark {
            activity.set_position(mark.clone());
        }
        let mut pager = Pager::new(&spec.pagination, self.base(mark.as_deref())?, {
            let by_cursor = matches!(spec.watermark, Some(WatermarkSpec::Cursor { .. }));
            mark.clone().filter(|_| by_cursor)
        });
        let mut largest = mark.clone();
        let mut polled = Polled::default();
        loop {
            let Taken {
                fetched,
                tally,
                shown,
                seen,
            } = self.take(poll, &pager).await?;
            largest = watermark::later(largest, seen);
            polled.pages += 1;
            polled.records += tally.rows();
            polled.published += tally.published;
            let more = pager.advance(&PageView {
                url: &fetched.url,
                headers: &fetched.headers,
                body: &fetched.body,
                records: if tally.refused.is_some() {
                    0
                } else {
                    tally.rows()
                },
            });
            if pager.repeated() {
                tracing::warn!(connector = %id, page = %shown, "the page is the same as the one before: does the API take the pagination parameters configured? The poll stops here");
            }
            if let (Some(w @ WatermarkSpec::Cursor { .. }), Some(cursor)) =
                (&spec.watermark, pager.cursor())
                && more
            {
                watermark::save(store, id, w, cursor.to_string()).await?;
                activity.set_position(cursor.to_string());
            }
            if !more {
                break;
            }
        }
        if let (Some(w @ WatermarkSpec::Field { .. }), Some(value)) = (&spec.watermark, largest)
            && Some(&value) != mark.as_ref()
        {
            tracing::debug!(connector = %id, watermark = %value, "watermark saved");
            watermark::save(store, id, w, value.clone()).await?;
            activity.set_position(value);
        }
        Ok(polled)
    }

    /// Fetches the pager's page and ingests it; with a field watermark, finds the page's
    /// largest value too.
    async fn take(&self, poll: &Poll<'_>, pager: &Pager<'_>) -> Result<Taken, PollError> {
        let (target, number) = (pager.target(), pager.number());
        let shown = target.display();
        let status = &self.pipeline.status;
        let request = |http: &reqwest::Client| self.request(http, &target);
        let fetched = (poll.client)
            .fetch(&poll.auth, request, &shown, status, poll.cancel)
            .await?;
        let name: Arc<str> = target.name().into();
        let meta = Meta::default()
            .with("url", shown.as_str())
            .with("status", fetched.status.as_str())
            .with("page", number.to_string());
        let body = fetched.body.clone();
        let tally = poll
            .job
            .message(Arc::clone(&name), body.clone(), meta)
            .await
            .map_err(|source| PollError::Ingest {
                page: shown.clone(),
                source,
            })?;
        if tally.failed > 0 {
            tracing::warn!(connector = %self.pipeline.spec.id, page = %shown, failed = tally.failed, "records of the page were dead-lettered");
        }
        let seen = match (&self.source.watermark, &self.pipeline.spec.format) {
            (Some(WatermarkSpec::Field { field, .. }), Some(format)) => {
                let connector = self.pipeline.emitter.connector();
                watermark::largest(format, body, field, connector, &name).await
            }
            _ => None,
        };
        Ok(Taken {
            fetched,
            tally,
            shown,
            seen,
        })
    }

    /// The first page's target: the URL, the `query` table and the field watermark.
    fn base(&self, mark: Option<&str>) -> Result<Target, PollError> {
        let spec = &self.source;
        let url = Url::parse(spec.url.expose()).map_err(|e| FetchError::Build {
            url: spec.url.to_string(),
            reason: e.to_string(),
        })?;
        let mut params = spec.query.clone();
        if let (Some(WatermarkSpec::Field { param, .. }), Some(mark)) = (&spec.watermark, mark) {
            params.push((param.clone(), mark.to_string()));
        }
        Ok(Target { url, params })
    }

    /// The request for `target`, with the configured headers (credentials come from [`Auth`]).
    fn request(&self, http: &reqwest::Client, target: &Target) -> RequestBuilder {
        let spec = &self.source;
        let mut request = http
            .request(spec.method.clone(), target.url.clone())
            .query(&target.params);
        for (name, value) in &spec.headers {
            request = request.header(name, value.expose());
        }
        request
    }
}
