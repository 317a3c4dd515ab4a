//! The Debian package: built with `cargo deb --no-build` around the binary of this test run,
//! inspected with `dpkg-deb`, and its systemd unit checked by `systemd-analyze verify`.
//!
//! The release package is built with `cargo build --release && cargo deb --no-build`; this
//! test packs the debug binary instead (same assets, same metadata) to stay fast.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::require_tool;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn run(command: &mut Command) -> String {
    let description = format!("{command:?}");
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{description}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{description} failed:\n{text}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn cargo_deb_available() {
    let ok = Command::new(env!("CARGO"))
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`cargo deb` is not installed: run `cargo install cargo-deb --locked`"
    );
}

/// Builds the .deb once per test run; returns (work dir, package path).
fn package() -> &'static (PathBuf, PathBuf) {
    static PACKAGE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PACKAGE.get_or_init(|| {
        cargo_deb_available();
        require_tool("dpkg-deb", "dpkg");
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        // Packages left by earlier runs.
        for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("deb-") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let work = tmp.join(format!("deb-{}", std::process::id()));
        // cargo deb takes the binary from <target dir>/release/: give it this run's binary there.
        let release = work.join("target/release");
        std::fs::create_dir_all(&release).unwrap();
        std::fs::copy(
            env!("CARGO_BIN_EXE_sidecar-exporter"),
            release.join("sidecar-exporter"),
        )
        .unwrap();
        let out = work.join("out");
        // Stripped like the release binary (`strip = "debuginfo"`): compressing the ~150 MB of
        // debug info was most of this test's time, and the package's contents are the same.
        run(Command::new(env!("CARGO"))
            .args(["deb", "--no-build", "--fast", "--output"])
            .arg(&out)
            .env("CARGO_TARGET_DIR", work.join("target"))
            .current_dir(ROOT));
        let deb = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .expect("cargo deb made no .deb");
        (work, deb)
    })
}

#[test]
fn package_holds_binary_config_and_unit() {
    let (_, deb) = package();
    let contents = run(Command::new("dpkg-deb").arg("-c").arg(deb));
    for (path, mode) in [
        ("./usr/bin/sidecar-exporter", "-rwxr-xr-x"),
        ("./etc/sidecar-exporter/config.yaml", "-rw-r--r--"),
        ("./etc/default/sidecar-exporter", "-rw-r--r--"),
        (
            "./usr/lib/systemd/system/sidecar-exporter.service",
            "-rw-r--r--",
        ),
    ] {
        let line = contents
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} not in the package:\n{contents}"));
        assert!(line.starts_with(mode), "{line}: expected {mode}");
    }
}

#[test]
fn package_metadata_and_conffiles() {
    let (work, deb) = package();
    let info = run(Command::new("dpkg-deb").arg("-I").arg(deb));
    assert!(info.contains("Package: sidecar-exporter"), "{info}");
    assert!(
        info.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{info}"
    );
    assert!(info.contains("Depends: libc6"), "{info}");
    let control = work.join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(deb).arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).expect("conffiles");
    assert!(
        conffiles
            .lines()
            .any(|l| l == "/etc/sidecar-exporter/config.yaml"),
        "{conffiles}"
    );
    let postinst = std::fs::read_to_string(control.join("postinst")).expect("postinst");
    assert!(
        postinst.contains("deb-systemd-helper enable sidecar-exporter.service"),
        "{postinst}"
    );
}

#[test]
fn unit_is_hardened_and_reloads_with_sighup() {
    let unit = std::fs::read_to_string(Path::new(ROOT).join("packaging/sidecar-exporter.service"))
        .unwrap();
    let settings: Vec<&str> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    for wanted in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectKernelTunables=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
    ] {
        assert!(settings.contains(&wanted), "{wanted} missing from the unit");
    }
    assert!(settings.iter().any(|l| l.starts_with(
        "ExecStart=/usr/bin/sidecar-exporter --config.file=/etc/sidecar-exporter/config.yaml"
    )));
    // ProtectProc/ProcSubset would hide the processes the default config reports.
    assert!(!settings
        .iter()
        .any(|l| l.starts_with("ProtectProc=") || l.starts_with("ProcSubset=")));
}

#[test]
fn packaged_unit_passes_systemd_analyze_verify() {
    let analyze = require_tool("systemd-analyze", "systemd");
    let (work, deb) = package();
    let root = work.join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root));
    // verify checks that ExecStart exists on this machine: point it at the unpacked binary.
    let unit =
        std::fs::read_to_string(root.join("usr/lib/systemd/system/sidecar-exporter.service"))
            .unwrap();
    let binary = root.join("usr/bin/sidecar-exporter");
    let dir = work.join("units");
    std::fs::create_dir_all(&dir).unwrap();
    let unit_path = dir.join("sidecar-exporter.service");
    std::fs::write(
        &unit_path,
        unit.replace("/usr/bin/sidecar-exporter", binary.to_str().unwrap()),
    )
    .unwrap();
    let output = Command::new(analyze)
        .arg("verify")
        .arg(&unit_path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && !text.contains("sidecar-exporter.service:"),
        "systemd-analyze verify:\n{text}"
    );
}
