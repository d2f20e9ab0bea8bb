//! The router: the routing key of an event on the canonical exchange. By default the event type;
//! a connector's `routing_key` template (minijinja, over `type`, `subject`, `source`, `connector`,
//! `system`) can say otherwise.

use crate::canonical::Event;
use lapin::types::ShortString;
use minijinja::{Environment, UndefinedBehavior};

/// A compiled routing rule.
#[derive(Debug)]
pub struct Router {
    template: Option<Environment<'static>>,
    connector: String,
    system: String,
}

const NAME: &str = "routing_key";

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("routing_key template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("routing key \"{0}\" is longer than AMQP's 255-byte limit")]
    TooLong(String),
}

impl Router {
    /// `template` is the connector's `routing_key`; `None` (or `{{ type }}`) routes by event type.
    pub fn new(template: Option<&str>, connector: &str, system: &str) -> Result<Self, RouteError> {
        let template = match template {
            Some(t) if !is_type_only(t) => {
                let mut env = Environment::new();
                env.set_undefined_behavior(UndefinedBehavior::Strict);
                env.set_fuel(Some(10_000));
                env.add_template_owned(NAME, t.to_string())?;
                Some(env)
            }
            _ => None,
        };
        Ok(Self {
            template,
            connector: connector.to_string(),
            system: system.to_string(),
        })
    }

    /// The routing key of `event`.
    pub fn route(&self, event: &Event) -> Result<ShortString, RouteError> {
        let key = match &self.template {
            None => event.event_type.to_string(),
            Some(env) => env.get_template(NAME)?.render(minijinja::context! {
                type => event.event_type.as_ref(),
                subject => event.subject.as_deref(),
                source => event.source.as_ref(),
                connector => self.connector.as_str(),
                system => self.system.as_str(),
            })?,
        };
        ShortString::try_new(key.clone()).map_err(|_| RouteError::TooLong(key))
    }
}

fn is_type_only(template: &str) -> bool {
    let t: String = template.chars().filter(|c| !c.is_whitespace()).collect();
    t == "{{type}}"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::event::tests::sample;

    #[test]
    fn default_and_type_template_route_by_event_type() {
        let event = sample();
        for t in [None, Some("{{ type }}")] {
            let r = Router::new(t, "erp-inventory", "erp").unwrap();
            assert!(r.template.is_none());
            assert_eq!(
                r.route(&event).unwrap().as_str(),
                "retail.inventory.level.v1"
            );
        }
    }

    #[test]
    fn template_sees_system_and_subject() {
        let r = Router::new(
            Some("{{ system }}.{{ type }}.{{ subject|replace('/', '.') }}"),
            "c",
            "erp",
        )
        .unwrap();
        assert_eq!(
            r.route(&sample()).unwrap().as_str(),
            "erp.retail.inventory.level.v1.SH-001.12345"
        );
    }

    #[test]
    fn unknown_variable_is_an_error() {
        let r = Router::new(Some("{{ nope }}"), "c", "erp").unwrap();
        assert!(r.route(&sample()).is_err());
    }
}
