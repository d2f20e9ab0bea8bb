//! Connectors: sources that talk to one legacy system each, hand its records to the mapping and the
//! publisher, and commit their position only when every derived event is settled.

pub mod amqp;
pub mod emit;
pub mod file_drop;
pub mod freshness;
pub mod http_poll;
pub mod http_push;
pub mod ingest;
pub mod meta;
pub mod mqtt;
pub mod sql;
pub mod status;
pub mod tally;
pub mod tap;
