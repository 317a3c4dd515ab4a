//! The status page (`/`) in a real browser: Debian's headless Chromium renders the page of a
//! running sidecar with two healthy collectors and one failing; the rendered DOM must show each
//! collector's name and state and the failing one's last error, and a screenshot must be a real
//! picture. `SIDECAR_EXPORTER_UPDATE_SCREENSHOT=1` also writes it to `docs/status-page.png` (the
//! README shows it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, require_tool, Exporter};

/// Runs headless Chromium with `args` then `url`, bounded to 60 s, and returns its stdout.
/// Its output goes to files in `profile` (a pipe nobody reads while waiting would stall it
/// once full), and it runs in its own process group, so that a timeout stops its helper
/// processes (zygote, renderer, GPU) too rather than only the browser process.
fn chromium(profile: &Path, args: &[String], url: &str) -> String {
    use std::os::unix::process::CommandExt;
    let chromium = require_tool("chromium", "chromium");
    std::fs::create_dir_all(profile).expect("creating the browser profile directory");
    let stdout_path = profile.join("stdout.txt");
    let stderr_path = profile.join("stderr.txt");
    let stdout = std::fs::File::create(&stdout_path).expect("creating stdout.txt");
    let stderr = std::fs::File::create(&stderr_path).expect("creating stderr.txt");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("starting chromium: {e}"));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            _ => {
                let _ = Command::new("kill")
                    .args(["-KILL", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                panic!("chromium {args:?} did not finish within 60 s");
            }
        }
    };
    assert!(
        status.success(),
        "chromium {args:?} failed: {}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    std::fs::read_to_string(&stdout_path).expect("reading chromium's output")
}

/// The text of each cell of the table row of `collector` in the rendered DOM.
fn row_cells(dom: &str, collector: &str) -> Vec<String> {
    let start = format!("<tr data-collector=\"{collector}\">");
    let row = dom
        .split_once(&start)
        .and_then(|(_, rest)| rest.split_once("</tr>"))
        .map(|(row, _)| row)
        .unwrap_or_else(|| panic!("no row for collector {collector} in the rendered page:\n{dom}"));
    row.split("<td>")
        .skip(1)
        .map(|cell| {
            // drop the markup, keep the text
            let mut text = String::new();
            let mut in_tag = false;
            for c in cell.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text.trim().to_string()
        })
        .collect()
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "not a PNG file"
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn status_page_renders_collectors_states_and_errors_in_chromium() {
    let closed_port = free_port();
    let config = format!(
        r#"collectors:
  - name: orders
    kind: file
    path: orders.json
    format: json
    metrics:
      - name: app_orders_total
        help: Orders taken.
        path: '{{ .orders }}'
        valuetype: counter
  - name: processes
    kind: process
    groups:
      - name: "{{{{comm}}}}"
        comm: [sleep]
  - name: billing
    kind: http_text
    url: http://127.0.0.1:{closed_port}/status
    format: kv
"#
    );
    let _sleep = common::ChildGuard::spawn(Command::new("sleep").arg("120"));
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    std::fs::write(dir.path().join("config.yaml"), config).expect("writing config.yaml");
    std::fs::write(dir.path().join("orders.json"), r#"{"orders": 12}"#).expect("writing json");
    let exporter = Exporter::start_in(dir, &["--config.file", "config.yaml"]);
    // one collection, so that the page shows states and the error
    let metrics = exporter.metrics();
    assert!(metrics.contains("app_orders_total 12"), "{metrics}");

    let profile = tempfile::tempdir().expect("creating a temporary directory");
    let started = Instant::now();
    let dom = chromium(
        &profile.path().join("dom"),
        &["--dump-dom".to_string()],
        &exporter.url("/"),
    );
    println!("--dump-dom took {:?}", started.elapsed());

    let orders = row_cells(&dom, "orders");
    assert_eq!(orders[0], "orders", "{orders:?}");
    assert_eq!(orders[1], "file", "{orders:?}");
    assert_eq!(orders[3], "up", "{orders:?}");
    assert_eq!(orders[6], "none", "{orders:?}");
    let processes = row_cells(&dom, "processes");
    assert_eq!(processes[0], "processes", "{processes:?}");
    assert_eq!(processes[3], "up", "{processes:?}");
    let billing = row_cells(&dom, "billing");
    assert_eq!(billing[0], "billing", "{billing:?}");
    assert_eq!(billing[1], "http_text", "{billing:?}");
    assert_eq!(
        billing[2],
        format!("http://127.0.0.1:{closed_port}/status"),
        "{billing:?}"
    );
    assert_eq!(billing[3], "down", "{billing:?}");
    let error = &billing[6];
    assert!(
        error.starts_with(&format!("connect: http://127.0.0.1:{closed_port}/status"))
            && error.contains("Connection refused"),
        "the last error is not rendered: {error:?}"
    );

    let screenshot = profile.path().join("status-page.png");
    let started = Instant::now();
    chromium(
        &profile.path().join("shot"),
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1200,500".to_string(),
        ],
        &exporter.url("/"),
    );
    println!("--screenshot took {:?}", started.elapsed());
    let png = std::fs::read(&screenshot)
        .unwrap_or_else(|e| panic!("chromium wrote no screenshot {}: {e}", screenshot.display()));
    assert_eq!(png_size(&png), (1200, 500));
    // A blank 1200x500 page compresses to about 3 KB; text and a table make it much larger.
    assert!(
        png.len() > 15_000,
        "the screenshot looks empty: {} bytes",
        png.len()
    );
    if std::env::var_os("SIDECAR_EXPORTER_UPDATE_SCREENSHOT").is_some() {
        let docs: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).expect("creating docs/");
        std::fs::write(docs.join("status-page.png"), &png).expect("writing docs/status-page.png");
    }
}
