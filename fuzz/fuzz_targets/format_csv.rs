#![no_main]
//! The csv format (default, haproxy's `# ` header, `;`); the first byte picks the config.
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sidecar_exporter::formats::{parse, FormatConfig};
use sidecar_exporter_fuzz::{formats, pick};

static CONFIGS: LazyLock<Vec<FormatConfig>> = LazyLock::new(|| {
    formats(
        "csv",
        &[
            "csv",
            "{type: csv, header_prefix: '# '}",
            "{type: csv, delimiter: ';'}",
        ],
    )
});

fuzz_target!(|data: &[u8]| {
    if let Some((config, body)) = pick(&CONFIGS, data) {
        let _ = parse(config, body);
    }
});
