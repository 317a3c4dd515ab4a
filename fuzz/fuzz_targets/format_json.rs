#![no_main]
use libfuzzer_sys::fuzz_target;
use sidecar_exporter::formats::{parse, FormatConfig};

fuzz_target!(|data: &[u8]| {
    let _ = parse(&FormatConfig::Json, data);
});
