//! `[source] type = "mqtt"`: its keys (`url`, `topics`, `client_id`, `qos`, `keep_alive`,
//! `max_in_flight`, `max_message_size`), their defaults and checks: the broker URL and its
//! credentials, and topic filters whose `+` and `#` stand where MQTT allows them.

use rumqttc::QoS;
use serde::Deserialize;
use std::time::Duration;
use toml::Spanned;
use toml::de::DeValue;

use crate::config::Diagnostics;
use crate::config::connector_file::duration;
use crate::config::diagnostic::keep;
use crate::config::env::{Secret, expand};
use crate::config::toml_de::Source;

/// The broker's port when the URL names none.
const DEFAULT_PORT: u16 = 1883;
/// Messages ingested (and left unacknowledged) at once, by default.
const DEFAULT_MAX_IN_FLIGHT: u16 = 32;
/// How often the client pings an idle broker, by default.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(30);
/// The largest packet taken, by default (1 MiB).
const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 20;
/// The largest packet MQTT 3.1.1 can carry (256 MiB).
const MQTT_MAX_PACKET: i64 = 268_435_455;
/// The longest keep-alive MQTT can express (a 16-bit count of seconds).
const MAX_KEEP_ALIVE: Duration = Duration::from_secs(65_535);

/// `[source]` for an MQTT subscription, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttSourceSpec {
    /// The broker URL as written, `${NAME}`s expanded (for logs: its `Display` hides the
    /// password).
    pub url: Secret,
    pub host: String,
    pub port: u16,
    /// User and password from the URL's userinfo.
    pub login: Option<Login>,
    /// Topic filters subscribed to, wildcards checked.
    pub topics: Vec<String>,
    /// The client id, which names the broker's persistent session; `None` means
    /// `omnibus-<connector id>`.
    pub client_id: Option<String>,
    /// QoS of every subscription: at most once (0) or at least once (1).
    pub qos: QoS,
    pub keep_alive: Duration,
    /// Messages ingested at once; each stays unacknowledged until its events are settled.
    pub max_in_flight: u16,
    /// The largest MQTT packet (topic and payload) accepted.
    pub max_message_size: usize,
}

/// MQTT credentials; the password never prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    pub password: Secret,
}

/// `[source] type = "mqtt"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MqttSourceFile {
    url: Spanned<String>,
    topics: Spanned<Vec<Spanned<String>>>,
    client_id: Option<Spanned<String>>,
    qos: Option<Spanned<i64>>,
    keep_alive: Option<Spanned<String>>,
    max_in_flight: Option<Spanned<i64>>,
    max_message_size: Option<Spanned<i64>>,
}

/// The parts of a broker URL.
struct Broker {
    host: String,
    port: u16,
    login: Option<Login>,
}

/// Reads and checks the `[source]` keys after `type`.
pub fn parse_spec(
    src: &Source<'_>,
    rest: Spanned<DeValue<'_>>,
) -> Result<MqttSourceSpec, Diagnostics> {
    let file: MqttSourceFile = src.deserialize(rest, "source")?;
    let mut found = Diagnostics::default();
    let url_at = file.url.span().start;
    let url = expand(file.url.get_ref()).map_err(|m| src.diagnostic(url_at, m));
    let url = keep(&mut found, url);
    let broker = url.as_deref().and_then(|url| {
        let broker = broker(url).map_err(|m| src.diagnostic(url_at, m));
        keep(&mut found, broker)
    });
    let topics = keep(&mut found, topics(src, &file.topics));
    let client_id = file.client_id.as_ref().and_then(|id| {
        let checked = client_id(id.get_ref()).map_err(|m| src.diagnostic(id.span().start, m));
        keep(&mut found, checked)
    });
    let qos = keep(&mut found, qos(src, file.qos.as_ref()));
    let keep_alive = keep(&mut found, keep_alive(src, file.keep_alive.as_ref()));
    let max_in_flight = keep(&mut found, max_in_flight(src, file.max_in_flight.as_ref()));
    let max_message_size = keep(
        &mut found,
        max_message_size(src, file.max_message_size.as_ref()),
    );
    match (
        url,
        broker,
        topics,
        qos,
        keep_alive,
        max_in_flight,
        max_message_size,
    ) {
        (
            Some(url),
            Some(broker),
            Some(topics),
            Some(qos),
            Some(keep_alive),
            Some(max_in_flight),
            Some(max_message_size),
        ) if found.is_empty() => Ok(MqttSourceSpec {
            url: Secret::new(url),
            host: broker.host,
            port: broker.port,
            login: broker.login,
            topics,
            client_id,
            qos,
            keep_alive,
            max_in_flight,
            max_message_size,
        }),
        _ => Err(found),
    }
}

/// Splits `mqtt://[user[:password]@]host[:port]` into its parts (with the `url` crate).
fn broker(url: &str) -> Result<Broker, String> {
    const FORM: &str = "write mqtt://[user:password@]host:port";
    if url.starts_with("mqtts://") || url.starts_with("ssl://") {
        return Err(format!(
            "url: TLS (mqtts://) is not supported; use plain MQTT on a trusted network: {FORM}"
        ));
    }
    let parsed = match url::Url::parse(url) {
        Ok(parsed) if parsed.scheme() == "mqtt" => parsed,
        _ => return Err(format!("url must be an MQTT URL: {FORM}")),
    };
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() || parsed.fragment().is_some()
    {
        return Err(format!("url must not have a path or query: {FORM}"));
    }
    let host = match parsed.host() {
        Some(url::Host::Ipv6(v6)) => v6.to_string(),
        Some(host) => host.to_string(),
        None => return Err(format!("url has no valid host: {FORM}")),
    };
    let port = match parsed.port() {
        Some(0) => return Err(format!("url has no valid port: {FORM}")),
        port => port.unwrap_or(DEFAULT_PORT),
    };
    let login = login(&parsed)?;
    Ok(Broker { host, port, login })
}

/// The URL's user and password, percent-decoded; `None` without a user.
fn login(url: &url::Url) -> Result<Option<Login>, String> {
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| "url: the user or password is not UTF-8 once %-decoded".to_string())
    };
    let user = decode(url.username())?;
    let password = url.password().map(decode).transpose()?;
    match (user.is_empty(), password) {
        (true, None) => Ok(None),
        (true, Some(_)) => {
            Err("url names a password but no user: write mqtt://user:password@host".into())
        }
        (false, password) => Ok(Some(Login {
            user,
            password: Secret::new(password.unwrap_or_default()),
        })),
    }
}

/// The topic filters: at least one, each valid.
fn topics(
    src: &Source<'_>,
    topics: &Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<String>, Diagnostics> {
    if topics.get_ref().is_empty() {
        let message = "topics must name at least one topic filter, e.g. [\"lbs/+/checkin\"]";
        return Err(src.diagnostic(topics.span().start, message).into());
    }
    let mut found = Diagnostics::default();
    for topic in topics.get_ref() {
        if let Err(message) = filter(topic.get_ref()) {
            found.push(src.diagnostic(topic.span().start, message));
        }
    }
    if !found.is_empty() {
        return Err(found);
    }
    Ok(topics
        .get_ref()
        .iter()
        .map(|t| t.get_ref().clone())
        .collect())
}

/// Checks one topic filter: `+` stands alone in a level, `#` alone in the last level.
pub(crate) fn filter(filter: &str) -> Result<(), String> {
    if filter.is_empty() {
        return Err("a topic filter must not be empty".into());
    }
    if filter.len() > usize::from(u16::MAX) || filter.contains('\0') {
        return Err(format!(
            "topic filter \"{filter}\" is too long or has a NUL character"
        ));
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        let last = i + 1 == levels.len();
        if level.contains('#') && (*level != "#" || !last) {
            return Err(format!(
                "topic filter \"{filter}\": \"#\" must be the whole last level, as in \"lbs/#\""
            ));
        }
        if level.contains('+') && *level != "+" {
            return Err(format!(
                "topic filter \"{filter}\": \"+\" must be a whole level, as in \"lbs/+/checkin\""
            ));
        }
    }
    Ok(())
}

/// A client id names the broker's session: it must not be empty.
fn client_id(id: &str) -> Result<String, String> {
    if id.trim().is_empty() || id.len() > usize::from(u16::MAX) {
        return Err("client_id must be a non-empty name (it names the broker's session)".into());
    }
    Ok(id.to_string())
}

fn qos(src: &Source<'_>, qos: Option<&Spanned<i64>>) -> Result<QoS, Diagnostics> {
    match qos.map(|q| (q, *q.get_ref())) {
        None | Some((_, 1)) => Ok(QoS::AtLeastOnce),
        Some((_, 0)) => Ok(QoS::AtMostOnce),
        Some((q, n)) => {
            let message = format!(
                "qos must be 0 (at most once) or 1 (at least once), got {n}; QoS 2 is not supported"
            );
            Err(src.diagnostic(q.span().start, message).into())
        }
    }
}

fn keep_alive(src: &Source<'_>, value: Option<&Spanned<String>>) -> Result<Duration, Diagnostics> {
    let Some(value) = value else {
        return Ok(DEFAULT_KEEP_ALIVE);
    };
    let (at, text) = (value.span().start, value.get_ref().clone());
    match duration(src, "keep_alive", Some(value.clone()), DEFAULT_KEEP_ALIVE)? {
        d if d >= Duration::from_secs(1) && d <= MAX_KEEP_ALIVE => Ok(d),
        _ => {
            let message = format!("keep_alive = \"{text}\" must be from 1s to 65535s");
            Err(src.diagnostic(at, message).into())
        }
    }
}

fn max_in_flight(src: &Source<'_>, value: Option<&Spanned<i64>>) -> Result<u16, Diagnostics> {
    let Some(value) = value else {
        return Ok(DEFAULT_MAX_IN_FLIGHT);
    };
    match u16::try_from(*value.get_ref()) {
        Ok(n) if n > 0 => Ok(n),
        _ => {
            let message = format!(
                "max_in_flight must be from 1 to 65535, got {}",
                value.get_ref()
            );
            Err(src.diagnostic(value.span().start, message).into())
        }
    }
}

fn max_message_size(src: &Source<'_>, value: Option<&Spanned<i64>>) -> Result<usize, Diagnostics> {
    let Some(value) = value else {
        return Ok(DEFAULT_MAX_MESSAGE_SIZE);
    };
    match usize::try_from(*value.get_ref()) {
        Ok(n) if n >= 1024 && *value.get_ref() <= MQTT_MAX_PACKET => Ok(n),
        _ => {
            let message = format!(
                "max_message_size must be from 1024 to {MQTT_MAX_PACKET} bytes, got {}",
                value.get_ref()
            );
            Err(src.diagnostic(value.span().start, message).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MqttSourceSpec;
    use crate::config::connector::SourceSpec;
    use rumqttc::QoS;
    use std::time::Duration;

    fn load(source: &str) -> Result<MqttSourceSpec, String> {
        crate::config::load::load_test_source(
            "beacons",
            "mqtt",
            source,
            "[format]\ntype = \"json\"\n",
        )
        .map(|s| match s {
            SourceSpec::Mqtt(spec) => spec,
            other => panic!("not a mqtt source: {other:?}"),
        })
    }

    #[test]
    fn defaults_fill_what_is_not_written() {
        let spec = load("url = \"mqtt://127.0.0.1\"\ntopics = [\"lbs/+/checkin\"]").unwrap();
        assert_eq!((spec.host.as_str(), spec.port), ("127.0.0.1", 1883));
        assert_eq!(spec.topics, ["lbs/+/checkin"]);
        assert_eq!(spec.client_id, None);
        assert_eq!(spec.qos, QoS::AtLeastOnce);
        assert_eq!(spec.keep_alive, Duration::from_secs(30));
        assert_eq!((spec.max_in_flight, spec.max_message_size), (32, 1 << 20));
        assert!(spec.login.is_none());
    }

    #[test]
    fn every_key_is_read_and_the_password_comes_from_the_url() {
        let spec = load(
            "url = \"mqtt://beacon:p%40ss@[::1]:8883/\"\ntopics = [\"a/#\", \"+\", \"b/+/c\"]\n\
             client_id = \"hub-1\"\nqos = 0\nkeep_alive = \"1m\"\nmax_in_flight = 4\n\
             max_message_size = 4096",
        )
        .unwrap();
        assert_eq!((spec.host.as_str(), spec.port), ("::1", 8883));
        let login = spec.login.unwrap();
        assert_eq!(
            (login.user.as_str(), login.password.expose()),
            ("beacon", "p@ss")
        );
        assert!(!format!("{login:?}").contains("p@ss"));
        assert!(!spec.url.to_string().contains("p%40ss"));
        assert_eq!(spec.client_id.as_deref(), Some("hub-1"));
        assert_eq!(spec.qos, QoS::AtMostOnce);
        assert_eq!(spec.keep_alive, Duration::from_secs(60));
        assert_eq!((spec.max_in_flight, spec.max_message_size), (4, 4096));
    }

    #[test]
    fn wildcards_stand_where_mqtt_allows_them() {
        for good in ["#", "+", "a/+/b", "a/#", "+/+", "/a", "a//b"] {
            assert!(super::filter(good).is_ok(), "{good}");
        }
        for bad in ["", "a/#/b", "a#", "a/b#", "a+/b", "a/+b", "##"] {
            assert!(super::filter(bad).is_err(), "{bad}");
        }
        let err =
            load("url = \"mqtt://h\"\ntopics = [\"ok/+\", \"lbs/store+/checkin\", \"a/#/b\"]")
                .unwrap_err();
        assert!(
            err.contains("beacons.toml:6:19")
                && err.contains("\"+\" must be a whole level")
                && err.contains("\"#\" must be the whole last level"),
            "{err}"
        );
        let err = load("url = \"mqtt://h\"\ntopics = []").unwrap_err();
        assert!(err.contains("at least one topic filter"), "{err}");
    }

    #[test]
    fn a_missing_variable_and_bad_values_are_named_at_their_keys() {
        let err = load(
            "url = \"mqtt://beacon:${OMNIBUS_TEST_UNSET_MQTT}@h\"\ntopics = [\"t\"]\nqos = 2\n\
             keep_alive = \"500ms\"\nmax_in_flight = 0\nclient_id = \"\"",
        )
        .unwrap_err();
        for expected in [
            "beacons.toml:5:7",
            "OMNIBUS_TEST_UNSET_MQTT is not set",
            "qos must be 0",
            "keep_alive = \"500ms\" must be from 1s",
            "max_in_flight must be from 1 to 65535",
            "client_id must be a non-empty name",
        ] {
            assert!(err.contains(expected), "{expected}: {err}");
        }
        for (url, expected) in [
            ("amqp://h", "must be an MQTT URL"),
            ("mqtts://h", "TLS (mqtts://) is not supported"),
            ("mqtt://h:0", "no valid port"),
            ("mqtt://", "no valid host"),
            ("mqtt://h/x", "must not have a path"),
            ("mqtt://:pw@h", "no user"),
        ] {
            let err = load(&format!("url = \"{url}\"\ntopics = [\"t\"]")).unwrap_err();
            assert!(err.contains(expected), "{url}: {err}");
        }
        let err = load("url = \"mqtt://h\"\ntopics = [\"t\"]\nclean_session = true").unwrap_err();
        assert!(err.contains("clean_session"), "{err}");
    }
}
