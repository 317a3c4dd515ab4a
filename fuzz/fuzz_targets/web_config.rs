#![no_main]
use libfuzzer_sys::fuzz_target;
use sidecar_exporter::server::web_config::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse("web.yml", text);
    }
});
