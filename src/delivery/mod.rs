//! Delivery: the acknowledgement that carries "every event of this input is settled" back to the
//! source, and the dead letters that settle a bad record.

pub mod ack;
pub mod dead_letter;
pub mod outbox;
pub mod replay;

pub use ack::{AckToken, Batch, BatchOutcome};
