//! Routing and publishing: which exchange and routing key an event takes, the topology the hub
//! declares, and the publisher that owns the broker connection and its confirms.

pub mod publisher;
pub mod router;
pub mod tail;
pub mod topology;

pub use publisher::{Outgoing, Publisher, Target};
