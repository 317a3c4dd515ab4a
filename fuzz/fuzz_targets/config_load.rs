#![no_main]
//! A whole config file, `${VAR}` expansion included (`${A}` is set, the rest are not).
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sidecar_exporter::config::load_bytes;

fn lookup(name: &str) -> Option<String> {
    match name {
        "A" => Some("value".into()),
        "PORT" => Some("8080".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    // `include:` globs the file system: a pattern such as `/**/*` walks the whole disk, which
    // is the user's choice, not a parser bug. Keep the fuzzer off it.
    if data.windows(7).any(|w| w.eq_ignore_ascii_case(b"include")) {
        return;
    }
    let _ = load_bytes(
        "fuzz.yaml",
        data,
        Path::new("/nonexistent-fuzz-dir"),
        &lookup,
    );
});
