//! The committed fuzz corpus replayed as ordinary tests: every file under
//! `tests/fixtures/fuzz/<target>/` goes through the function its fuzz target calls, so an input
//! that once crashed a fuzzer keeps being checked by `cargo test` without cargo-fuzz.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};
use std::thread;

// The fuzz crate cannot be a dependency (it needs libFuzzer and its own workspace), so its
// target bodies are compiled in here from source: the fuzzer and this test share one copy.
#[path = "../fuzz/src/lib.rs"]
mod fuzz;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_input_passes_its_target() {
    // libFuzzer runs the target on the main thread (8 MiB of stack) and optimised; a debug build
    // needs more stack for the same input, so the replay gets a generous one.
    let failures = thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let mut failures = Vec::new();
            for (name, run) in fuzz::TARGETS {
                let files = files_in(&fixtures().join(name));
                assert!(
                    !files.is_empty(),
                    "tests/fixtures/fuzz/{name}/ has no inputs"
                );
                for file in files {
                    let data = fs::read(&file).expect("a readable fixture");
                    if panic::catch_unwind(|| run(&data)).is_err() {
                        failures.push(file.display().to_string());
                    }
                }
            }
            failures
        })
        .expect("a replay thread")
        .join()
        .expect("the replay thread does not panic outside the targets");
    assert!(
        failures.is_empty(),
        "these inputs panic (messages above):\n{}",
        failures.join("\n")
    );
}

/// A target added to `fuzz/Cargo.toml` without a body in `TARGETS` or a corpus folder would go
/// unreplayed, and a folder for an unknown target would be silently ignored.
#[test]
fn every_fuzz_target_has_a_replayed_corpus() {
    let manifest =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"))
            .expect("fuzz/Cargo.toml");
    let mut bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|section| {
            section
                .lines()
                .find_map(|line| line.trim().strip_prefix("name = "))
                .map(|name| name.trim_matches('"'))
        })
        .collect();
    bins.sort_unstable();
    let mut targets: Vec<&str> = fuzz::TARGETS.iter().map(|(name, _)| *name).collect();
    targets.sort_unstable();
    assert_eq!(bins, targets, "fuzz/Cargo.toml against TARGETS");

    let mut folders: Vec<String> = fs::read_dir(fixtures())
        .expect("tests/fixtures/fuzz")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_dir())
        .map(|path| {
            path.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    folders.sort_unstable();
    assert_eq!(folders, targets, "tests/fixtures/fuzz/ against TARGETS");
}
