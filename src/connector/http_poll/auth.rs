//! Authorising a poll's requests: basic, bearer, an API-key header, or an OAuth2 client-credentials
//! token — fetched from `token_url` (client id and secret as HTTP Basic, RFC 6749 §2.3.1), cached
//! until `expires_in` minus a margin, and fetched again after a 401.

use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use reqwest::header::HeaderValue;
use tokio::sync::Mutex;

use super::client::{Client, FetchError, success};
use super::spec::{AuthSpec, OAuth2Spec};
use crate::config::env::Secret;

/// The longest margin before `expires_in` at which a cached token is renewed.
const MARGIN: Duration = Duration::from_secs(30);

/// A connector's credentials and its cached OAuth2 token.
pub struct Auth {
    spec: AuthSpec,
    token: Mutex<Option<Token>>,
}

struct Token {
    value: Secret,
    /// When it is renewed; `None` keeps it until a 401.
    until: Option<Instant>,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl Auth {
    pub fn new(spec: AuthSpec) -> Self {
        Self {
            spec,
            token: Mutex::new(None),
        }
    }

    /// Whether a 401 is worth a new token and one more try.
    pub fn refreshes(&self) -> bool {
        matches!(self.spec, AuthSpec::OAuth2(_))
    }

    /// Drops the cached token.
    pub async fn forget(&self) {
        *self.token.lock().await = None;
    }

    /// Adds the credentials to `request`, fetching an OAuth2 token first when none is cached.
    pub async fn apply(
        &self,
        client: &Client,
        request: RequestBuilder,
    ) -> Result<RequestBuilder, FetchError> {
        Ok(match &self.spec {
            AuthSpec::None => request,
            AuthSpec::Basic { username, password } => {
                request.basic_auth(username.expose(), Some(password.expose()))
            }
            AuthSpec::Bearer { token } => request.bearer_auth(token.expose()),
            AuthSpec::ApiKey { header, key } => match HeaderValue::from_str(key.expose()) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    request.header(header, value)
                }
                Err(_) => request,
            },
            AuthSpec::OAuth2(oauth) => request.bearer_auth(self.token(client, oauth).await?),
        })
    }

    /// The cached token, or a new one.
    async fn token(&self, client: &Client, oauth: &OAuth2Spec) -> Result<String, FetchError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && token.until.is_none_or(|t| Instant::now() < t)
        {
            return Ok(token.value.expose().to_string());
        }
        let token = fetch_token(client, oauth).await?;
        let value = token.value.expose().to_string();
        *cached = Some(token);
        Ok(value)
    }
}

/// `POST token_url` with `grant_type=client_credentials` (and `scope`).
async fn fetch_token(client: &Client, oauth: &OAuth2Spec) -> Result<Token, FetchError> {
    let shown = shown(&oauth.token_url);
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &oauth.scope {
        form.push(("scope", scope));
    }
    let request = client
        .http
        .post(&oauth.token_url)
        .basic_auth(oauth.client_id.expose(), Some(oauth.client_secret.expose()))
        .form(&form);
    let fetched = success(client.send(request, &shown).await?, &shown)?;
    let parsed: TokenResponse =
        serde_json::from_slice(&fetched.body).map_err(|e| FetchError::Token {
            url: shown.clone(),
            reason: format!("the token response is not JSON with access_token ({e})"),
        })?;
    tracing::debug!(url = %shown, expires_in = ?parsed.expires_in, "OAuth2 token fetched");
    let until = parsed.expires_in.map(|secs| {
        let life = Duration::from_secs(secs);
        Instant::now() + life - MARGIN.min(life / 2)
    });
    Ok(Token {
        value: Secret::new(parsed.access_token),
        until,
    })
}

/// The token URL without user, password and query, for messages.
fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "token_url".to_string(),
    }
}
