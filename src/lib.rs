//! Omnibus: an integration hub that turns the records of legacy systems into canonical CloudEvents on
//! RabbitMQ, acknowledging a source only after every event derived from it is confirmed.
//!
//! The path of a record: [`connector`] (source) → [`format`] (decoder) → [`mapping`] → [`canonical`]
//! (event and wire form) → [`route`] (publisher) → RabbitMQ, with [`delivery`] carrying the
//! acknowledgement back to the source. [`config`] loads the ops-facing files; [`hub`] supervises it all.

pub mod admin;
pub mod backoff;
pub mod canonical;
pub mod check;
pub mod config;
pub mod connector;
pub mod delivery;
pub mod demo;
pub mod format;
pub mod hub;
pub mod inspect;
pub mod mapping;
pub mod mapping_test;
pub mod ops;
pub mod preview;
pub mod route;
pub mod scaffold;
pub mod state;
pub mod telemetry;
