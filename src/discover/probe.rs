//! The probes: one read-only request over plain TCP to a loopback address, bounded in time and
//! in bytes read. A server that speaks something else (an SSH banner, TLS, a binary protocol)
//! or never answers costs at most the timeout and never matches.

use std::net::SocketAddr;
use std::time::Duration;

use regex::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::config::ProbeSpec;
use crate::scrape::self_metrics::VERSION;

/// The most bytes read from one answer (headers included).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Sends `spec` to `address` and tells whether the answer matched, within `timeout`.
pub async fn probe(address: SocketAddr, spec: &ProbeSpec, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    tokio::time::timeout_at(deadline, run(address, spec))
        .await
        .unwrap_or(false)
}

async fn run(address: SocketAddr, spec: &ProbeSpec) -> bool {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        return false;
    };
    match spec {
        ProbeSpec::Http { path, expect } => {
            let request = http_request(address, path);
            if stream.write_all(request.as_bytes()).await.is_err() {
                return false;
            }
            let answer = read_bounded(&mut stream, http_complete).await;
            http_body(&answer).is_some_and(|body| expect.is_match(&String::from_utf8_lossy(&body)))
        }
        ProbeSpec::Tcp { send, expect } => {
            if !send.is_empty() && stream.write_all(send).await.is_err() {
                return false;
            }
            let answer = read_bounded(&mut stream, |answer| matches_text(expect, answer)).await;
            matches_text(expect, &answer)
        }
    }
}

fn matches_text(expect: &Regex, bytes: &[u8]) -> bool {
    expect.is_match(&String::from_utf8_lossy(bytes))
}

/// The whole request: a minimal HTTP/1.1 GET that asks the server to close afterwards.
pub fn http_request(address: SocketAddr, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: sidecar-exporter/{VERSION} (discovery)\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
}

/// Reads until the peer closes, `done` says the answer is complete, or [`MAX_ANSWER_BYTES`];
/// the caller's timeout bounds the time.
async fn read_bounded(stream: &mut TcpStream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut answer = Vec::with_capacity(4096);
    let mut buffer = [0u8; 8192];
    while answer.len() < MAX_ANSWER_BYTES {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                let room = MAX_ANSWER_BYTES - answer.len();
                answer.extend_from_slice(&buffer[..read.min(room)]);
                if done(&answer) {
                    break;
                }
            }
        }
    }
    answer
}

fn split_head(answer: &[u8]) -> Option<(&str, &[u8])> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    Some((head, &answer[end + 4..]))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// True once the body announced by `Content-Length` has arrived (otherwise the close ends it).
fn http_complete(answer: &[u8]) -> bool {
    let Some((head, body)) = split_head(answer) else {
        return false;
    };
    header(head, "content-length")
        .and_then(|length| length.parse::<usize>().ok())
        .is_some_and(|length| body.len() >= length)
}

/// The body of a 2xx HTTP/1.x answer, de-chunked; `None` for anything else (no status line,
/// another status, a TLS alert, a banner).
pub fn http_body(answer: &[u8]) -> Option<Vec<u8>> {
    let (head, body) = split_head(answer)?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split(' ');
    let version = parts.next()?;
    let status: u16 = parts.next()?.parse().ok()?;
    if !version.starts_with("HTTP/1.") || !(200..300).contains(&status) {
        return None;
    }
    let chunked = header(head, "transfer-encoding")
        .is_some_and(|encoding| encoding.to_ascii_lowercase().contains("chunked"));
    Some(if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    })
}

/// Joins the chunks of a chunked body; a body cut short keeps the chunks that arrived.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        let end = (start + size).min(body.len());
        out.extend_from_slice(&body[start..end]);
        if end < start + size {
            break;
        }
        body = body.get(end + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_of_a_2xx_answer_plain_or_chunked() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(http_body(plain).unwrap(), b"hello");
        assert!(http_complete(plain));
        assert!(!http_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello"
        ));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"pr\r\n9;x=y\r\nocess man\r\n0\r\n\r\n";
        assert_eq!(http_body(chunked).unwrap(), b"{\"process man");
        assert!(http_body(b"HTTP/1.1 404 Not Found\r\n\r\nActive connections: 1").is_none());
        assert!(http_body(b"SSH-2.0-OpenSSH_9.2\r\n").is_none());
        assert!(http_body(b"\x15\x03\x01\x00\x02\x02\x46").is_none());
    }

    #[test]
    fn the_request_is_a_minimal_get_that_closes() {
        let request = http_request("127.0.0.1:8080".parse().unwrap(), "/stub_status");
        assert!(request.starts_with("GET /stub_status HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(request.ends_with("Connection: close\r\n\r\n"));
    }

    #[tokio::test]
    async fn a_silent_server_costs_the_timeout_and_a_banner_never_matches() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_address = silent.local_addr().unwrap();
        let keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = silent.accept().await {
                held.push(stream);
            }
        });
        let spec = ProbeSpec::Tcp {
            send: "PING\r\n".into(),
            expect: Regex::new(r"^\+PONG").unwrap(),
        };
        let started = std::time::Instant::now();
        assert!(!probe(silent_address, &spec, Duration::from_millis(300)).await);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(2));

        let banner = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let banner_address = banner.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = banner.accept().await {
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2p1\r\n").await;
            }
        });
        let http = ProbeSpec::Http {
            path: "/".into(),
            expect: Regex::new("").unwrap(),
        };
        assert!(!probe(banner_address, &http, Duration::from_millis(300)).await);
        assert!(!probe(banner_address, &spec, Duration::from_millis(300)).await);
        keep.abort();
    }
}
