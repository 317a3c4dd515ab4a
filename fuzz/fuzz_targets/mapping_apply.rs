#![no_main]
//! Fixed rules (every path form, see `FIXED_RULES`, and the presets' rules) applied to a
//! JSON document from the fuzzer; the first byte picks the rule set.
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sidecar_exporter::mapping::Mapping;
use sidecar_exporter_fuzz::{mappings, pick};

static MAPPINGS: LazyLock<Vec<Mapping>> = LazyLock::new(mappings);

fuzz_target!(|data: &[u8]| {
    let Some((mapping, body)) = pick(&MAPPINGS, data) else {
        return;
    };
    if let Ok(document) = serde_json::from_slice(body) {
        let _ = mapping.apply(&document);
    }
});
