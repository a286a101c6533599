//! A MariaDB server of the test's own (its own data directory and port, `mariadbd` started as
//! the `mysql` user with grant tables off: `root` without a password, from 127.0.0.1), for
//! tests that restart, stop or freeze a server: the machine's shared server is never touched.
//! The database `app` is the test's; its connections are counted and killed by database.
//! Stopped and removed when dropped.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]
#![allow(dead_code)] // each suite uses part of it

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

pub struct PrivateMariadb {
    pub port: u16,
    dir: PathBuf,
    child: Mutex<Option<Child>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PrivateMariadb {
    /// A fresh server; `None` after saying SKIPPED when `mariadbd` is not installed or
    /// `POOLSCOPE_MYSQL_URL` is not set.
    pub fn start(test: &str) -> Option<PrivateMariadb> {
        use std::io::Write;
        let skip = |why: &str| {
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
            None
        };
        if std::env::var("POOLSCOPE_MYSQL_URL").map_or(true, |u| u.is_empty()) {
            return skip("POOLSCOPE_MYSQL_URL is not set");
        }
        if !std::path::Path::new("/usr/sbin/mariadbd").exists() {
            return skip("no /usr/sbin/mariadbd");
        }
        super::private_postgres::orphans::reap("poolscope-maria-");
        let dir =
            std::env::temp_dir().join(format!("poolscope-maria-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("chown")
            .args(["mysql:mysql"])
            .arg(&dir)
            .status();
        let out = Command::new("mariadb-install-db")
            .arg(format!("--datadir={}/data", dir.display()))
            .args([
                "--user=mysql",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .output()
            .expect("mariadb-install-db runs");
        assert!(
            out.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let server = PrivateMariadb {
            port: free_port(),
            dir,
            child: Mutex::new(None),
        };
        server.start_again();
        server
            .admin()
            .query_drop("CREATE DATABASE IF NOT EXISTS app")
            .unwrap();
        Some(server)
    }

    /// `mysql://root@127.0.0.1:<port>/app`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/app", self.port)
    }

    fn admin_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/mysql", self.port)
    }

    /// A connection outside the database `app` (for setup and counting).
    pub fn admin(&self) -> mysql::Conn {
        mysql::Conn::new(mysql::Opts::from_url(&self.admin_url()).unwrap())
            .expect("the private server answers")
    }

    /// Starts the server (again).
    pub fn start_again(&self) {
        let dir = self.dir.display().to_string();
        // mariadbd drops to `--user` itself; started directly, it is the child to wait for.
        let child = Command::new("/usr/sbin/mariadbd")
            .args(["--no-defaults", "--user=mysql"])
            .arg(format!("--datadir={dir}/data"))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-grant-tables",
                "--max-connections=200",
            ])
            .arg(format!("--socket={dir}/sock"))
            .arg(format!("--pid-file={dir}/pid"))
            .arg(format!("--log-error={dir}/err"))
            .spawn()
            .expect("mariadbd starts");
        *self.child.lock().unwrap() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while mysql::Conn::new(mysql::Opts::from_url(&self.admin_url()).unwrap()).is_err() {
            assert!(
                Instant::now() < deadline,
                "the private MariaDB did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("pid"))
            .ok()
            .map(|p| p.trim().to_owned())
    }

    /// Stops the server (SIGTERM: a clean shutdown, connections closed) and waits for it.
    pub fn stop(&self) {
        let mut child = self.child.lock().unwrap().take();
        match (self.pid(), child.as_mut()) {
            (Some(pid), _) => drop(Command::new("kill").arg(&pid).status()),
            (None, Some(child)) => drop(child.kill()),
            (None, None) => {}
        }
        if let Some(mut child) = child {
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(self.dir.join("pid"));
    }

    /// Freezes the server (`SIGSTOP`): connects and queries hang until [`thaw`].
    pub fn freeze(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args(["-STOP", &pid]).status();
        }
    }

    /// Undoes [`freeze`].
    pub fn thaw(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
        }
    }

    /// Connections in `database`, once the count settles on `expected` (or after 10 s).
    pub fn connections_in(&self, database: &str, expected: i64) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen: i64 = self
                .admin()
                .exec_first(
                    "SELECT COUNT(*) FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
                    (database,),
                )
                .unwrap()
                .unwrap();
            if seen == expected || Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills every connection in `database`; says how many.
    pub fn kill_in(&self, database: &str) -> i64 {
        let mut admin = self.admin();
        let ids: Vec<u64> = admin
            .exec(
                "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
                (database,),
            )
            .unwrap();
        for id in &ids {
            let _ = admin.query_drop(format!("KILL {id}"));
        }
        ids.len() as i64
    }
}

impl Drop for PrivateMariadb {
    fn drop(&mut self) {
        self.thaw();
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
