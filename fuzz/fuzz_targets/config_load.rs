#![no_main]
//! A whole config file, `${VAR}` expansion included (`${A}` is set, the rest are not), then
//! every collector built as its kind: each kind reads its own keys and places errors in the text.
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sidecar_exporter::config::load_bytes;
use sidecar_exporter::scrape::Engine;

fn lookup(name: &str) -> Option<String> {
    match name {
        "A" => Some("value".into()),
        "PORT" => Some("8080".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    // `include:` globs the file system (a pattern such as `/**/*` walks the whole disk), and a
    // kind reads the files it names when it is built (`ca_file`, `password_file`,
    // `json_exporter_module`, where `/dev/zero` is a possible answer): the user's choice, not a
    // parser bug. Keep the fuzzer off them.
    let mentions = |word: &str| {
        data.windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    };
    if ["include", "_file", "json_exporter_module"].into_iter().any(mentions) {
        return;
    }
    if let Ok(loaded) = load_bytes(
        "fuzz.yaml",
        data,
        Path::new("/nonexistent-fuzz-dir"),
        &lookup,
    ) {
        let _ = Engine::build(&loaded, Default::default());
    }
});
