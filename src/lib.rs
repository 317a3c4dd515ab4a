//! sidecar-exporter: one small Prometheus exporter that runs beside an application and turns its
//! status endpoints, process stats and probes into metrics.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod collector;
pub mod commands;
pub mod config;
pub mod encode;
pub mod formats;
pub mod json_exporter;
pub mod kinds;
pub mod mapping;
pub mod model;
pub mod passthrough;
pub mod pipeline;
pub mod presets;
pub mod probe;
pub mod scrape;
pub mod server;
pub mod sources;
