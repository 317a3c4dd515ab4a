#![no_main]
//! See `sidecar_exporter_fuzz::format_json`: the body is shared with the corpus replay test.
libfuzzer_sys::fuzz_target!(|data: &[u8]| sidecar_exporter_fuzz::format_json(data));
