#![no_main]
//! The regex format with fixed patterns, single and multiple; the first byte picks one.
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sidecar_exporter::formats::{parse, FormatConfig, RegexConfig};
use sidecar_exporter_fuzz::pick;

static CONFIGS: LazyLock<Vec<FormatConfig>> = LazyLock::new(|| {
    [
        (r"Active connections: (?P<active>\d+)", false),
        (r"(?P<a>\d+)\s*(?P<b>[a-z]*)", false),
        (r"(?m)^(?P<key>\w+)=(?P<value>.*)$", true),
        (r"(?P<a>\d+)(?P<b>:)?", true),
        (r"(?s)(?P<all>.*)", false),
        (r"(?P<empty>x*)", true),
    ]
    .iter()
    .map(|(p, m)| FormatConfig::Regex(RegexConfig::new(p, *m).expect("pattern compiles")))
    .collect()
});

fuzz_target!(|data: &[u8]| {
    if let Some((config, body)) = pick(&CONFIGS, data) {
        let _ = parse(config, body);
    }
});
