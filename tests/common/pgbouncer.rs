//! A PgBouncer of the test's own in front of a [`PrivatePostgres`], in transaction (or
//! session) pooling mode, on its own port (started as the `postgres` user: PgBouncer refuses to run as root).
//! Stopped when dropped.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]
#![allow(dead_code)] // each suite uses part of it

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::private_postgres::PrivatePostgres;

pub struct PgBouncer {
    pub port: u16,
    dir: PathBuf,
}

/// A private server with a login role `app` and a table `notes (body text)` it may write,
/// to put a PgBouncer in front of; `None` after saying SKIPPED.
pub fn server_with_notes(test: &str) -> Option<PrivatePostgres> {
    let server = PrivatePostgres::start(test, &[])?;
    server
        .admin()
        .batch_execute(
            "CREATE ROLE app LOGIN; CREATE TABLE notes (body text); GRANT ALL ON notes TO app",
        )
        .unwrap();
    Some(server)
}

impl PgBouncer {
    /// PgBouncer in transaction mode with `server_connections` server connections for the
    /// database `postgres`; `None` after saying SKIPPED when `pgbouncer` is not installed.
    pub fn start(
        test: &str,
        server: &PrivatePostgres,
        server_connections: u32,
    ) -> Option<PgBouncer> {
        PgBouncer::start_in("transaction", test, server, server_connections)
    }

    /// PgBouncer in `pool_mode` (`transaction`, `session`), as [`PgBouncer::start`].
    pub fn start_in(
        pool_mode: &str,
        test: &str,
        server: &PrivatePostgres,
        server_connections: u32,
    ) -> Option<PgBouncer> {
        PgBouncer::start_with(pool_mode, test, server, server_connections, 200)
    }

    /// As [`PgBouncer::start_in`], admitting at most `max_client_conn` client connections
    /// (beyond them PgBouncer says `no more connections allowed (max_client_conn)`).
    pub fn start_with(
        pool_mode: &str,
        test: &str,
        server: &PrivatePostgres,
        server_connections: u32,
        max_client_conn: u32,
    ) -> Option<PgBouncer> {
        use std::io::Write;
        if Command::new("pgbouncer").arg("--version").output().is_err() {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: pgbouncer is not installed"
            );
            return None;
        }
        super::private_postgres::orphans::reap("poolscope-bouncer-");
        let dir = std::env::temp_dir().join(format!(
            "poolscope-bouncer-{test}-{pool_mode}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(dir.join("users.txt"), "\"app\" \"\"\n").unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\npostgres = host=127.0.0.1 port={} dbname=postgres\n\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {dir}/users.txt\npool_mode = {pool_mode}\n\
                 default_pool_size = {server_connections}\nmax_client_conn = {max_client_conn}\n\
                 logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n\
                 ignore_startup_parameters = extra_float_digits,application_name\n",
                server.port,
                dir = dir.display()
            ),
        )
        .unwrap();
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status();
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--", "pgbouncer", "-d"])
            .arg(dir.join("pgbouncer.ini"))
            .status()
            .expect("pgbouncer runs");
        assert!(status.success(), "pgbouncer did not start");
        let bouncer = PgBouncer { port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pgbouncer did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(bouncer)
    }

    /// `postgres://app@127.0.0.1:<port>/postgres`, through PgBouncer.
    pub fn url(&self) -> String {
        format!("postgres://app@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        std::thread::sleep(Duration::from_millis(100));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
