//! Configuration: the YAML model, loading, `${VAR}` expansion, includes and validation.

pub mod duration;
pub mod model;

pub use duration::ConfigDuration;
pub use model::*;
