//! The `process` kind: stats of the app's processes from `/proc`, process-exporter compatible.

use serde::Deserialize;

/// One entry of `groups:`. (Stub: the process collector fills this in.)
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Group name template, e.g. `{{comm}}`.
    pub name: String,
    /// Match on the process name.
    #[serde(default)]
    pub comm: Vec<String>,
    /// Match on the command line (regexes).
    #[serde(default)]
    pub cmdline: Vec<String>,
}
