//! The status page (`/`) and the debug pages (`/debug/collectors/NAME`) in a real browser:
//! Debian's headless Chromium renders the pages of a running sidecar with healthy collectors, a
//! failing one, a probe of a page that is not there (Python's http.server answers 404) and a
//! collector with a rule that matches nothing; the rendered DOM must show each collector's
//! name, kind and preset, state, probe outcome, errors by reason and last error, the debug
//! pages each rule's series or why none, and the screenshots must be real pictures.
//! `SIDECAR_EXPORTER_UPDATE_SCREENSHOT=1` also writes them to `docs/` (the README shows them).

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

/// Takes a screenshot of `url` of the given size, checks it is a real picture, and with
/// `SIDECAR_EXPORTER_UPDATE_SCREENSHOT` writes it to `docs/<name>`.
fn screenshot(profile: &Path, url: &str, name: &str, (width, height): (u32, u32)) {
    let path = profile.join(name);
    let started = Instant::now();
    chromium(
        &profile.join(format!("shot-{name}")),
        &[
            format!("--screenshot={}", path.display()),
            format!("--window-size={width},{height}"),
        ],
        url,
    );
    println!("--screenshot {name} took {:?}", started.elapsed());
    let png = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("chromium wrote no screenshot {}: {e}", path.display()));
    assert_eq!(png_size(&png), (width, height));
    // A blank page compresses to a few KB; text and a table make it much larger.
    assert!(
        png.len() > 15_000,
        "the screenshot {name} looks empty: {} bytes",
        png.len()
    );
    if std::env::var_os("SIDECAR_EXPORTER_UPDATE_SCREENSHOT").is_some() {
        let docs: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).expect("creating docs/");
        std::fs::write(docs.join(name), &png).expect("writing the screenshot to docs/");
    }
}

#[test]
fn status_page_renders_collectors_states_and_errors_in_chromium() {
    let closed_port = free_port();
    let web_port = free_port();
    let python = require_tool("python3", "python3");
    let web_root = tempfile::tempdir().expect("creating a temporary directory");
    let _web = common::ChildGuard::spawn(
        Command::new(python)
            .current_dir(web_root.path())
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &web_port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    common::wait_for_port(web_port, Duration::from_secs(10));
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
      - name: app_order_queue
        type: object
        path: '{{ .queues.* }}'
        labels: {{queue: '{{$key}}'}}
        values: {{depth: '{{ .depth }}'}}
  - name: inventory
    kind: file
    path: orders.json
    format: json
    metrics:
      - name: app_widgets_in_stock
        help: Widgets in stock.
        path: '{{ .stock.widgets }}'
      - name: app_orders_open
        path: '{{ .orders }}'
  - name: processes
    kind: process
    groups:
      - name: "{{{{comm}}}}"
        comm: [sleep]
  - name: billing
    kind: http_text
    url: http://127.0.0.1:{closed_port}/status
    format: kv
  - name: cache
    preset: redis
    address: 127.0.0.1:{closed_port}
  - name: homepage
    kind: http_probe
    url: http://127.0.0.1:{web_port}/missing.html
"#
    );
    let _sleep = common::ChildGuard::spawn(Command::new("sleep").arg("120"));
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    std::fs::write(dir.path().join("config.yaml"), config).expect("writing config.yaml");
    std::fs::write(
        dir.path().join("orders.json"),
        r#"{"orders": 12, "queues": {"web": {"depth": 3}, "mail": {"depth": 0}}, "stock": {"gadgets": 5, "gizmos": 2}}"#,
    )
    .expect("writing json");
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

    // Cells: collector (with its links), kind, target, state, last success, last duration,
    // series, errors by reason, last error.
    let orders = row_cells(&dom, "orders");
    assert_eq!(orders[0], "ordersdebug · metrics", "{orders:?}");
    assert_eq!(orders[1], "file", "{orders:?}");
    assert_eq!(orders[3], "up", "{orders:?}");
    assert!(
        orders[4].ends_with("ago") || orders[4] == "just now",
        "{orders:?}"
    );
    assert_eq!(orders[7], "none", "{orders:?}");
    assert_eq!(orders[8], "none", "{orders:?}");
    assert!(
        dom.contains(
            "href=\"/metrics?name%5B%5D=app_orders_total&amp;name%5B%5D=app_order_queue_depth\""
        ),
        "no link to the collector's families"
    );
    let processes = row_cells(&dom, "processes");
    assert_eq!(processes[0], "processesdebug · metrics", "{processes:?}");
    assert_eq!(processes[3], "up", "{processes:?}");
    let billing = row_cells(&dom, "billing");
    assert_eq!(billing[0], "billingdebug", "{billing:?}");
    assert_eq!(billing[1], "http_text", "{billing:?}");
    assert_eq!(
        billing[2],
        format!("http://127.0.0.1:{closed_port}/status"),
        "{billing:?}"
    );
    assert_eq!(billing[3], "down", "{billing:?}");
    assert_eq!(billing[4], "never", "{billing:?}");
    assert_eq!(billing[7], "connect: 1", "{billing:?}");
    let error = &billing[8];
    assert!(
        error.starts_with(&format!("connect: http://127.0.0.1:{closed_port}/status"))
            && error.contains("Connection refused"),
        "the last error is not rendered: {error:?}"
    );
    let cache = row_cells(&dom, "cache");
    assert_eq!(cache[1], "tcp_text (preset redis)", "{cache:?}");
    let homepage = row_cells(&dom, "homepage");
    assert!(
        homepage[3].starts_with("upprobe failed: HTTP 404 in "),
        "the probe's outcome is not rendered: {homepage:?}"
    );
    assert!(dom.contains("id=\"reload\""), "no reload state");

    // The debug pages: a rule that matches nothing says why, a failing collector says why.
    let inventory_dom = chromium(
        &profile.path().join("dom-inventory"),
        &["--dump-dom".to_string()],
        &exporter.url("/debug/collectors/inventory"),
    );
    assert!(
        inventory_dom
            .contains("`widgets` is not found under `.stock` (keys there: `gadgets`, `gizmos`)"),
        "{inventory_dom}"
    );
    let billing_dom = chromium(
        &profile.path().join("dom-billing"),
        &["--dump-dom".to_string()],
        &exporter.url("/debug/collectors/billing"),
    );
    assert!(billing_dom.contains("Connection refused"), "{billing_dom}");

    screenshot(
        profile.path(),
        &exporter.url("/"),
        "status-page.png",
        (1400, 560),
    );
    screenshot(
        profile.path(),
        &exporter.url("/debug/collectors/orders"),
        "debug-page-working.png",
        (1200, 900),
    );
    screenshot(
        profile.path(),
        &exporter.url("/debug/collectors/billing"),
        "debug-page-failing.png",
        (1200, 500),
    );
    screenshot(
        profile.path(),
        &exporter.url("/debug/collectors/inventory"),
        "debug-page-rule-misses.png",
        (1200, 800),
    );
}
