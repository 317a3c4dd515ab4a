//! Build-time facts the binary carries: the compiler version for
//! `sidecar_exporter_build_info{rustc_version}`, and every preset in `collectors/*.yaml`, so that
//! a new preset is one YAML file and no Rust.

use std::path::Path;
use std::process::Command;

fn main() {
    record_rustc_version();
    embed_presets();
}

fn record_rustc_version() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    // `rustc 1.95.0 (59807616e 2026-04-14)` → `1.95.0`; "unknown" if rustc cannot be asked.
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=SIDECAR_EXPORTER_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-env-changed=SIDECAR_EXPORTER_REVISION");
}

/// Writes `$OUT_DIR/presets.rs`: one `Preset` per `collectors/*.yaml`, sorted by name, each
/// embedded with `include_str!`. Cargo reruns this when anything in `collectors/` changes.
fn embed_presets() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let folder = Path::new(&manifest).join("collectors");
    println!("cargo:rerun-if-changed={}", folder.display());
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", folder.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    let mut code = String::from("&[\n");
    for path in &files {
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_else(|| panic!("{}: the file name is not UTF-8", path.display()));
        code.push_str(&format!(
            "    Preset {{ name: {name:?}, yaml: include_str!({:?}) }},\n",
            path.display().to_string()
        ));
    }
    code.push_str("]\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("presets.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
