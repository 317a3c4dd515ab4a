//! A real nginx from Debian, started on 127.0.0.1 (and a unix socket) inside a temp dir, with a
//! `stub_status` page, static files, a basic-auth location, a bearer-token location, a redirect,
//! a 500 and a TLS listener with a self-signed certificate made by `openssl`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{free_port, require_tool, wait_for_port, ChildGuard};

/// The body of `/hello.txt`.
pub const HELLO: &str = "hello from nginx\n";
/// Basic-auth credentials of `/private/`.
pub const USER: &str = "alice";
/// Basic-auth password of `/private/`.
pub const PASSWORD: &str = "s3cret-pass";
/// The token `/bearer` accepts.
pub const TOKEN: &str = "t0ken-abc";

/// A running nginx; stopped when dropped.
pub struct Nginx {
    /// The plain HTTP port.
    pub port: u16,
    /// The TLS port (self-signed certificate for `localhost` and 127.0.0.1).
    pub tls_port: u16,
    /// The unix socket nginx also listens on.
    pub socket: PathBuf,
    /// The certificate nginx serves on `tls_port`.
    pub cert: PathBuf,
    // Before `dir`: fields drop in order, and nginx must stop before its files are removed
    // (a server still writing there can leave the directory behind in /tmp).
    child: ChildGuard,
    /// Holds the config, logs, certificate and socket.
    pub dir: tempfile::TempDir,
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Nginx {
    /// Starts nginx and waits until both ports accept connections.
    pub fn start() -> Nginx {
        let nginx = require_tool("nginx", "nginx");
        let openssl = require_tool("openssl", "openssl");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let www = d.join("www");
        std::fs::create_dir_all(www.join("private")).unwrap();
        std::fs::write(www.join("hello.txt"), HELLO).unwrap();
        std::fs::write(www.join("private/index.txt"), "private area\n").unwrap();
        let hash = run(Command::new(&openssl).args(["passwd", "-apr1", PASSWORD]));
        std::fs::write(d.join("htpasswd"), format!("{USER}:{}\n", hash.trim())).unwrap();
        let cert = d.join("cert.pem");
        run(Command::new(&openssl)
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-keyout",
            ])
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(&cert));
        let port = free_port();
        let mut tls_port = free_port();
        while tls_port == port {
            tls_port = free_port();
        }
        let socket = d.join("nginx.sock");
        let p = |name: &str| d.join(name).display().to_string();
        let conf = format!(
            r#"
user root root;
worker_processes 1;
pid {pid};
error_log {error_log} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_timeout 75s;
    default_type text/plain;
    server {{
        listen 127.0.0.1:{port};
        listen unix:{socket};
        root {www};
        location = /stub_status {{ stub_status; }}
        location /private/ {{
            auth_basic "private";
            auth_basic_user_file {htpasswd};
            index index.txt;
        }}
        location = /bearer {{
            if ($http_authorization != "Bearer {TOKEN}") {{ return 401; }}
            return 200 "bearer ok\n";
        }}
        location = /redirect {{ return 302 /hello.txt; }}
        location = /error {{ return 500; }}
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {www};
    }}
}}
"#,
            pid = p("nginx.pid"),
            error_log = p("error.log"),
            tmp = d.display(),
            socket = socket.display(),
            www = www.display(),
            htpasswd = p("htpasswd"),
            cert = cert.display(),
            key = p("key.pem"),
        );
        let conf_path = d.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = ChildGuard::spawn(Command::new(nginx).arg("-c").arg(&conf_path).args([
            "-e",
            &p("error.log"),
            "-g",
            "daemon off;",
        ]));
        wait_for_port(port, Duration::from_secs(10));
        wait_for_port(tls_port, Duration::from_secs(10));
        Nginx {
            port,
            tls_port,
            socket,
            cert,
            dir,
            child,
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `https://127.0.0.1:TLS_PORT{path}`.
    pub fn tls_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.tls_port)
    }

    /// The directory for extra files of a test.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The `notAfter` of a PEM certificate in seconds since the epoch, read by `openssl` and `date`.
pub fn cert_not_after_by_openssl(cert: &Path) -> i64 {
    let openssl = require_tool("openssl", "openssl");
    let out = run(Command::new(openssl)
        .args(["x509", "-noout", "-enddate", "-in"])
        .arg(cert));
    let date = out.trim().trim_start_matches("notAfter=");
    run(Command::new("date").args(["-u", "-d", date, "+%s"]))
        .trim()
        .parse()
        .unwrap()
}
