#![no_main]
use libfuzzer_sys::fuzz_target;
use sidecar_exporter::formats::prom_text::parse_exposition;

fuzz_target!(|data: &[u8]| {
    let _ = parse_exposition(data);
});
