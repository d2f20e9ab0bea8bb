//! Pagination of one poll: which request comes next after a page — the next page number, the next
//! offset, the cursor the body names, the `Link: <…>; rel="next"` target — and when the poll is
//! done (an empty page for page/offset, no cursor, no next link, or the same one again).

use reqwest::Url;
use reqwest::header::{HeaderMap, LINK};

use super::spec::Pagination;

/// One request's URL and the query parameters added to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The configured URL (its own query kept for the request, never shown), or a next link
    /// without its query (moved to `params`).
    pub url: Url,
    pub params: Vec<(String, String)>,
}

impl Target {
    /// A next link: its query becomes the shown parameters.
    fn from_link(mut url: Url) -> Self {
        let params = url.query_pairs().into_owned().collect();
        url.set_query(None);
        Self { url, params }
    }

    /// `<host>[:port]<path>?<params>`: no user, no password, not the configured URL's own query
    /// (which may carry a key), so it can name the page in origins and logs.
    fn shown(&self) -> String {
        let mut out = self.url.host_str().unwrap_or_default().to_string();
        if let Some(port) = self.url.port() {
            out.push_str(&format!(":{port}"));
        }
        out.push_str(self.url.path());
        if !self.params.is_empty() {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&self.params)
                .finish();
            out.push('?');
            out.push_str(&query);
        }
        out
    }

    /// The page's name in origins and dead letters: `http:<host><path>?<params>`.
    pub fn name(&self) -> String {
        format!("http:{}", self.shown())
    }

    /// The page's URL as mappings (`_meta.url`) and logs see it.
    pub fn display(&self) -> String {
        format!("{}://{}", self.url.scheme(), self.shown())
    }

    fn with(&self, name: &str, value: impl ToString) -> Self {
        let mut next = self.clone();
        next.params.push((name.to_string(), value.to_string()));
        next
    }
}

/// What a fetched page says about the next one.
pub struct PageView<'a> {
    /// The URL the page was fetched from (after redirects).
    pub url: &'a Url,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// Records the page held.
    pub records: u64,
}

/// The walk through the pages of one poll.
pub struct Pager<'s> {
    spec: &'s Pagination,
    base: Target,
    /// Pages taken so far in this poll.
    taken: u64,
    cursor: Option<String>,
    link: Option<Target>,
    /// The BLAKE3 of the last page's body (page and offset pagination).
    last_body: Option<blake3::Hash>,
    repeated: bool,
}

impl<'s> Pager<'s> {
    /// Starts at the first page of `base`, or at `cursor` (a saved cursor watermark).
    pub fn new(spec: &'s Pagination, base: Target, cursor: Option<String>) -> Self {
        Self {
            spec,
            base,
            taken: 0,
            cursor,
            link: None,
            last_body: None,
            repeated: false,
        }
    }

    /// The page about to be fetched, counting from 1.
    pub fn number(&self) -> u64 {
        self.taken + 1
    }

    /// The cursor of the page about to be fetched (cursor pagination).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Whether the last page was byte for byte the page before it (an API that ignores the
    /// page parameter would otherwise be read forever).
    pub fn repeated(&self) -> bool {
        self.repeated
    }

    /// The request for the page about to be fetched.
    pub fn target(&self) -> Target {
        match self.spec {
            Pagination::None | Pagination::Link => {
                self.link.clone().unwrap_or_else(|| self.base.clone())
            }
            Pagination::Page { param, start, size } => {
                let page = self.base.with(param, start + self.taken);
                match size {
                    Some((size_param, size)) => page.with(size_param, size),
                    None => page,
                }
            }
            Pagination::Offset {
                offset_param,
                limit_param,
                limit,
            } => self
                .base
                .with(offset_param, limit * self.taken)
                .with(limit_param, limit),
            Pagination::Cursor { param, .. } => match &self.cursor {
                Some(cursor) => self.base.with(param, cursor),
                None => self.base.clone(),
            },
        }
    }

    /// Moves past the page just taken; `false` when it was the last one of this poll.
    pub fn advance(&mut self, page: &PageView<'_>) -> bool {
        self.taken += 1;
        match self.spec {
            Pagination::None => false,
            Pagination::Page { .. } | Pagination::Offset { .. } => {
                let hash = blake3::hash(page.body);
                self.repeated = self.last_body.replace(hash) == Some(hash);
                page.records > 0 && !self.repeated
            }
            Pagination::Cursor { next, .. } => {
                let found = next_cursor(page.body, next);
                let moved = found.is_some() && found != self.cursor;
                if moved {
                    self.cursor = found;
                }
                moved
            }
            Pagination::Link => {
                let next = next_link(page.headers, page.url).map(Target::from_link);
                let moved = next.is_some() && next.as_ref() != Some(&self.target());
                if moved {
                    self.link = next;
                }
                moved
            }
        }
    }
}

/// The non-empty string (or number) at JSON Pointer `pointer` in a JSON body.
fn next_cursor(body: &[u8], pointer: &str) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    match doc.pointer(pointer)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `rel="next"` target of the `Link` headers (RFC 8288), resolved against `base`.
pub fn next_link(headers: &HeaderMap, base: &Url) -> Option<Url> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_links)
        .find_map(|(target, params)| is_next(params).then(|| base.join(target).ok())?)
}

/// Splits a `Link` value into its `<target>` and parameter text, link by link.
fn split_links(value: &str) -> Vec<(&str, &str)> {
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|c| open + c) else {
            break;
        };
        let target = &rest[open + 1..close];
        let after = &rest[close + 1..];
        let end = after.find('<').unwrap_or(after.len());
        links.push((target, &after[..end]));
        rest = &after[end..];
    }
    links
}

/// Whether a link's parameters say `rel="next"` (`rel` may list several types).
fn is_next(params: &str) -> bool {
    params.split(';').any(|param| {
        let Some((name, value)) = param.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_end_matches(',')
                .trim_matches('"')
                .split_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case("next"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn link_next_is_found_among_others_and_resolved() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            HeaderValue::from_static(
                "<https://api/o?page=1>; rel=\"first\", </orders?page=3&per=2>; rel=\"next last\"",
            ),
        );
        let base = url("http://127.0.0.1:9/orders?page=2");
        assert_eq!(
            next_link(&headers, &base),
            Some(url("http://127.0.0.1:9/orders?page=3&per=2"))
        );
        let mut only_prev = HeaderMap::new();
        only_prev.insert(LINK, HeaderValue::from_static("<http://h/a>; rel=prev"));
        assert_eq!(next_link(&only_prev, &base), None);
        let mut bare = HeaderMap::new();
        bare.insert(LINK, HeaderValue::from_static("<http://h/b>; rel=next"));
        assert_eq!(next_link(&bare, &base), Some(url("http://h/b")));
    }

    fn view<'a>(u: &'a Url, h: &'a HeaderMap, body: &'a [u8], records: u64) -> PageView<'a> {
        PageView {
            url: u,
            headers: h,
            body,
            records,
        }
    }

    #[test]
    fn pages_count_up_until_an_empty_one() {
        let spec = Pagination::Page {
            param: "page".into(),
            start: 1,
            size: Some(("size".into(), 2)),
        };
        let base = Target {
            url: url("http://u:p@h:81/o?key=secret"),
            params: vec![("since".into(), "5".into())],
        };
        let mut pager = Pager::new(&spec, base, None);
        assert_eq!(pager.target().name(), "http:h:81/o?since=5&page=1&size=2");
        let (u, h) = (url("http://h/o"), HeaderMap::new());
        assert!(pager.advance(&view(&u, &h, b"[1,2]", 2)));
        assert_eq!(
            pager.target().display(),
            "http://h:81/o?since=5&page=2&size=2"
        );
        assert!(!pager.advance(&view(&u, &h, b"[]", 0)));
        assert!(!pager.repeated());
    }

    #[test]
    fn a_page_that_repeats_the_one_before_ends_the_poll() {
        let spec = Pagination::Offset {
            offset_param: "offset".into(),
            limit_param: "limit".into(),
            limit: 2,
        };
        let base = Target {
            url: url("http://h/o"),
            params: Vec::new(),
        };
        let mut pager = Pager::new(&spec, base, None);
        assert_eq!(pager.target().name(), "http:h/o?offset=0&limit=2");
        let (u, h) = (url("http://h/o"), HeaderMap::new());
        assert!(pager.advance(&view(&u, &h, b"[1,2]", 2)));
        assert_eq!(pager.target().name(), "http:h/o?offset=2&limit=2");
        assert!(!pager.advance(&view(&u, &h, b"[1,2]", 2)));
        assert!(pager.repeated());
    }

    #[test]
    fn cursors_come_from_the_body_until_absent_or_repeated() {
        let spec = Pagination::Cursor {
            param: "after".into(),
            next: "/paging/next".into(),
        };
        let base = Target {
            url: url("http://h/o"),
            params: Vec::new(),
        };
        let mut pager = Pager::new(&spec, base, Some("c0".into()));
        assert_eq!(pager.target().name(), "http:h/o?after=c0");
        let (u, h) = (url("http://h/o"), HeaderMap::new());
        assert!(pager.advance(&view(&u, &h, br#"{"paging":{"next":"c1"}}"#, 1)));
        assert_eq!(pager.cursor(), Some("c1"));
        assert!(!pager.advance(&view(&u, &h, br#"{"paging":{"next":"c1"}}"#, 1)));
        assert!(!pager.advance(&view(&u, &h, br#"{"paging":{"next":""}}"#, 1)));
        assert_eq!(pager.number(), 4);
    }
}
