//! Routing and publishing: which exchange and routing key an event takes, the topology the hub
//! declares, and the publisher that owns the broker connection and its confirms.

pub mod publisher;
pub mod receipts;
pub mod router;
pub mod tail;
pub mod topology;

pub use publisher::{Ack, Outgoing, Publisher, Target};
