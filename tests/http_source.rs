//! The `http` source against fault-injection servers (hang, garbage, 100 MB) and a real nginx.

mod common;
mod nginx_support;

use std::time::Duration;

use nginx_support::{Nginx, HELLO, PASSWORD, TOKEN, USER};
use sidecar_exporter::client::auth::BasicAuth;
use sidecar_exporter::client::http::{HttpRequestConfig, HttpSource};
use sidecar_exporter::client::tls::TlsConfig;
use sidecar_exporter::client::Source;
use sidecar_exporter::collector::{Context, Reason};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

fn cfg_for(url: &str) -> HttpRequestConfig {
    HttpRequestConfig {
        url: Some(url.to_string()),
        ..Default::default()
    }
}

fn ctx(timeout: Duration) -> Context {
    Context::with_deadline(Instant::now() + timeout)
}

async fn fetch(
    cfg: &HttpRequestConfig,
) -> Result<String, sidecar_exporter::collector::CollectError> {
    let source = HttpSource::from_config(cfg).unwrap();
    source
        .fetch(&ctx(Duration::from_secs(5)))
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// A server on 127.0.0.1 that hands every accepted connection to `serve`.
async fn fault_server<F, Fut>(serve: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    port
}

async fn read_request(stream: &mut tokio::net::TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf).await;
}

/// `VmRSS` (current) or `VmHWM` (peak) of this process, in KiB.
fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_a_timeout_within_the_deadline() {
    let port = fault_server(|mut stream| async move {
        read_request(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let source = HttpSource::from_config(&cfg_for(&format!("http://127.0.0.1:{port}/"))).unwrap();
    let context = ctx(Duration::from_millis(500));
    let start = std::time::Instant::now();
    let err = source.fetch(&context).await.unwrap_err();
    let elapsed = start.elapsed();
    assert_eq!(err.reason, Reason::Timeout, "{err}");
    assert!(elapsed < Duration::from_millis(900), "took {elapsed:?}");
    assert_eq!(
        context
            .target_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_speaks_no_http_is_a_parse_error() {
    let port = fault_server(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream
            .write_all(b"SSH-2.0-OpenSSH_9.2\r\n\x00\x01garbage\r\n\r\n")
            .await;
    })
    .await;
    let err = fetch(&cfg_for(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::Parse, "{err}");
    assert!(err.message.contains("not valid HTTP"), "{err}");
}

async fn hundred_megabytes(mut stream: tokio::net::TcpStream, announce_length: bool) {
    read_request(&mut stream).await;
    let total: usize = 100 * 1024 * 1024;
    let head = if announce_length {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n")
    } else {
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string()
    };
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        if stream.write_all(&chunk).await.is_err() {
            return; // the client stopped reading
        }
        sent += chunk.len();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_body_stops_at_the_limit_and_memory_stays_bounded() {
    let port = fault_server(|stream| hundred_megabytes(stream, false)).await;
    let before = memory_kib("VmRSS:");
    let source =
        HttpSource::from_config(&cfg_for(&format!("http://127.0.0.1:{port}/big"))).unwrap();
    let err = source
        .fetch(&ctx(Duration::from_secs(20)))
        .await
        .unwrap_err();
    let after = memory_kib("VmRSS:");
    let peak = memory_kib("VmHWM:");
    assert_eq!(err.reason, Reason::Limit, "{err}");
    assert!(err.message.contains("max_response_bytes"), "{err}");
    let growth_mib = after.saturating_sub(before) / 1024;
    eprintln!("VmRSS before {before} KiB, after the 100 MB body {after} KiB, peak {peak} KiB");
    // The default limit is 16 MiB; an unbounded read would grow by 100 MiB.
    assert!(
        growth_mib < 40,
        "RSS grew by {growth_mib} MiB ({before} → {after} KiB)"
    );
    let peak_growth_mib = peak.saturating_sub(before) / 1024;
    assert!(
        peak_growth_mib < 48,
        "peak RSS grew by {peak_growth_mib} MiB"
    );

    // With a Content-Length past the limit, nothing is read at all.
    let port = fault_server(|stream| hundred_megabytes(stream, true)).await;
    let err = fetch(&cfg_for(&format!("http://127.0.0.1:{port}/big")))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::Limit, "{err}");
    assert!(err.message.contains("Content-Length"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_a_connect_error() {
    let port = common::free_port();
    let err = fetch(&cfg_for(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::Connect, "{err}");
    assert!(err.message.contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_happy_path_statuses_and_redirects() {
    let nginx = Nginx::start();
    assert_eq!(
        fetch(&cfg_for(&nginx.url("/hello.txt"))).await.unwrap(),
        HELLO
    );
    let status = fetch(&cfg_for(&nginx.url("/stub_status"))).await.unwrap();
    assert!(status.starts_with("Active connections:"), "{status}");

    for (path, code) in [("/missing", 404), ("/error", 500)] {
        let err = fetch(&cfg_for(&nginx.url(path))).await.unwrap_err();
        assert_eq!(err.reason, Reason::HttpStatus, "{err}");
        assert!(err.message.contains(&format!("HTTP {code}")), "{err}");
    }
    let mut accept_404 = cfg_for(&nginx.url("/missing"));
    accept_404.valid_status_codes = Some(vec![404]);
    assert!(fetch(&accept_404).await.is_ok());

    // Redirects are not followed unless asked.
    let err = fetch(&cfg_for(&nginx.url("/redirect"))).await.unwrap_err();
    assert_eq!(err.reason, Reason::HttpStatus, "{err}");
    assert!(err.message.contains("302"), "{err}");
    let mut follow = cfg_for(&nginx.url("/redirect"));
    follow.follow_redirects = Some(true);
    assert_eq!(fetch(&follow).await.unwrap(), HELLO);

    // POST with a body and a header.
    let mut post = cfg_for(&nginx.url("/bearer"));
    post.method = Some("post".into());
    post.body = Some("x=1".into());
    post.headers = Some([("Authorization".to_string(), format!("Bearer {TOKEN}"))].into());
    assert_eq!(fetch(&post).await.unwrap(), "bearer ok\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_basic_auth_and_bearer_tokens() {
    let nginx = Nginx::start();
    let err = fetch(&cfg_for(&nginx.url("/private/"))).await.unwrap_err();
    assert!(err.message.contains("401"), "{err}");

    let mut cfg = cfg_for(&nginx.url("/private/"));
    cfg.basic_auth = Some(BasicAuth {
        username: USER.into(),
        password: Some(PASSWORD.into()),
        password_file: None,
    });
    assert_eq!(fetch(&cfg).await.unwrap(), "private area\n");

    let password_file = nginx.dir().join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    cfg.basic_auth = Some(BasicAuth {
        username: USER.into(),
        password: None,
        password_file: Some(password_file.display().to_string()),
    });
    assert_eq!(fetch(&cfg).await.unwrap(), "private area\n");

    // Credentials in the URL work but never show in the target.
    let with_userinfo = format!("http://{USER}:{PASSWORD}@127.0.0.1:{}/private/", nginx.port);
    let source_with_userinfo = HttpSource::from_config(&cfg_for(&with_userinfo)).unwrap();
    assert!(!source_with_userinfo.target().contains(PASSWORD));
    assert!(!source_with_userinfo.target().contains(USER));
    let body = source_with_userinfo
        .fetch(&ctx(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(&body[..], b"private area\n");

    // Bearer token from a file, re-read when the file changes.
    let token_file = nginx.dir().join("token");
    std::fs::write(&token_file, "wrong\n").unwrap();
    let mut bearer = cfg_for(&nginx.url("/bearer"));
    bearer.bearer_token_file = Some(token_file.display().to_string());
    let bearer_source = HttpSource::from_config(&bearer).unwrap();
    let err = bearer_source
        .fetch(&ctx(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(err.message.contains("401"), "{err}");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let body = bearer_source
        .fetch(&ctx(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(&body[..], b"bearer ok\n");
    bearer.bearer_token_file = None;
    bearer.bearer_token = Some(TOKEN.into());
    assert_eq!(fetch(&bearer).await.unwrap(), "bearer ok\n");
}

fn stub_status_accepts(page: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(page);
    let numbers = text.lines().nth(2).unwrap_or_default();
    numbers.split_whitespace().next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_kept_alive_between_fetches() {
    let nginx = Nginx::start();
    for url in [
        nginx.url("/stub_status"),
        format!("unix:{}:/stub_status", nginx.socket.display()),
    ] {
        let source = HttpSource::from_config(&cfg_for(&url)).unwrap();
        let first = stub_status_accepts(&source.fetch(&ctx(Duration::from_secs(5))).await.unwrap());
        let mut last = first;
        for _ in 0..2 {
            last = stub_status_accepts(&source.fetch(&ctx(Duration::from_secs(5))).await.unwrap());
        }
        assert_eq!(last, first, "{url}: each fetch opened a new connection");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_over_a_unix_socket() {
    let nginx = Nginx::start();
    let socket = nginx.socket.display().to_string();
    let body = fetch(&cfg_for(&format!("unix:{socket}:/hello.txt")))
        .await
        .unwrap();
    assert_eq!(body, HELLO);
    let err = fetch(&cfg_for(&format!("unix:{socket}:/missing")))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::HttpStatus, "{err}");
    let mut cfg = cfg_for(&format!("unix:{socket}:/private/"));
    cfg.basic_auth = Some(BasicAuth {
        username: USER.into(),
        password: Some(PASSWORD.into()),
        password_file: None,
    });
    assert_eq!(fetch(&cfg).await.unwrap(), "private area\n");
    let err = fetch(&cfg_for(&format!("unix:{socket}.missing:/")))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::Connect, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_over_tls() {
    let nginx = Nginx::start();
    // Self-signed: refused by default…
    let err = fetch(&cfg_for(&nginx.tls_url("/hello.txt")))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::Connect, "{err}");
    // …trusted through ca_file…
    let mut cfg = cfg_for(&nginx.tls_url("/hello.txt"));
    cfg.tls_config = Some(TlsConfig {
        ca_file: Some(nginx.cert.display().to_string()),
        ..Default::default()
    });
    assert_eq!(fetch(&cfg).await.unwrap(), HELLO);
    // …verified against server_name while connecting to the IP…
    cfg.tls_config = Some(TlsConfig {
        ca_file: Some(nginx.cert.display().to_string()),
        server_name: Some("localhost".into()),
        ..Default::default()
    });
    assert_eq!(fetch(&cfg).await.unwrap(), HELLO);
    cfg.tls_config = Some(TlsConfig {
        ca_file: Some(nginx.cert.display().to_string()),
        server_name: Some("other.example".into()),
        ..Default::default()
    });
    assert!(fetch(&cfg).await.is_err());
    // …or accepted blindly.
    cfg.tls_config = Some(TlsConfig {
        insecure_skip_verify: true,
        ..Default::default()
    });
    assert_eq!(fetch(&cfg).await.unwrap(), HELLO);
}

/// Reads one request head (up to the blank line) from a kept-alive connection.
async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_names_the_host_and_the_exporter() {
    // Answers each request with its own head, lower-cased.
    let port = fault_server(|mut stream| async move {
        while let Some(head) = read_head(&mut stream).await {
            let body = head.to_ascii_lowercase();
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    // By name too: `localhost` may resolve to ::1 first, where nothing listens.
    for host in ["127.0.0.1", "localhost"] {
        let head = fetch(&cfg_for(&format!("http://{host}:{port}/status?full")))
            .await
            .unwrap();
        assert!(head.starts_with("get /status?full http/1.1\r\n"), "{head}");
        assert!(
            head.contains(&format!("\r\nhost: {host}:{port}\r\n")),
            "{head}"
        );
        assert!(head.contains("\r\nuser-agent: sidecar-exporter/"), "{head}");
        assert!(!head.contains("accept-encoding"), "{head}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_app_closed_between_scrapes_is_replaced() {
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = connections.clone();
    // Keeps nothing alive: one answer per connection, then closes without saying so.
    let port = fault_server(move |mut stream| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if read_head(&mut stream).await.is_some() {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
                    .await;
            }
        }
    })
    .await;
    let source = HttpSource::from_config(&cfg_for(&format!("http://127.0.0.1:{port}/"))).unwrap();
    for _ in 0..3 {
        let context = ctx(Duration::from_secs(5));
        assert_eq!(&source.fetch(&context).await.unwrap()[..], b"ok\n");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 3);
}

/// `gzipped body\n`, compressed by `gzip -n`.
const GZIPPED: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4b, 0xaf, 0xca, 0x2c, 0x28, 0x48,
    0x4d, 0x51, 0x48, 0xca, 0x4f, 0xa9, 0xe4, 0x02, 0x00, 0xdb, 0x55, 0xe5, 0xae, 0x0d, 0x00, 0x00,
    0x00,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_answer_is_decoded_when_asked_for_and_an_error_when_not() {
    let port = fault_server(|mut stream| async move {
        while read_head(&mut stream).await.is_some() {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                GZIPPED.len()
            );
            let mut answer = head.into_bytes();
            answer.extend_from_slice(GZIPPED);
            if stream.write_all(&answer).await.is_err() {
                return;
            }
        }
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/");
    let err = fetch(&cfg_for(&url)).await.unwrap_err();
    assert_eq!(err.reason, Reason::Parse, "{err}");
    assert!(err.message.contains("encoded (gzip)"), "{err}");
    let mut asking = cfg_for(&url);
    asking.headers = Some([("Accept-Encoding".to_string(), "gzip".to_string())].into());
    assert_eq!(fetch(&asking).await.unwrap(), "gzipped body\n");
}
