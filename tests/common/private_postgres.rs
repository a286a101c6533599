//! A PostgreSQL server of the test's own (its own data directory and port, started with
//! `initdb` + `pg_ctl` as the `postgres` user), for tests that need server settings of their
//! own or that stop, restart or hang a server: the machine's shared server is never touched.
//! Stopped and removed when dropped.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]
#![allow(dead_code)] // each suite uses part of it

/// Shared with the MariaDB and PgBouncer helpers, which are always included beside this one.
#[path = "orphans.rs"]
pub mod orphans;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct PrivatePostgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

/// Where Debian keeps the server binaries (`/usr/lib/postgresql/<version>/bin`).
fn server_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn as_postgres(program: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .output()
        .expect("the PostgreSQL server binaries run")
}

/// Whether this process runs as root (the server refuses to run as root: it is started as
/// `postgres` then).
fn is_root() -> bool {
    std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PrivatePostgres {
    /// A fresh server with `settings` (`-c name=value` each), trust authentication on
    /// 127.0.0.1; `None` after saying SKIPPED when the server binaries are not installed or
    /// `POOLSCOPE_PG_URL` is not set (the suites that need a server run only then).
    pub fn start(test: &str, settings: &[&str]) -> Option<PrivatePostgres> {
        use std::io::Write;
        let skip = |why: &str| {
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            None
        };
        if std::env::var("POOLSCOPE_PG_URL").map_or(true, |u| u.is_empty()) {
            return skip("POOLSCOPE_PG_URL is not set");
        }
        let Some(bin) = server_bin() else {
            return skip("no PostgreSQL server binaries under /usr/lib/postgresql");
        };
        orphans::reap("poolscope-pg-");
        let dir = std::env::temp_dir().join(format!("poolscope-pg-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let data = dir.join("data");
        let out = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off",
            dir.display()
        );
        for setting in settings {
            options.push_str(&format!(" -c {setting}"));
        }
        let log = dir.join("log");
        let out = as_postgres(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let server = PrivatePostgres { port, dir, bin };
        server.wait_ready();
        Some(server)
    }

    /// `postgres://<user>@127.0.0.1:<port>/postgres`.
    pub fn url(&self, user: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/postgres", self.port)
    }

    /// A superuser connection (for setup and counting).
    pub fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("the private server answers")
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while postgres::Client::connect(&self.url("postgres"), postgres::NoTls).is_err() {
            assert!(
                Instant::now() < deadline,
                "the private server did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Connections of `user` on the server, once the count settles on `expected` (or after
    /// 10 s).
    pub fn connections_of(&self, user: &str, expected: i64) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen: i64 = self
                .admin()
                .query_one(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE usename = $1",
                    &[&user],
                )
                .unwrap()
                .get(0);
            if seen == expected || Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Faults the harness can inflict on a private server.
impl PrivatePostgres {
    fn pg_ctl(&self, args: &[&str]) {
        let data = self.dir.join("data");
        let mut all = vec!["-D", data.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = as_postgres(&self.bin.join("pg_ctl"), &all);
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Connections of `user` the server holds inside a transaction nobody is working in.
    pub fn idle_in_transaction(&self, user: &str) -> i64 {
        self.admin()
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE usename = $1 AND state = 'idle in transaction'",
                &[&user],
            )
            .unwrap()
            .get(0)
    }

    /// Terminates every backend of `user` (`pg_terminate_backend`); says how many.
    pub fn kill_backends(&self, user: &str) -> i64 {
        self.admin()
            .query_one(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1",
                &[&user],
            )
            .unwrap()
            .get(0)
    }

    /// Stops the server (fast shutdown: connections are closed).
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }

    /// Starts it again with the settings it had (`pg_ctl` keeps them in `postmaster.opts`).
    pub fn start_again(&self) {
        let options = std::fs::read_to_string(self.dir.join("data").join("postmaster.opts"))
            .unwrap_or_default();
        // postmaster.opts: the binary then its arguments, each quoted.
        let args: Vec<String> = options
            .split('"')
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, a)| a.to_owned())
            .skip(2) // "-D" "<dir>"
            .collect();
        let log = self.dir.join("log");
        self.pg_ctl(&[
            "-o",
            &args.join(" "),
            "-l",
            log.to_str().unwrap(),
            "-w",
            "start",
        ]);
        self.wait_ready();
    }

    /// Every process of the server (the postmaster and its children).
    fn processes(&self) -> Vec<String> {
        let pid = std::fs::read_to_string(self.dir.join("data").join("postmaster.pid"))
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let children = Command::new("pgrep").args(["-P", &pid]).output().unwrap();
        let mut all = vec![pid];
        all.extend(
            String::from_utf8_lossy(&children.stdout)
                .split_whitespace()
                .map(str::to_owned),
        );
        all
    }

    /// Freezes every server process (`SIGSTOP`): connects and queries hang until [`thaw`].
    pub fn freeze(&self) {
        for pid in self.processes() {
            let _ = Command::new("kill").args(["-STOP", &pid]).status();
        }
    }

    /// Undoes [`freeze`].
    pub fn thaw(&self) {
        for pid in self.processes() {
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.thaw();
        let data = self.dir.join("data");
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
