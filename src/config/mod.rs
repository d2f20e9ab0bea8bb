//! Configuration: the hub file, connector and mapping files, and the diagnostics that point ops at
//! the exact line to fix.

pub mod connector;
pub mod connector_file;
pub mod diagnostic;
pub mod env;
pub mod hub;
pub mod instances;
pub mod load;
pub mod toml_de;

pub use diagnostic::{Diagnostic, Diagnostics};
