//! A real Apache httpd from Debian, started in the foreground on 127.0.0.1 with a temporary
//! config (no `/etc/apache2`, no Debian env vars): mod_status on `/server-status`, the MPM of
//! the test's choice, and optionally mod_ssl's session cache and a proxy balancer with
//! `ProxyStatus On`, so that `?auto` carries those sections. And a static `?auto` page served
//! on loopback, for the pages of Apache versions that are not installed.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{free_port, http_get, require_tool, wait_for_port, ChildGuard};

const MODULES: &str = "/usr/lib/apache2/modules";

/// What to configure.
#[derive(Debug, Clone, Copy)]
pub struct ApacheOptions {
    /// `event`, `worker` or `prefork`.
    pub mpm: &'static str,
    /// `ExtendedStatus On|Off`.
    pub extended_status: bool,
    /// mod_ssl with a shmcb session cache and a TLS listener.
    pub ssl: bool,
    /// A balancer (`/app`) with one live member (a second port of this Apache) and one dead
    /// member, and `ProxyStatus On`.
    pub proxy: bool,
    /// `KeepAlive On|Off` (off keeps the scoreboard quiet between two scrapes).
    pub keep_alive: bool,
}

impl ApacheOptions {
    /// Only mod_status, ExtendedStatus on, keep-alive on.
    pub fn mpm(mpm: &'static str) -> ApacheOptions {
        ApacheOptions {
            mpm,
            extended_status: true,
            ssl: false,
            proxy: false,
            keep_alive: true,
        }
    }
}

/// A running Apache; stopped (SIGTERM, the parent stops its children) when dropped.
pub struct Apache {
    /// The port of `/server-status` (and `/app` with `proxy`).
    pub port: u16,
    /// The plain backend port serving `/hello.txt` (the balancer's live member).
    pub backend_port: u16,
    /// The TLS port with `ssl`.
    pub tls_port: u16,
    // Before `dir`: fields drop in order, and Apache must stop before its files are removed.
    child: ChildGuard,
    /// Config, logs, runtime files.
    pub dir: tempfile::TempDir,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Apache {
    /// Starts Apache and waits until `/server-status?auto` answers.
    pub fn start(options: ApacheOptions) -> Apache {
        let apache2 = require_tool("apache2", "apache2");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // The children (another user when started as root) open the mutex files and serve www.
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let www = d.join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("hello.txt"), "hello from apache\n").unwrap();
        let port = free_port();
        let mut backend_port = free_port();
        while backend_port == port {
            backend_port = free_port();
        }
        let mut tls_port = free_port();
        while tls_port == port || tls_port == backend_port {
            tls_port = free_port();
        }
        let p = |name: &str| d.join(name).display().to_string();
        let module = |name: &str, file: &str| format!("LoadModule {name} {MODULES}/{file}.so\n");
        let mut conf = format!(
            r#"ServerRoot {root}
PidFile {root}/apache2.pid
ErrorLog {root}/error.log
LogLevel warn
Mutex file:{root} default
DefaultRuntimeDir {root}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
Listen 127.0.0.1:{backend_port}
ExtendedStatus {extended}
KeepAlive {keep_alive}
StartServers 2
DocumentRoot {www}
<Directory {www}>
  Require all granted
</Directory>
<Location /server-status>
  SetHandler server-status
  Require ip 127.0.0.1
</Location>
"#,
            root = d.display(),
            www = www.display(),
            extended = if options.extended_status { "On" } else { "Off" },
            keep_alive = if options.keep_alive { "On" } else { "Off" },
        );
        if is_root() {
            conf.push_str("User nobody\nGroup nogroup\n");
        }
        conf.push_str(&module(
            &format!("mpm_{}_module", options.mpm),
            &format!("mod_mpm_{}", options.mpm),
        ));
        conf.push_str(&module("authz_core_module", "mod_authz_core"));
        conf.push_str(&module("authz_host_module", "mod_authz_host"));
        conf.push_str(&module("status_module", "mod_status"));
        if options.ssl {
            let openssl = require_tool("openssl", "openssl");
            let status = Command::new(openssl)
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                ])
                .args(["-subj", "/CN=localhost", "-keyout"])
                .arg(d.join("key.pem"))
                .arg("-out")
                .arg(d.join("cert.pem"))
                .output()
                .unwrap();
            assert!(status.status.success(), "openssl req failed");
            conf.push_str(&module("socache_shmcb_module", "mod_socache_shmcb"));
            conf.push_str(&module("ssl_module", "mod_ssl"));
            conf.push_str(&format!(
                "SSLSessionCache shmcb:{}(512000)\nListen 127.0.0.1:{tls_port}\n\
                 <VirtualHost 127.0.0.1:{tls_port}>\n  SSLEngine on\n  \
                 SSLCertificateFile {}\n  SSLCertificateKeyFile {}\n</VirtualHost>\n",
                p("ssl_scache"),
                p("cert.pem"),
                p("key.pem"),
            ));
        }
        if options.proxy {
            for (name, file) in [
                ("proxy_module", "mod_proxy"),
                ("proxy_http_module", "mod_proxy_http"),
                ("proxy_balancer_module", "mod_proxy_balancer"),
                ("slotmem_shm_module", "mod_slotmem_shm"),
                ("lbmethod_byrequests_module", "mod_lbmethod_byrequests"),
            ] {
                conf.push_str(&module(name, file));
            }
            // A member nothing listens on (its port was free a moment ago).
            let dead_port = free_port();
            conf.push_str(&format!(
                "ProxyStatus On\n<Proxy balancer://backend>\n  \
                 BalancerMember http://127.0.0.1:{backend_port}\n  \
                 BalancerMember http://127.0.0.1:{dead_port}\n</Proxy>\n\
                 ProxyPass /app balancer://backend\n"
            ));
        }
        let conf_path = d.join("apache2.conf");
        std::fs::write(&conf_path, conf).unwrap();
        // Its own process group: on shutdown the prefork parent signals its whole group, which
        // would otherwise include the test.
        let child = ChildGuard::spawn(
            Command::new(apache2)
                .arg("-f")
                .arg(&conf_path)
                .arg("-DFOREGROUND")
                .process_group(0),
        );
        wait_for_port(port, Duration::from_secs(10));
        let apache = Apache {
            port,
            backend_port,
            tls_port,
            dir,
            child,
        };
        // The parent listens before its children serve; wait for a real answer.
        let start = Instant::now();
        loop {
            let (status, body) = http_get(&apache.url("/server-status?auto"), &[]);
            if status == 200 && body.contains("Scoreboard: ") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "apache did not serve /server-status?auto: {status} {body}\n{}",
                std::fs::read_to_string(apache.dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        apache
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The process id of the parent.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// A loopback HTTP server answering `GET /server-status?auto` with a fixed page, as Apache's
/// mod_status would (`text/plain; charset=ISO-8859-1`), and 404 to anything else: it lets both
/// exporters read a page that the Apache installed here cannot write, such as Apache 2.2's.
/// Stops accepting connections when dropped.
pub struct StaticStatusPage {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaticStatusPage {
    /// Serves `page` (the bytes of a `?auto` answer).
    pub fn serve(page: Vec<u8>) -> StaticStatusPage {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        let port = listener.local_addr().expect("the bound address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let page = Arc::new(page);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let page = Arc::clone(&page);
                // One thread per connection: a client that holds an idle connection open
                // must not keep the other exporter waiting.
                std::thread::spawn(move || answer_status_request(stream, &page));
            }
        });
        StaticStatusPage {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for StaticStatusPage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking `accept` so that the thread sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request's head and answers it, closing the connection after the answer.
fn answer_status_request(mut stream: TcpStream, page: &[u8]) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
        if request.len() > 64 * 1024 {
            return;
        }
    }
    let (status, body): (&str, &[u8]) = if request.starts_with(b"GET /server-status?auto ") {
        ("200 OK", page)
    } else {
        ("404 Not Found", b"not found\n")
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}
