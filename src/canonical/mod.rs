//! Canonical events: the CloudEvents 1.0 envelope, deterministic ids, and the AMQP wire form.

pub mod event;
pub mod id;
pub mod schema;
pub mod wire;

pub use event::Event;
