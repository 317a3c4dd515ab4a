//! The `tcp` source against real redis-server and memcached, and fault-injection servers.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{free_port, require_tool, wait_for_port, ChildGuard};
use sidecar_exporter::client::Source;
use sidecar_exporter::collector::{Context, Reason};
use sidecar_exporter::kinds::tcp_text::TcpConfig;
use sidecar_exporter::kinds::tcp_text::TcpSource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

fn tcp(address: String, command: &str, terminator: Option<&str>) -> TcpSource {
    TcpSource::from_config(&TcpConfig {
        address: Some(address),
        command: Some(command.to_string()),
        terminator: terminator.map(str::to_string),
        ..Default::default()
    })
    .unwrap()
}

fn ctx(timeout: Duration) -> Context {
    Context::with_deadline(Instant::now() + timeout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_info_read_until_the_server_closes() {
    let redis = require_tool("redis-server", "redis-server");
    let port = free_port();
    let _server = ChildGuard::spawn(
        Command::new(redis)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null()),
    );
    wait_for_port(port, Duration::from_secs(10));
    // The preset's way: QUIT makes redis close after answering INFO.
    let source = tcp(format!("127.0.0.1:{port}"), r"INFO\r\nQUIT\r\n", None);
    let context = ctx(Duration::from_secs(5));
    let answer = source.fetch(&context).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with('$'),
        "RESP bulk header expected: {text:.40}"
    );
    assert!(text.contains("redis_version:"), "{text}");
    assert!(text.contains(&format!("tcp_port:{port}")), "{text}");
    assert!(text.ends_with("+OK\r\n"), "{text}");
    assert_eq!(
        context
            .target_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // Without QUIT redis keeps the connection open: the deadline ends the wait, and the error
    // says what to do.
    let source = tcp(format!("127.0.0.1:{port}"), r"INFO\r\n", None);
    let err = source
        .fetch(&ctx(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::Timeout, "{err}");
    assert!(err.message.contains("terminator"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memcached_stats_read_until_the_terminator() {
    let memcached = require_tool("memcached", "memcached");
    let port = free_port();
    let _server = ChildGuard::spawn(Command::new(memcached).args([
        "-l",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "0",
        "-u",
        "root",
    ]));
    wait_for_port(port, Duration::from_secs(10));
    let source = tcp(format!("127.0.0.1:{port}"), r"stats\r\n", Some(r"END\r\n"));
    let start = std::time::Instant::now();
    let answer = source.fetch(&ctx(Duration::from_secs(5))).await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "waited past the terminator"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("STAT pid "), "{text}");
    assert!(text.ends_with("END\r\n"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_connect_timeout_limit_and_missing_terminator() {
    // Closed port.
    let err = tcp(format!("127.0.0.1:{}", free_port()), r"x\r\n", None)
        .fetch(&ctx(Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::Connect, "{err}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                match &buf[..n] {
                    b"hang\r\n" => tokio::time::sleep(Duration::from_secs(30)).await,
                    b"big\r\n" => {
                        let chunk = vec![b'x'; 64 * 1024];
                        for _ in 0..1600 {
                            if stream.write_all(&chunk).await.is_err() {
                                return;
                            }
                        }
                    }
                    _ => {
                        let _ = stream.write_all(b"partial answer").await;
                    }
                }
            });
        }
    });
    let address = format!("127.0.0.1:{port}");
    let start = std::time::Instant::now();
    let err = tcp(address.clone(), r"hang\r\n", Some("END"))
        .fetch(&ctx(Duration::from_millis(400)))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::Timeout, "{err}");
    assert!(start.elapsed() < Duration::from_millis(900));

    let err = tcp(address.clone(), r"big\r\n", None)
        .fetch(&ctx(Duration::from_secs(10)))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::Limit, "{err}");

    let err = tcp(address, r"other\r\n", Some(r"END\r\n"))
        .fetch(&ctx(Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::Parse, "{err}");
    assert!(err.message.contains("terminator"), "{err}");
}
