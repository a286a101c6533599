//! Where a suite's connections go, and how many the server sees.
//!
//! PostgreSQL and MariaDB suites run when `POOLSCOPE_PG_URL` / `POOLSCOPE_MYSQL_URL` are set
//! and say `SKIPPED` otherwise; a set URL that cannot be reached fails them. SQLite suites
//! always run, on a fresh file in the temp directory.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

/// One test's database.
pub struct Target {
    /// The URL the pool connects to (tagged so that this test's connections can be told
    /// apart where the server allows it).
    pub url: String,
    /// The table this test may create and drop.
    pub table: String,
    counter: Counter,
    _serial: Option<MutexGuard<'static, ()>>,
}

enum Counter {
    /// `pg_stat_activity`, by `application_name`.
    Postgres { admin_url: String, app: String },
    /// `information_schema.processlist`, every other connection (the file's tests run one
    /// at a time).
    Mysql { admin_url: String },
    /// SQLite has no server: only the pool's own counts are checked.
    None,
}

static MYSQL_SERIAL: Mutex<()> = Mutex::new(());

fn env_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {var} is not set");
            None
        }
    }
}

fn with_param(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={value}")
}

impl Target {
    /// A PostgreSQL target for `test` (an application_name of at most 63 bytes).
    pub fn postgres(test: &str) -> Option<Target> {
        let base = env_url("POOLSCOPE_PG_URL", test)?;
        let app = format!("pd_{test}");
        assert!(app.len() <= 63, "application_name too long: {app}");
        Some(Target {
            url: with_param(&base, "application_name", &app),
            table: format!("pd_{test}"),
            counter: Counter::Postgres {
                admin_url: with_param(&base, "application_name", "poolscope-admin"),
                app,
            },
            _serial: None,
        })
    }

    /// A MariaDB / MySQL target for `test`; holds the file's lock until dropped.
    pub fn mysql(test: &str) -> Option<Target> {
        let base = env_url("POOLSCOPE_MYSQL_URL", test)?;
        let serial = MYSQL_SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        Some(Target {
            url: base.clone(),
            table: format!("pd_{test}"),
            counter: Counter::Mysql { admin_url: base },
            _serial: Some(serial),
        })
    }

    /// A fresh SQLite file for `test`.
    pub fn sqlite(test: &str) -> Target {
        let path =
            std::env::temp_dir().join(format!("poolscope-diesel-{test}-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Target {
            url: path.display().to_string(),
            table: format!("pd_{test}"),
            counter: Counter::None,
            _serial: None,
        }
    }

    /// Whether the server's own count of connections can be read.
    pub fn counts_server_connections(&self) -> bool {
        !matches!(self.counter, Counter::None)
    }

    /// This test's connections on the server once the count settles on `expected` (a closed
    /// connection leaves the server's list a moment later), or the last count after 3 s.
    /// `expected` itself for SQLite, which has no server.
    pub fn server_connections(&self, expected: i64) -> i64 {
        // On a thread of its own: the blocking clients must not run on an async runtime's.
        std::thread::scope(|s| s.spawn(|| self.count_until(expected)).join().unwrap())
    }

    fn count_until(&self, expected: i64) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let seen = match &self.counter {
                Counter::None => return expected,
                Counter::Postgres { admin_url, app } => {
                    let mut admin = postgres::Client::connect(admin_url, postgres::NoTls)
                        .expect("POOLSCOPE_PG_URL is set but PostgreSQL cannot be reached");
                    admin
                        .query_one(
                            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
                            &[app],
                        )
                        .unwrap()
                        .get::<_, i64>(0)
                }
                Counter::Mysql { admin_url } => {
                    let opts = mysql::Opts::from_url(admin_url).expect("a valid MySQL URL");
                    let mut admin = mysql::Conn::new(opts)
                        .expect("POOLSCOPE_MYSQL_URL is set but the server cannot be reached");
                    admin
                        .query_first::<i64, _>(
                            "SELECT COUNT(*) FROM information_schema.processlist \
                             WHERE id <> CONNECTION_ID() AND command <> 'Daemon' \
                             AND user <> 'system user'",
                        )
                        .unwrap()
                        .unwrap()
                }
            };
            if seen == expected || Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
