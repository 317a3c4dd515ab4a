//! End-to-end tests of `--web.config.file`: TLS, client certificates, basic auth, headers,
//! certificate rotation, errors and shutdown, against the real binary.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{free_port, http_get, Exporter};

/// Runs openssl in `dir`, panicking with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let openssl = common::require_tool("openssl", "openssl");
    let output = Command::new(openssl)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Makes `{name}-ca.crt`/`.key`, a CA, in `dir`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
            "-keyout",
            &format!("{name}-ca.key"),
            "-out",
            &format!("{name}-ca.crt"),
        ],
    );
}

/// Makes `{name}.crt`/`.key` signed by the CA `ca`, with the given extensions.
fn make_signed(dir: &Path, ca: &str, name: &str, extensions: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}-ca.crt"),
            "-CAkey",
            &format!("{ca}-ca.key"),
            "-CAcreateserial",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

const SERVER_EXTENSIONS: &str =
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
const CLIENT_EXTENSIONS: &str = "extendedKeyUsage=clientAuth\n";

/// A temporary directory with a server certificate for 127.0.0.1 signed by `server-ca.crt`.
fn dir_with_server_cert() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    make_ca(dir.path(), "server");
    make_signed(dir.path(), "server", "server", SERVER_EXTENSIONS);
    dir
}

fn certificate(dir: &Path, file: &str) -> reqwest::Certificate {
    reqwest::Certificate::from_pem(&std::fs::read(dir.join(file)).unwrap()).unwrap()
}

/// A client that trusts `server-ca.crt` only.
fn client_trusting(dir: &Path, ca_file: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(certificate(dir, ca_file))
        .timeout(Duration::from_secs(20))
}

/// No collectors: these tests are about the server, not about what it collects.
const CONFIG: &str = "collectors: []\n";

fn start(dir: tempfile::TempDir, web_config: &str) -> Exporter {
    std::fs::write(dir.path().join("web.yml"), web_config).unwrap();
    std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
    Exporter::start_in(
        dir,
        &[
            "--config.file",
            "config.yaml",
            "--web.config.file",
            "web.yml",
        ],
    )
}

fn https(exporter: &Exporter, path: &str) -> String {
    format!("https://127.0.0.1:{}{}", exporter.port, path)
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_basic_auth_and_headers() {
    let dir = dir_with_server_cert();
    let hash = bcrypt::hash("s3cret pass", 4).unwrap();
    let exporter = start(
        dir,
        &format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             http_server_config:\n  headers:\n    X-Frame-Options: deny\n\
             basic_auth_users:\n  prometheus: '{hash}'\n"
        ),
    );
    let client = client_trusting(exporter.dir.path(), "server-ca.crt")
        .build()
        .unwrap();

    let response = client
        .get(https(&exporter, "/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(header(&response, "www-authenticate"), Some("Basic"));
    assert_eq!(header(&response, "x-frame-options"), Some("deny"));

    let response = client
        .get(https(&exporter, "/metrics"))
        .basic_auth("prometheus", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(header(&response, "www-authenticate"), Some("Basic"));
    let response = client
        .get(https(&exporter, "/metrics"))
        .basic_auth("nobody", Some("s3cret pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    for _ in 0..3 {
        let response = client
            .get(https(&exporter, "/metrics"))
            .basic_auth("prometheus", Some("s3cret pass"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-frame-options"), Some("deny"));
        let content_type = header(&response, "content-type").unwrap_or_default();
        assert!(content_type.contains("version=0.0.4"), "{content_type}");
    }

    // Like exporter-toolkit, every path is protected, the health check too.
    let response = client
        .get(https(&exporter, "/-/healthy"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = client
        .get(https(&exporter, "/-/healthy"))
        .basic_auth("prometheus", Some("s3cret pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Plain HTTP on the TLS port gets a readable refusal, never the metrics.
    let url = exporter.url("/metrics");
    let (status, body) = tokio::task::spawn_blocking(move || http_get(&url, &[]))
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("HTTPS"), "{body}");

    // A client that does not trust the CA refuses the server.
    let untrusting = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(untrusting
        .get(https(&exporter, "/-/healthy"))
        .send()
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn client_certificate_required() {
    let dir = dir_with_server_cert();
    make_ca(dir.path(), "clients");
    make_signed(dir.path(), "clients", "client", CLIENT_EXTENSIONS);
    // A client certificate from another CA must not get in either.
    make_ca(dir.path(), "other");
    make_signed(dir.path(), "other", "stranger", CLIENT_EXTENSIONS);
    let exporter = start(
        dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients-ca.crt\n  \
         min_version: TLS13\n",
    );
    let dir = exporter.dir.path();
    let identity = |name: &str| {
        let mut pem = std::fs::read(dir.join(format!("{name}.crt"))).unwrap();
        pem.extend(std::fs::read(dir.join(format!("{name}.key"))).unwrap());
        reqwest::Identity::from_pem(&pem).unwrap()
    };

    let without_cert = client_trusting(dir, "server-ca.crt").build().unwrap();
    let error = without_cert
        .get(https(&exporter, "/metrics"))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_connect() || error.is_request(), "{error:?}");

    let stranger = client_trusting(dir, "server-ca.crt")
        .identity(identity("stranger"))
        .build()
        .unwrap();
    assert!(stranger
        .get(https(&exporter, "/metrics"))
        .send()
        .await
        .is_err());

    let with_cert = client_trusting(dir, "server-ca.crt")
        .identity(identity("client"))
        .build()
        .unwrap();
    let response = with_cert
        .get(https(&exporter, "/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // min_version: TLS13 refuses a TLS 1.2 client.
    let tls12 = client_trusting(dir, "server-ca.crt")
        .identity(identity("client"))
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    assert!(tls12
        .get(https(&exporter, "/metrics"))
        .send()
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_certificate_is_served_on_the_next_connection() {
    let dir = dir_with_server_cert();
    make_ca(dir.path(), "new");
    make_signed(dir.path(), "new", "rotated", SERVER_EXTENSIONS);
    let exporter = start(
        dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    let dir = exporter.dir.path();
    let old_ca = client_trusting(dir, "server-ca.crt").build().unwrap();
    let new_ca = || {
        client_trusting(dir, "new-ca.crt")
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let healthy = https(&exporter, "/-/healthy");
    assert_eq!(old_ca.get(&healthy).send().await.unwrap().status(), 200);
    assert!(new_ca().get(&healthy).send().await.is_err());

    // Swap in the new pair the way a certificate manager does: write aside, then rename.
    for ext in ["key", "crt"] {
        std::fs::copy(
            dir.join(format!("rotated.{ext}")),
            dir.join(format!("next.{ext}")),
        )
        .unwrap();
        std::fs::rename(
            dir.join(format!("next.{ext}")),
            dir.join(format!("server.{ext}")),
        )
        .unwrap();
    }
    let response = new_ca().get(&healthy).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn bad_web_config_stops_the_start_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        "tls_server_config:\n  cert_file: a.crt\n  key_fil: a.key\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .current_dir(dir.path())
        .args(["--web.config.file", "web.yml"])
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("web.yml:3:3: "), "{stderr}");
    assert!(stderr.contains("unknown field `key_fil`"), "{stderr}");

    std::fs::write(
        dir.path().join("web.yml"),
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sidecar-exporter"))
        .current_dir(dir.path())
        .args(["--web.config.file", "web.yml"])
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("web.yml:2:3: cannot read cert_file"),
        "{stderr}"
    );
}

#[test]
fn basic_auth_without_tls_and_graceful_shutdown_over_tls() {
    // Basic auth also works on plain HTTP (no tls_server_config).
    let hash = bcrypt::hash("pw", 4).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exporter = start(dir, &format!("basic_auth_users:\n  u: '{hash}'\n"));
    let (status, _) = exporter.get("/-/healthy");
    assert_eq!(status, 401);
    let (status, _) = http_get(
        &exporter.url("/-/healthy"),
        &[("Authorization", "Basic dTpwdw==")],
    );
    assert_eq!(status, 200);

    // SIGTERM stops a TLS server promptly and cleanly.
    let dir = dir_with_server_cert();
    let mut exporter = start(
        dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    let status = exporter.terminate();
    assert!(status.success(), "{status:?}");
}
