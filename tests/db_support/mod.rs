//! Real databases from Debian for the tests: a PostgreSQL 15 cluster (initdb) and a MariaDB
//! server (mariadb-install-db), each in a temporary directory, on a random loopback port,
//! stopped when dropped.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{free_port, require_tool, wait_for_port, ChildGuard};

/// The password of the `postgres` role and of MariaDB's `exporter` user over TCP: distinctive, so that finding it anywhere is
/// a leak and not a coincidence.
pub const PASSWORD: &str = "Pw-7f3c9e1d-do-not-print";

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL 15 server of its own: data directory and socket directory in a temporary
/// directory, listening on 127.0.0.1 only, password (scram) required over TCP.
pub struct Postgres {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// More server options (`-c ssl=on …`).
    options: String,
}

/// Runs a PostgreSQL program, as the `postgres` system user when the test runs as root
/// (PostgreSQL refuses to run as root).
fn pg_command(program: &str) -> Command {
    let path = Path::new(PG_BIN).join(program);
    assert!(
        path.is_file(),
        "{} is not installed: run scripts/install-test-deps.sh (apt-get install postgresql-15)",
        path.display()
    );
    if rustix::process::geteuid().is_root() {
        let mut command = Command::new(require_tool("runuser", "util-linux"));
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

pub fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with(false)
    }

    /// A server that also speaks TLS, with a self-signed certificate for 127.0.0.1 made by
    /// `openssl` ([`Postgres::certificate`]).
    pub fn start_with_tls() -> Postgres {
        Postgres::start_with(true)
    }

    /// The server's certificate (PEM), when started with TLS.
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    fn start_with(tls: bool) -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("sql-live-")
            .tempdir_in("/tmp")
            .expect("creating a temporary directory");
        if rustix::process::geteuid().is_root() {
            run(Command::new("chown").arg("postgres").arg(dir.path()));
        }
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if rustix::process::geteuid().is_root() {
            run(Command::new("chown").arg("postgres").arg(&pwfile));
        }
        let data = dir.path().join("data");
        run(pg_command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "-N"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display())));
        let mut options = String::new();
        if tls {
            let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
            run(Command::new(require_tool("openssl", "openssl"))
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                ])
                .args(["-subj", "/CN=localhost"])
                .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
                .args(["-addext", "basicConstraints=critical,CA:FALSE"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stderr(Stdio::null()));
            if rustix::process::geteuid().is_root() {
                run(Command::new("chown").arg("postgres").arg(&key).arg(&cert));
            }
            run(Command::new("chmod").arg("600").arg(&key));
            options = format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert.display(),
                key.display()
            );
        }
        let postgres = Postgres {
            port: free_port(),
            dir,
            options,
        };
        postgres.start_server();
        postgres
    }

    /// A streaming standby of this server on its own port, through a physical replication slot
    /// (`standby_slot`) on this one, so that both `pg_stat_replication` and
    /// `pg_replication_slots` have a row here. Returns once the standby streams.
    pub fn start_standby(&self) -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("sql-live-standby-")
            .tempdir_in("/tmp")
            .expect("creating a temporary directory");
        if rustix::process::geteuid().is_root() {
            run(Command::new("chown").arg("postgres").arg(dir.path()));
        }
        run(pg_command("pg_basebackup")
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-R", "-X", "stream", "-C", "-S", "standby_slot", "-d"])
            .arg(format!(
                "postgresql://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
                self.port
            )));
        let standby = Postgres {
            port: free_port(),
            dir,
            options: String::new(),
        };
        standby.start_server();
        let started = std::time::Instant::now();
        while self
            .rows_as_text("SELECT pid FROM pg_stat_replication WHERE state = 'streaming'")
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the standby did not stream within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        standby
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1{}",
            self.port,
            self.dir.path().display(),
            self.options
        );
        run(pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(Stdio::null()));
        wait_for_port(self.port, Duration::from_secs(10));
    }

    pub fn stop(&self) {
        let _ = pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The rows of `query`, as the `sql` kind sees them: an array of objects whose values are
    /// text or null (through psql over TCP, as the preset connects).
    pub fn rows_as_text(&self, query: &str) -> serde_json::Value {
        let wrapped = format!(
            "SELECT coalesce(json_agg((SELECT json_object_agg(key, value) \
             FROM json_each_text(row_to_json(t)))), '[]') FROM (\n{query}\n) AS t"
        );
        let out = run(pg_command("psql")
            .args(["-X", "-A", "-t", "-d"])
            .arg(format!(
                "postgresql://postgres:{PASSWORD}@127.0.0.1:{}/postgres?sslmode=disable",
                self.port
            ))
            .args(["-c", &wrapped]));
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A MariaDB server of its own: data directory and socket in a temporary directory, listening
/// on 127.0.0.1 only; `root` over the socket, `exporter` with [`PASSWORD`] over TCP.
pub struct Mariadb {
    _server: ChildGuard,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Mariadb {
    pub fn start() -> Mariadb {
        Mariadb::start_with(&[])
    }

    /// A server with a binary log, to be a replication source.
    pub fn start_primary() -> Mariadb {
        let primary = Mariadb::start_with(&["--log-bin=mysql-bin", "--server-id=1"]);
        primary.sql(&format!(
            "SET SESSION sql_log_bin = 0; \
             CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
             GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';"
        ));
        primary
    }

    /// A replica of this server (which must have been started with
    /// [`Mariadb::start_primary`]); returns once both replication threads run.
    pub fn start_replica(&self) -> Mariadb {
        let replica = Mariadb::start_with(&["--server-id=2"]);
        replica.sql(&format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, \
             MASTER_USER = 'repl', MASTER_PASSWORD = '{PASSWORD}'; START SLAVE;",
            self.port
        ));
        let started = std::time::Instant::now();
        loop {
            // ON once the replica is connected to its source and both threads run.
            let status = replica.sql("SHOW GLOBAL STATUS LIKE 'Slave_running'");
            if status.contains("ON") {
                return replica;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the replica did not start replicating: {status}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn start_with(options: &[&str]) -> Mariadb {
        let install = require_tool("mariadb-install-db", "mariadb-server");
        let server = require_tool("mariadbd", "mariadb-server");
        let root = rustix::process::geteuid().is_root();
        let dir = tempfile::Builder::new()
            .prefix("sql-live-maria-")
            .tempdir_in("/tmp")
            .expect("creating a temporary directory");
        if root {
            run(Command::new("chown").arg("mysql").arg(dir.path()));
        }
        let data = dir.path().join("data");
        // As root, both drop to the `mysql` user themselves (`--user`).
        let user = if root {
            vec!["--user=mysql"]
        } else {
            Vec::new()
        };
        run(Command::new(install)
            .arg("--no-defaults")
            .args(&user)
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .stdout(Stdio::null()));
        let port = free_port();
        let log = File::create(dir.path().join("server.log")).unwrap();
        let server = ChildGuard::spawn(
            Command::new(server)
                .arg("--no-defaults")
                .args(&user)
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--socket={}", dir.path().join("sock").display()))
                .arg(format!("--port={port}"))
                .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
                .args(options)
                .arg(format!("--pid-file={}", dir.path().join("pid").display()))
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
        wait_for_port(port, Duration::from_secs(30));
        let mariadb = Mariadb {
            _server: server,
            dir,
            port,
        };
        // Not in the binary log: a replica creates its own, and would stop on a second one.
        mariadb.sql(&format!(
            "SET SESSION sql_log_bin = 0; \
             CREATE USER 'exporter'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
             GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'127.0.0.1';"
        ));
        mariadb
    }

    /// The rows of `query`, as the `sql` kind sees them: an array of objects whose values are
    /// text or null (through the `mariadb` client's batch output, over TCP as `exporter`).
    pub fn rows_as_text(&self, query: &str) -> serde_json::Value {
        let out = run(Command::new(require_tool("mariadb", "mariadb-client"))
            .args([
                "--no-defaults",
                "-h",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
            ])
            .args([
                "-u",
                "exporter",
                &format!("-p{PASSWORD}"),
                "-B",
                "-e",
                query,
            ]));
        let mut lines = out.lines();
        let header: Vec<&str> = lines
            .next()
            .map(|h| h.split('\t').collect())
            .unwrap_or_default();
        let rows = lines
            .map(|line| {
                let object = header
                    .iter()
                    .zip(line.split('\t'))
                    .map(|(name, value)| {
                        let value = match value {
                            "NULL" => serde_json::Value::Null,
                            text => serde_json::Value::String(
                                text.replace("\\t", "\t")
                                    .replace("\\n", "\n")
                                    .replace("\\\\", "\\"),
                            ),
                        };
                        (name.to_string(), value)
                    })
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect();
        serde_json::Value::Array(rows)
    }

    /// Runs statements as root over the socket.
    pub fn sql(&self, statements: &str) -> String {
        run(Command::new(require_tool("mariadb", "mariadb-client"))
            .arg("--no-defaults")
            .arg(format!(
                "--socket={}",
                self.dir.path().join("sock").display()
            ))
            .args(["-uroot", "-N", "-B", "-e", statements]))
    }
}
