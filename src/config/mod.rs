//! Configuration: the YAML model, loading, `${VAR}` expansion, includes and validation.

pub mod duration;
pub mod expand;
pub mod keys;
pub mod load;
pub mod locate;
pub mod model;
pub mod presets;

pub use duration::ConfigDuration;
pub use keys::{KeyError, KindKeys};
pub use load::{load, load_bytes, with_collectors_of, ConfigError, LoadedCollector, LoadedConfig};
pub use model::*;
