//! The systems that publish on MQTT: each sample is published at QoS 1 on the connector's first
//! topic filter, its wildcards replaced by a realistic value from the manifest (a store code), and
//! the broker's acknowledgement of each is awaited.

use crate::connector::mqtt::MqttSourceSpec;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use std::path::Path;
use std::time::Duration;

/// Longest wait for the broker to answer.
const WAIT: Duration = Duration::from_secs(10);

/// The topic a message is published on: `filter` with each `+` or `#` level replaced by `value`.
pub fn topic(filter: &str, value: Option<&str>) -> Result<String, String> {
    let levels: Result<Vec<&str>, String> = filter
        .split('/')
        .map(|level| match level {
            "+" | "#" => value.ok_or_else(|| {
                format!(
                    "the topic filter {filter} has wildcards: give `topic = \"…\"` (what they stand \
                     for, e.g. a store code) for this family in the demo manifest"
                )
            }),
            level => Ok(level),
        })
        .collect();
    Ok(levels?.join("/"))
}

/// Publishes each sample on `topic`, QoS 1, waiting for the broker to acknowledge them all.
pub async fn publish(spec: &MqttSourceSpec, topic: &str, samples: &[&Path]) -> Result<(), String> {
    let mut options = MqttOptions::new(
        format!("omnibus-demo-{}", uuid::Uuid::now_v7().simple()),
        spec.host.clone(),
        spec.port,
    );
    options
        .set_keep_alive(Duration::from_secs(5))
        .set_clean_session(true);
    if let Some(login) = &spec.login {
        options.set_credentials(login.user.clone(), login.password.expose());
    }
    let (client, mut events) = AsyncClient::new(options, samples.len() + 2);
    for sample in samples {
        let payload = std::fs::read(sample).map_err(|e| format!("{}: {e}", sample.display()))?;
        client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut acked = 0;
    while acked < samples.len() {
        let event = tokio::time::timeout(WAIT, events.poll())
            .await
            .map_err(|_| {
                format!(
                    "{}:{} did not acknowledge within {WAIT:?}",
                    spec.host, spec.port
                )
            })?
            .map_err(|e| format!("publishing to {}:{}: {e}", spec.host, spec.port))?;
        if matches!(event, Event::Incoming(Packet::PubAck(_))) {
            acked += 1;
        }
    }
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(WAIT, async {
        while let Ok(event) = events.poll().await {
            if event == Event::Outgoing(Outgoing::Disconnect) {
                break;
            }
        }
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_become_the_value_and_are_required() {
        assert_eq!(
            topic("lbs/checkins/+", Some("SH-001")).unwrap(),
            "lbs/checkins/SH-001"
        );
        assert_eq!(topic("t/#", Some("x")).unwrap(), "t/x");
        assert_eq!(topic("plain/topic", None).unwrap(), "plain/topic");
        assert!(topic("a/+", None).unwrap_err().contains("demo manifest"));
    }
}
