//! sidecar-exporter: one small Prometheus exporter that runs beside an application and turns its
//! status endpoints, process stats and probes into metrics.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod client;
pub mod collector;
pub mod commands;
pub mod config;
pub mod discover;
pub mod encode;
pub mod explain;
pub mod formats;
pub mod kinds;
pub mod mapping;
pub mod model;
pub mod relabel;
pub mod scrape;
pub mod server;
