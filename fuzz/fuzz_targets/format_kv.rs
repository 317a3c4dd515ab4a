#![no_main]
//! The kv format with the preset configs (apache, redis, memcached, …) and a few more; the
//! first byte picks the config.
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sidecar_exporter::formats::{parse, FormatConfig};
use sidecar_exporter_fuzz::{formats, pick};

static CONFIGS: LazyLock<Vec<FormatConfig>> = LazyLock::new(|| {
    formats(
        "kv",
        &[
            "kv",
            "{type: kv, sections: true, comment_prefix: '#', split_values: {pairs: ',', kv: '='}}",
            "{type: kv, separator: ' ', line_prefix: 'STAT ', terminator_line: END, skip_invalid_lines: true}",
            "{type: kv, indexed_keys: true, skip_invalid_lines: true, trim: false}",
            "{type: kv, indexed_keys: true, sections: true, comment_prefix: '#', split_values: {}}",
            "{type: kv, separator: '=', required_keys: {a: 'no a'}}",
        ],
    )
});

fuzz_target!(|data: &[u8]| {
    if let Some((config, body)) = pick(&CONFIGS, data) {
        let _ = parse(config, body);
    }
});
