//! End to end with a real Prometheus: real servers on 127.0.0.1 (nginx, redis, apache, haproxy,
//! php-fpm behind nginx, lighttpd, beanstalkd, uwsgi, nats-server, named, squid, a few `sleep`
//! processes), the sidecar watching them, and Debian's `prometheus` scraping the sidecar every second. Then
//! every PromQL expression of every dashboard panel and alert rule (`dashboards/`) is evaluated
//! through Prometheus' HTTP API.
//!
//! What is checked:
//! - `up{job="sidecar"} == 1` and every collector of the sidecar is up in Prometheus;
//! - every dashboard expression returns data;
//! - every alert rule is loaded by Prometheus with health `ok`, its expression evaluates without
//!   error, and its condition evaluated with the `bool` modifier (`x > bool 5`) returns data: an
//!   alert's expression is usually empty when all is well, but with `bool` the comparison yields
//!   its 0/1 verdict for every series it looks at, so it returns data exactly when the metrics
//!   the rule reads exist, healthy or not;
//! - expressions that read metrics of an app preset that is not in the catalogue yet
//!   (`sidecar_exporter::config::presets::find`) are not evaluated; they are listed, with the missing
//!   preset, in the test output. Every other expression is checked.

mod common;
mod db_support;
mod nginx_support;
mod promql;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::servers::{Named, Squid, A};
use common::{free_port, http_get, require_tool, ChildGuard, Exporter};
use db_support::{Mariadb, Postgres, PASSWORD};
use nginx_support::Nginx;
use serde_json::Value;
use sidecar_exporter::config::presets::{self, Preset};

/// An app whose metrics come from a preset, and how the test's servers are reached.
struct AppFamily {
    /// The family's name in the test output.
    family: &'static str,
    /// The names the preset may be registered under (the first one found is used).
    preset_names: &'static [&'static str],
    /// The prefix of the metrics the preset emits (`nginx_` for `nginx_up`, …).
    metric_prefix: &'static str,
    /// The path and query of the status page, used when the preset has no default `url`.
    default_path: &'static str,
}

/// Every preset family with a dashboard or alert rule, or whose server this test runs.
const APP_FAMILIES: &[AppFamily] = &[
    AppFamily {
        family: "nginx",
        preset_names: &["nginx"],
        metric_prefix: "nginx_",
        default_path: "/stub_status",
    },
    AppFamily {
        family: "apache",
        preset_names: &["apache"],
        metric_prefix: "apache_",
        default_path: "/server-status?auto",
    },
    AppFamily {
        family: "redis",
        preset_names: &["redis"],
        metric_prefix: "redis_",
        default_path: "",
    },
    AppFamily {
        family: "haproxy",
        preset_names: &["haproxy"],
        metric_prefix: "haproxy_",
        default_path: "/stats;csv",
    },
    AppFamily {
        family: "php-fpm",
        preset_names: &["php_fpm", "php-fpm", "phpfpm"],
        metric_prefix: "phpfpm_",
        default_path: "/status?json",
    },
    AppFamily {
        family: "lighttpd",
        preset_names: &["lighttpd"],
        metric_prefix: "lighttpd_",
        default_path: "/server-status?auto",
    },
    AppFamily {
        family: "beanstalkd",
        preset_names: &["beanstalkd"],
        // beanstalkd_exporter's names have no common prefix; its job gauges all start so.
        metric_prefix: "current_jobs_",
        default_path: "",
    },
    AppFamily {
        family: "uwsgi",
        preset_names: &["uwsgi"],
        metric_prefix: "uwsgi_",
        default_path: "",
    },
    AppFamily {
        family: "nats",
        preset_names: &["nats"],
        metric_prefix: "gnatsd_",
        default_path: "/varz",
    },
    AppFamily {
        family: "bind",
        preset_names: &["bind"],
        metric_prefix: "bind_",
        default_path: "/json/v1",
    },
    AppFamily {
        family: "squid",
        preset_names: &["squid"],
        metric_prefix: "squid_",
        default_path: "/squid-internal-mgr",
    },
    AppFamily {
        family: "postgres",
        preset_names: &["postgres"],
        metric_prefix: "pg_",
        default_path: "",
    },
    AppFamily {
        family: "mysql",
        preset_names: &["mysql"],
        metric_prefix: "mysql_",
        default_path: "",
    },
];

impl AppFamily {
    fn preset(&self) -> Option<&'static Preset> {
        self.preset_names
            .iter()
            .find_map(|name| presets::find(name))
    }
}

/// Everything the sidecar watches in this test; all stopped on drop.
struct Apps {
    nginx: Nginx,
    redis_port: u16,
    apache_port: u16,
    haproxy_stats_port: u16,
    php_fpm_port: u16,
    /// lighttpd, beanstalkd, uWSGI's stats server and NATS' monitoring port.
    more: MoreApps,
    named: Named,
    squid: Squid,
    postgres: Postgres,
    mariadb: Mariadb,
    _children: Vec<ChildGuard>,
    dir: tempfile::TempDir,
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A child whose output goes to `log` in the test's directory (shown when a server fails).
fn spawn_logged(command: &mut Command, log: &Path) -> ChildGuard {
    let file = std::fs::File::create(log).expect("creating a log file");
    let err = file.try_clone().expect("cloning a log file handle");
    ChildGuard::spawn(command.stdout(Stdio::from(file)).stderr(Stdio::from(err)))
}

fn wait_for_server(name: &str, port: u16, log: &Path) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "{name} did not listen on 127.0.0.1:{port}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

impl Apps {
    fn start() -> Apps {
        let redis = require_tool("redis-server", "redis-server");
        let apache = require_tool("apache2", "apache2");
        let haproxy = require_tool("haproxy", "haproxy");
        let php_fpm = require_tool("php-fpm8.2", "php-fpm");
        let nginx_bin = require_tool("nginx", "nginx");
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let d = dir.path();
        let nginx = Nginx::start();
        let mut children = Vec::new();

        // redis
        let redis_port = free_port();
        let log = d.join("redis.log");
        children.push(spawn_logged(
            Command::new(redis)
                .args(["--bind", "127.0.0.1", "--port", &redis_port.to_string()])
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(d),
            &log,
        ));
        wait_for_server("redis-server", redis_port, &log);

        // apache with mod_status on every path (the preset picks the path and `?auto`)
        let apache_port = free_port();
        let modules = "/usr/lib/apache2/modules";
        write(
            &d.join("apache2.conf"),
            &format!(
                r#"LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule status_module {modules}/mod_status.so
ServerName localhost
Listen 127.0.0.1:{apache_port}
PidFile {d}/apache2.pid
Mutex file:{d}
ErrorLog {d}/apache2-error.log
DocumentRoot {d}
User www-data
Group www-data
ExtendedStatus On
<Location />
    SetHandler server-status
    Require all granted
</Location>
"#,
                d = d.display()
            ),
        );
        let log = d.join("apache2.log");
        children.push(spawn_logged(
            Command::new(apache)
                .arg("-f")
                .arg(d.join("apache2.conf"))
                .arg("-DFOREGROUND"),
            &log,
        ));
        wait_for_server("apache2", apache_port, &log);

        // haproxy: stats on every path of one port, a frontend balancing to nginx on another
        let haproxy_stats_port = free_port();
        let haproxy_port = free_port();
        write(
            &d.join("haproxy.cfg"),
            &format!(
                r#"global
    maxconn 64
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen stats
    bind 127.0.0.1:{haproxy_stats_port}
    stats enable
    stats uri /
frontend web
    bind 127.0.0.1:{haproxy_port}
    default_backend app
backend app
    server nginx 127.0.0.1:{nginx_port} check inter 1s
"#,
                nginx_port = nginx.port
            ),
        );
        let log = d.join("haproxy.log");
        children.push(spawn_logged(
            Command::new(haproxy)
                .arg("-db")
                .arg("-f")
                .arg(d.join("haproxy.cfg")),
            &log,
        ));
        wait_for_server("haproxy", haproxy_stats_port, &log);
        // one request through it, so that its counters move
        let _ = http_get(&format!("http://127.0.0.1:{haproxy_port}/hello.txt"), &[]);

        // php-fpm, its status page served over HTTP by a second nginx on every path
        let fpm_port = free_port();
        write(
            &d.join("php-fpm.conf"),
            &format!(
                r#"[global]
pid = {d}/php-fpm.pid
error_log = {d}/php-fpm-error.log
daemonize = no
[www]
user = www-data
group = www-data
listen = 127.0.0.1:{fpm_port}
pm = static
pm.max_children = 2
pm.status_path = /status
"#,
                d = d.display()
            ),
        );
        let log = d.join("php-fpm.log");
        children.push(spawn_logged(
            Command::new(php_fpm)
                .arg("--nodaemonize")
                .arg("--fpm-config")
                .arg(d.join("php-fpm.conf")),
            &log,
        ));
        wait_for_server("php-fpm", fpm_port, &log);
        let php_fpm_port = free_port();
        write(
            &d.join("nginx-fpm.conf"),
            &format!(
                r#"user root root;
worker_processes 1;
pid {d}/nginx-fpm.pid;
error_log {d}/nginx-fpm-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{php_fpm_port};
        location / {{
            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param SCRIPT_NAME /status;
            fastcgi_param SCRIPT_FILENAME /status;
            fastcgi_param REQUEST_URI /status;
            fastcgi_pass 127.0.0.1:{fpm_port};
        }}
    }}
}}
"#,
                d = d.display()
            ),
        );
        let log = d.join("nginx-fpm.log");
        children.push(spawn_logged(
            Command::new(nginx_bin)
                .arg("-c")
                .arg(d.join("nginx-fpm.conf"))
                .args(["-e", &d.join("nginx-fpm-error.log").display().to_string()])
                .args(["-g", "daemon off;"]),
            &log,
        ));
        wait_for_server("nginx in front of php-fpm", php_fpm_port, &log);

        let more = MoreApps::start(d, &mut children);
        let named = Named::start();
        for name in ["www.example.test", "nope.example.test"] {
            named.query(name, A);
        }
        let squid = Squid::start();

        // a few plain processes for the process collector
        for _ in 0..3 {
            children.push(ChildGuard::spawn(Command::new("sleep").arg("300")));
        }

        // The status pages the presets read answer as the replaced exporters expect.
        for (name, url, expected) in [
            (
                "apache2 mod_status",
                format!("http://127.0.0.1:{apache_port}/server-status?auto"),
                "Total Accesses:",
            ),
            (
                "haproxy CSV stats",
                format!("http://127.0.0.1:{haproxy_stats_port}/stats;csv"),
                "# pxname,svname,",
            ),
            (
                "php-fpm status",
                format!("http://127.0.0.1:{php_fpm_port}/status?json"),
                "\"accepted conn\":",
            ),
        ] {
            let (status, body) = http_get(&url, &[]);
            assert!(
                status == 200 && body.contains(expected),
                "{name} at {url}: HTTP {status}: {body}"
            );
        }

        // the databases of the sql presets, with the password in a file for `password_file`
        let postgres = Postgres::start();
        let mariadb = Mariadb::start();
        write(&d.join("db-password"), PASSWORD);

        Apps {
            nginx,
            redis_port,
            apache_port,
            haproxy_stats_port,
            php_fpm_port,
            more,
            named,
            squid,
            postgres,
            mariadb,
            _children: children,
            dir,
        }
    }

    /// The port of the test's server for `family`.
    fn port(&self, family: &str) -> u16 {
        match family {
            "nginx" => self.nginx.port,
            "apache" => self.apache_port,
            "redis" => self.redis_port,
            "haproxy" => self.haproxy_stats_port,
            "php-fpm" => self.php_fpm_port,
            "lighttpd" => self.more.lighttpd,
            "beanstalkd" => self.more.beanstalkd,
            "uwsgi" => self.more.uwsgi_stats,
            "nats" => self.more.nats_monitor,
            "bind" => self.named.stats_port,
            "squid" => self.squid.port,
            "postgres" => self.postgres.port,
            "mysql" => self.mariadb.port,
            other => panic!("no server for {other}"),
        }
    }
}

/// The servers of the lighttpd, beanstalkd, uwsgi and nats presets, each with some traffic.
struct MoreApps {
    lighttpd: u16,
    beanstalkd: u16,
    uwsgi_stats: u16,
    nats_monitor: u16,
}

impl MoreApps {
    fn start(d: &Path, children: &mut Vec<ChildGuard>) -> MoreApps {
        let lighttpd = free_port();
        write(
            &d.join("lighttpd.conf"),
            &format!(
                "server.document-root = \"{d}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {lighttpd}\n\
                 server.modules = (\"mod_status\")\nstatus.status-url = \"/server-status\"\n",
                d = d.display()
            ),
        );
        let log = d.join("lighttpd.log");
        children.push(spawn_logged(
            Command::new(require_tool("lighttpd", "lighttpd"))
                .arg("-D")
                .arg("-f")
                .arg(d.join("lighttpd.conf")),
            &log,
        ));
        wait_for_server("lighttpd", lighttpd, &log);

        let beanstalkd = free_port();
        let log = d.join("beanstalkd.log");
        children.push(spawn_logged(
            Command::new(require_tool("beanstalkd", "beanstalkd")).args([
                "-l",
                "127.0.0.1",
                "-p",
                &beanstalkd.to_string(),
            ]),
            &log,
        ));
        wait_for_server("beanstalkd", beanstalkd, &log);
        let mut producer = std::net::TcpStream::connect(("127.0.0.1", beanstalkd)).unwrap();
        std::io::Write::write_all(&mut producer, b"put 0 0 60 2\r\nhi\r\nquit\r\n").unwrap();

        let (uwsgi_http, uwsgi_stats) = (free_port(), free_port());
        write(
            &d.join("app.py"),
            "def application(env, start_response):\n    \
             start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'ok']\n",
        );
        let log = d.join("uwsgi.log");
        children.push(spawn_logged(
            Command::new(require_tool("uwsgi", "uwsgi-core"))
                .current_dir(d)
                .args(["--plugin", "python3", "--wsgi-file", "app.py", "--master"])
                .args(["--processes", "2", "--die-on-term"])
                .arg(format!("--http-socket=127.0.0.1:{uwsgi_http}"))
                .arg(format!("--stats=127.0.0.1:{uwsgi_stats}")),
            &log,
        ));
        wait_for_server("uwsgi stats", uwsgi_stats, &log);

        let (nats, nats_monitor) = (free_port(), free_port());
        let log = d.join("nats.log");
        children.push(spawn_logged(
            Command::new(require_tool("nats-server", "nats-server"))
                .args(["-a", "127.0.0.1", "-p", &nats.to_string()])
                .args(["-m", &nats_monitor.to_string()]),
            &log,
        ));
        wait_for_server("nats-server", nats_monitor, &log);

        MoreApps {
            lighttpd,
            beanstalkd,
            uwsgi_stats,
            nats_monitor,
        }
    }
}

/// The collector entry of a preset: `address:` for a TCP preset, otherwise `url:` pointing at
/// the test's server, keeping the path and query of the preset's own default URL if it has one.
fn preset_collector(app: &AppFamily, preset: &Preset, port: u16, password_file: &Path) -> String {
    let mapping = preset
        .mapping()
        .unwrap_or_else(|e| panic!("preset {} is not valid YAML: {e}", preset.name));
    let field = |key: &str| {
        mapping
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let target = if field("kind").as_deref() == Some("tcp_text") {
        format!("    address: 127.0.0.1:{port}\n")
    } else if field("kind").as_deref() == Some("sql") {
        // The preset's DSN with the test server's port, the password from a file.
        let dsn = field("dsn").expect("an sql preset has a default dsn");
        let (head, rest) = dsn.split_once("@127.0.0.1:").expect("dsn on 127.0.0.1");
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        format!(
            "    dsn: '{head}@127.0.0.1:{port}{path}'\n    password_file: '{}'\n",
            password_file.display()
        )
    } else {
        let path = field("url")
            .and_then(|url| {
                let rest = url.split_once("://")?.1;
                rest.find('/').map(|i| rest[i..].to_string())
            })
            .unwrap_or_else(|| app.default_path.to_string());
        format!("    url: 'http://127.0.0.1:{port}{path}'\n")
    };
    format!(
        "  - name: {family}\n    preset: {preset}\n{target}",
        family = app.family.replace('-', "_"),
        preset = preset.name
    )
}

fn exporter_config(apps: &Apps, json_file: &Path) -> String {
    let mut config = format!(
        r#"collectors:
  - name: processes
    kind: process
    groups:
      - name: "{{{{comm}}}}"
        comm: [nginx, redis-server, apache2, haproxy, php-fpm8.2, sleep]
  - name: probe_http
    kind: http_probe
    url: {http}
    labels: {{probe: http}}
  - name: probe_https
    kind: http_probe
    url: {https}
    tls_config: {{ca_file: '{cert}'}}
    labels: {{probe: https}}
  - name: app_json
    kind: file
    path: '{json}'
    format: json
    metrics:
      - name: app_orders_total
        help: Orders taken.
        path: '{{ .orders }}'
        valuetype: counter
"#,
        http = apps.nginx.url("/hello.txt"),
        https = apps.nginx.tls_url("/hello.txt"),
        cert = apps.nginx.cert.display(),
        json = json_file.display(),
    );
    for app in APP_FAMILIES {
        if let Some(preset) = app.preset() {
            config.push_str(&preset_collector(
                app,
                preset,
                apps.port(app.family),
                &apps.dir.path().join("db-password"),
            ));
        }
    }
    config
}

/// Percent-encodes a query parameter value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A running Prometheus scraping the sidecar.
struct Prometheus {
    port: u16,
    // Before `dir`: fields drop in order, and Prometheus must stop (it writes its TSDB there)
    // before the directory is removed.
    _child: ChildGuard,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(exporter_port: u16) -> Prometheus {
        let prometheus = require_tool("prometheus", "prometheus");
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let port = free_port();
        let rules = promql::dashboards_dir().join("alerts.yaml");
        write(
            &dir.path().join("prometheus.yml"),
            &format!(
                r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: ['{rules}']
scrape_configs:
  - job_name: sidecar
    static_configs:
      - targets: ['127.0.0.1:{exporter_port}']
"#,
                rules = rules.display()
            ),
        );
        let log = dir.path().join("prometheus.log");
        let child = spawn_logged(
            Command::new(prometheus)
                .arg(format!(
                    "--config.file={}",
                    dir.path().join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}")),
            &log,
        );
        let started = Prometheus {
            port,
            dir,
            _child: child,
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && http_get(&started.url("/-/ready"), &[]).0 == 200
            {
                return started;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus did not become ready: {}", started.log());
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GETs an API path and returns its JSON, or a description of what went wrong.
    fn api(&self, path_and_query: &str) -> Result<Value, String> {
        let (status, body) = http_get(&self.url(path_and_query), &[]);
        let json: Value = serde_json::from_str(&body)
            .map_err(|e| format!("HTTP {status}, not JSON ({e}): {body}"))?;
        if json["status"] != "success" {
            return Err(format!(
                "HTTP {status}: {} {}",
                json["errorType"].as_str().unwrap_or(""),
                json["error"].as_str().unwrap_or(&body)
            ));
        }
        Ok(json["data"].clone())
    }

    /// Evaluates `expr` now; `Ok` holds the number of result series (1 for a scalar).
    fn query(&self, expr: &str) -> Result<(usize, Value), String> {
        let data = self.api(&format!("/api/v1/query?query={}", encode(expr)))?;
        let count = match data["resultType"].as_str() {
            Some("vector") | Some("matrix") => data["result"].as_array().map_or(0, Vec::len),
            Some("scalar") | Some("string") => 1,
            other => return Err(format!("unexpected result type {other:?}")),
        };
        Ok((count, data["result"].clone()))
    }

    /// The value of a one-series instant query.
    fn value(&self, expr: &str) -> Option<f64> {
        let (_, result) = self.query(expr).ok()?;
        result[0]["value"][1].as_str()?.parse().ok()
    }
}

/// Adds the `bool` modifier to every comparison operator outside label matchers and strings, so
/// that a condition (`x > 5`) yields its 0/1 verdict for every series instead of filtering them.
fn with_bool_comparisons(expr: &str) -> String {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() + 16);
    let mut braces = 0usize;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 1;
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '{' => braces += 1,
            '}' => braces = braces.saturating_sub(1),
            _ => {}
        }
        let next = chars.get(i + 1).copied();
        let operator_len = match (c, next) {
            ('=', Some('=')) | ('!', Some('=')) | ('>', Some('=')) | ('<', Some('=')) => 2,
            ('>', _) | ('<', _) => 1,
            _ => 0,
        };
        if braces == 0 && operator_len > 0 {
            out.extend(&chars[i..i + operator_len]);
            i += operator_len;
            let rest: String = chars[i..].iter().collect();
            if !rest.trim_start().starts_with("bool") {
                out.push_str(" bool");
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The metric names an expression reads: identifiers outside strings and label matchers that
/// are not followed by `(` (functions, `by (`, `on (`…). Keywords come along; callers only
/// compare prefixes.
fn identifiers(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut braces = 0usize;
    let mut quote: Option<char> = None;
    let mut current = String::new();
    for c in expr.chars().chain(std::iter::once(' ')) {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        if braces == 0 && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            current.push(c);
            continue;
        }
        if !current.is_empty() && !current.starts_with(|d: char| d.is_ascii_digit()) {
            out.push(std::mem::take(&mut current));
        }
        current.clear();
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '{' => braces += 1,
            '}' => braces = braces.saturating_sub(1),
            _ => {}
        }
    }
    out
}

/// The preset families an expression needs that are not in the catalogue yet.
fn missing_families(expr: &str) -> Vec<&'static str> {
    let names = identifiers(expr);
    APP_FAMILIES
        .iter()
        .filter(|app| app.preset().is_none())
        .filter(|app| names.iter().any(|n| n.starts_with(app.metric_prefix)))
        .map(|app| app.family)
        .collect()
}

#[test]
fn bool_is_added_to_comparisons_only() {
    assert_eq!(with_bool_comparisons("up == 0"), "up == bool 0".to_string());
    assert_eq!(
        with_bool_comparisons(r#"x{a!="b",c=~"d"} > 5 and on (job) y"#),
        r#"x{a!="b",c=~"d"} > bool 5 and on (job) y"#
    );
    assert_eq!(
        with_bool_comparisons("sum(rate(e[5m])) >= 0.05"),
        "sum(rate(e[5m])) >= bool 0.05"
    );
    assert_eq!(with_bool_comparisons("x < bool 1"), "x < bool 1");
    assert_eq!(with_bool_comparisons(r#"x{a="<>"}"#), r#"x{a="<>"}"#);
}

#[test]
fn identifiers_skip_label_matchers() {
    assert_eq!(
        identifiers(r#"sum by (job) (rate(nginx_x{job=~"redis_.+"}[1m])) - 2"#),
        ["sum", "by", "job", "rate", "nginx_x"]
    );
}

#[test]
fn every_dashboard_and_alert_expression_returns_data_in_prometheus() {
    let started = Instant::now();
    let apps = Apps::start();
    let json_dir = tempfile::tempdir().expect("creating a temporary directory");
    let json_file = json_dir.path().join("app.json");
    write(&json_file, r#"{"orders": 12}"#);
    let config = exporter_config(&apps, &json_file);
    println!("sidecar config:\n{config}");
    let exporter = Exporter::start(&config);
    // The config must be what the sidecar runs: every collector listed on its status page.
    let body = exporter.metrics();
    assert!(
        body.contains("sidecar_exporter_collector_up"),
        "no self-metrics: {body}"
    );

    let prometheus = Prometheus::start(exporter.port);
    // Two scrape intervals: three samples of `up`, so that rate() over them has data.
    let start = Instant::now();
    loop {
        let samples = prometheus.value(r#"count_over_time(up{job="sidecar"}[1m])"#);
        if samples.is_some_and(|n| n >= 3.0) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "Prometheus did not scrape the sidecar three times in 30 s: {}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let targets = prometheus.api("/api/v1/targets").unwrap_or_default();
    assert_eq!(
        prometheus.value(r#"up{job="sidecar"}"#),
        Some(1.0),
        "the sidecar target is not up: {targets}"
    );
    let (down_count, down) = prometheus
        .query(r#"sidecar_exporter_collector_up{job="sidecar"} == 0"#)
        .expect("querying collectors down");
    assert_eq!(
        down_count,
        0,
        "collectors down in the sidecar: {down}\n{}",
        exporter.get("/").1
    );

    // The alert rules are loaded and evaluate cleanly.
    let rules = prometheus.api("/api/v1/rules").expect("listing rules");
    let loaded: Vec<(String, String)> = rules["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("?").to_string(),
                r["health"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    let alert_exprs = promql::rule_exprs(&promql::dashboards_dir().join("alerts.yaml"));
    assert_eq!(
        loaded.len(),
        alert_exprs.len(),
        "Prometheus loaded {loaded:?}"
    );
    for (name, health) in &loaded {
        // "unknown" until the first evaluation, which happens within a second
        assert!(
            health == "ok" || health == "unknown",
            "rule {name}: {health}: {rules}"
        );
    }

    let mut checked = 0;
    let mut pending: Vec<(String, Vec<&str>)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for expr in promql::all_exprs() {
        let missing = missing_families(&expr.expr);
        if !missing.is_empty() {
            pending.push((expr.origin.clone(), missing));
            continue;
        }
        checked += 1;
        let is_rule = expr.origin.starts_with("alerts.yaml");
        let evaluated = if is_rule {
            // the condition itself must be valid; its verdict per series must have data
            let verdict = with_bool_comparisons(&expr.expr);
            prometheus
                .query(&expr.expr)
                .and_then(|_| prometheus.query(&verdict))
                .map_err(|e| format!("{e} (evaluated as `{verdict}`)"))
                .map(|(count, result)| (count, result, format!(" (evaluated as `{verdict}`)")))
        } else {
            prometheus
                .query(&expr.expr)
                .map(|(count, result)| (count, result, String::new()))
        };
        match evaluated {
            Ok((0, _, how)) => {
                failures.push(format!("{}: no data for `{}`{how}", expr.origin, expr.expr))
            }
            Ok(_) => {}
            Err(e) => failures.push(format!("{}: `{}`: {e}", expr.origin, expr.expr)),
        }
    }

    let missing_presets: Vec<&str> = APP_FAMILIES
        .iter()
        .filter(|a| a.preset().is_none())
        .map(|a| a.family)
        .collect();
    println!(
        "checked {checked} expressions; presets not in the catalogue yet: {missing_presets:?}"
    );
    println!(
        "{} expressions wait for those presets (not evaluated):",
        pending.len()
    );
    for (origin, families) in &pending {
        println!("  {origin} (needs preset {})", families.join(", "));
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} expressions failed:\n{}\nsidecar metrics:\n{}",
        failures.len(),
        failures.join("\n"),
        exporter.metrics()
    );
    assert!(checked > 0, "no expression was checked");
    println!("end-to-end test took {:?}", started.elapsed());
}
