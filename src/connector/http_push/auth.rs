//! Who may post to a webhook path: an HMAC-SHA256 signature of the raw body in a header (hex or
//! base64, with an optional `sha256=` prefix), a bearer token, or nobody checked at all. Every
//! comparison is constant-time (through `hmac`'s `verify_slice`), runs on the raw bytes before
//! anything parses them, and no secret, signature or token ever reaches an error message.

use crate::config::env::Secret;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderName, HeaderValue};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// What a bearer token is signed with before it is compared, so that the comparison runs on two
/// fixed-length tags in constant time.
const BEARER_LABEL: &[u8] = b"omnibus http_push bearer token";

/// How a signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureEncoding {
    #[default]
    Hex,
    Base64,
}

/// A connector's check of each request, with its secret.
#[derive(Clone)]
pub enum Auth {
    /// Anyone on the network may post (`auth = "none"`, only when written explicitly).
    None,
    /// `Authorization: Bearer <token>`; holds the tag of the expected token.
    Bearer { tag: Vec<u8> },
    /// An HMAC-SHA256 of the raw body, keyed with the secret, in `header`.
    HmacSha256 {
        key: Secret,
        header: HeaderName,
        encoding: SignatureEncoding,
    },
}

/// Why a request was refused; never holds the secret or what the sender sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials at all: 401.
    #[error("the request has no {0} header")]
    Missing(String),
    /// Credentials that do not match: 403.
    #[error("the {0} does not match the connector's secret")]
    Mismatch(&'static str),
    /// A signature that is not in the configured encoding: 403.
    #[error("the {header} header is not a {encoding} HMAC-SHA256 signature")]
    Malformed {
        header: String,
        encoding: &'static str,
    },
}

impl Auth {
    /// Bearer-token auth expecting `token`.
    pub fn bearer(token: &str) -> Self {
        Auth::Bearer {
            tag: bearer_tag(token.as_bytes()),
        }
    }

    /// The scheme's name, as written in `auth`.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Bearer { .. } => "bearer",
            Auth::HmacSha256 { .. } => "hmac_sha256",
        }
    }

    /// What a sender writes in the signature header for `body`: the HMAC-SHA256 of it keyed with
    /// the secret, in the connector's encoding (the demo's legacy systems sign with it). `None`
    /// for the other kinds of auth.
    pub fn signature(&self, body: &[u8]) -> Option<String> {
        let Auth::HmacSha256 { key, encoding, .. } = self else {
            return None;
        };
        let mut mac = HmacSha256::new_from_slice(key.expose().as_bytes()).ok()?;
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        Some(match encoding {
            SignatureEncoding::Hex => tag.iter().map(|b| format!("{b:02x}")).collect(),
            SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(tag),
        })
    }

    /// Checks a request's headers against its raw `body`.
    pub fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), AuthError> {
        match self {
            Auth::None => Ok(()),
            Auth::Bearer { tag } => check_bearer(tag, headers),
            Auth::HmacSha256 {
                key,
                header,
                encoding,
            } => {
                let value = headers
                    .get(header)
                    .ok_or_else(|| AuthError::Missing(header.to_string()))?;
                let signature = decode_signature(value, *encoding).ok_or(AuthError::Malformed {
                    header: header.to_string(),
                    encoding: match encoding {
                        SignatureEncoding::Hex => "hex",
                        SignatureEncoding::Base64 => "base64",
                    },
                })?;
                let mut mac = HmacSha256::new_from_slice(key.expose().as_bytes())
                    .map_err(|_| AuthError::Mismatch("signature"))?;
                mac.update(body);
                mac.verify_slice(&signature)
                    .map_err(|_| AuthError::Mismatch("signature"))
            }
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::HmacSha256 {
                header, encoding, ..
            } => write!(f, "hmac_sha256({header}, {encoding:?}, secret ***)"),
            other => write!(f, "{}", other.kind()),
        }
    }
}

/// The HMAC of `token` over [`BEARER_LABEL`].
fn bearer_tag(token: &[u8]) -> Vec<u8> {
    match HmacSha256::new_from_slice(token) {
        Ok(mut mac) => {
            mac.update(BEARER_LABEL);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn check_bearer(tag: &[u8], headers: &HeaderMap) -> Result<(), AuthError> {
    let missing = || AuthError::Missing("Authorization: Bearer".into());
    let value = headers.get(AUTHORIZATION).ok_or_else(missing)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(missing)?;
    let mut mac = HmacSha256::new_from_slice(token.as_bytes())
        .map_err(|_| AuthError::Mismatch("bearer token"))?;
    mac.update(BEARER_LABEL);
    mac.verify_slice(tag)
        .map_err(|_| AuthError::Mismatch("bearer token"))
}

/// The signature's bytes, without an optional `sha256=` prefix (GitHub-style senders).
fn decode_signature(value: &HeaderValue, encoding: SignatureEncoding) -> Option<Vec<u8>> {
    let text = value.to_str().ok()?.trim();
    let text = text.strip_prefix("sha256=").unwrap_or(text);
    match encoding {
        SignatureEncoding::Hex => hex(text),
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "mall-webhook-s3cret";

    fn hmac(encoding: SignatureEncoding) -> Auth {
        Auth::HmacSha256 {
            key: Secret::new(SECRET.into()),
            header: HeaderName::from_static("x-shopify-hmac-sha256"),
            encoding,
        }
    }

    fn signed(body: &[u8]) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn hmac_signatures_are_checked_in_hex_and_base64_with_an_optional_prefix() {
        let body = br#"{"id": 820982911946154508}"#;
        let tag = signed(body);
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&tag);
        let name = "X-Shopify-Hmac-Sha256";
        let auth = hmac(SignatureEncoding::Hex);
        assert_eq!(auth.check(&headers(name, &hex), body), Ok(()));
        let prefixed = format!("sha256={}", hex.to_uppercase());
        assert_eq!(auth.check(&headers(name, &prefixed), body), Ok(()));
        let base = hmac(SignatureEncoding::Base64);
        assert_eq!(base.check(&headers(name, &b64), body), Ok(()));

        let tampered = br#"{"id": 820982911946154509}"#;
        let bad = auth.check(&headers(name, &hex), tampered).unwrap_err();
        assert_eq!(bad, AuthError::Mismatch("signature"));
        let garbled = auth.check(&headers(name, "zz"), body).unwrap_err();
        assert!(matches!(garbled, AuthError::Malformed { .. }), "{garbled}");
        assert!(matches!(
            base.check(&headers(name, &hex), body),
            Err(AuthError::Malformed { .. } | AuthError::Mismatch(_))
        ));
        let missing = auth.check(&HeaderMap::new(), body).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "the request has no x-shopify-hmac-sha256 header"
        );
        assert!(!format!("{auth:?}").contains(SECRET));
    }

    #[test]
    fn a_signature_made_here_is_what_the_check_takes() {
        let body = br#"{"id": 820982911946154508}"#;
        let name = "X-Shopify-Hmac-Sha256";
        for encoding in [SignatureEncoding::Hex, SignatureEncoding::Base64] {
            let auth = hmac(encoding);
            let signature = auth.signature(body).unwrap_or_default();
            assert_eq!(auth.check(&headers(name, &signature), body), Ok(()));
        }
        let hex = hmac(SignatureEncoding::Hex).signature(body);
        let expected: String = signed(body).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, Some(expected));
        assert_eq!(Auth::None.signature(body), None);
        assert_eq!(Auth::bearer("t").signature(body), None);
    }

    #[test]
    fn bearer_tokens_must_match() {
        let auth = Auth::bearer("t0ken");
        assert_eq!(
            auth.check(&headers("authorization", "Bearer t0ken"), b""),
            Ok(())
        );
        assert_eq!(
            auth.check(&headers("authorization", "Bearer t0ke"), b""),
            Err(AuthError::Mismatch("bearer token"))
        );
        assert!(matches!(
            auth.check(&headers("authorization", "Basic dDA6a2Vu"), b""),
            Err(AuthError::Missing(_))
        ));
        assert!(matches!(
            auth.check(&HeaderMap::new(), b""),
            Err(AuthError::Missing(_))
        ));
        assert_eq!(Auth::None.check(&HeaderMap::new(), b"x"), Ok(()));
        assert!(!format!("{auth:?}").contains("t0ken"));
    }
}
