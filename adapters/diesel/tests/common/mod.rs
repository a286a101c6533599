//! Where a suite's connections go, and how many the server sees.
//!
//! PostgreSQL and MariaDB suites run when `POOLSCOPE_PG_URL` / `POOLSCOPE_MYSQL_URL` are set
//! and say `SKIPPED` otherwise; a set URL that cannot be reached fails them. SQLite suites
//! always run, on a fresh file in the temp directory.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]
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
    /// `information_schema.processlist`, by the test's own database (`db`), so that other
    /// clients of the server are not counted.
    Mysql { admin_url: String, database: String },
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

/// `url` with its database replaced by `database` (its query string kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The ids of the server's connections whose database is `database`, seen from an admin
/// connection to `admin_url` (which is not one of them).
fn mysql_ids(admin_url: &str, database: &str) -> Vec<u64> {
    let opts = mysql::Opts::from_url(admin_url).expect("a valid MySQL URL");
    let mut admin = mysql::Conn::new(opts)
        .expect("POOLSCOPE_MYSQL_URL is set but the server cannot be reached");
    admin
        .exec(
            "SELECT id FROM information_schema.processlist \
             WHERE db = ? AND id <> CONNECTION_ID()",
            (database,),
        )
        .unwrap()
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

    /// A MariaDB / MySQL target for `test`: a database of its own (`pd_<test>`, created
    /// here), so that its connections can be told from other clients'. Holds the file's
    /// lock until dropped (the server's connection limit is shared).
    pub fn mysql(test: &str) -> Option<Target> {
        let base = env_url("POOLSCOPE_MYSQL_URL", test)?;
        let serial = MYSQL_SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let database = format!("pd_{test}");
        assert!(database.len() <= 64, "database name too long: {database}");
        let opts = mysql::Opts::from_url(&base).expect("a valid MySQL URL");
        mysql::Conn::new(opts)
            .expect("POOLSCOPE_MYSQL_URL is set but the server cannot be reached")
            .query_drop(format!("CREATE DATABASE IF NOT EXISTS {database}"))
            .unwrap();
        Some(Target {
            url: with_database(&base, &database),
            table: format!("pd_{test}"),
            counter: Counter::Mysql {
                admin_url: base,
                database,
            },
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
    /// connection leaves the server's list a moment later), or the last count after 10 s.
    /// `expected` itself for SQLite, which has no server.
    pub fn server_connections(&self, expected: i64) -> i64 {
        // On a thread of its own: the blocking clients must not run on an async runtime's.
        std::thread::scope(|s| s.spawn(|| self.count_until(expected)).join().unwrap())
    }

    /// Kills every connection of this test on the server (`pg_terminate_backend`, `KILL`)
    /// and says how many it killed; 0 for SQLite.
    pub fn kill_connections(&self) -> usize {
        std::thread::scope(|s| s.spawn(|| self.kill_now()).join().unwrap())
    }

    fn kill_now(&self) -> usize {
        match &self.counter {
            Counter::None => 0,
            Counter::Postgres { admin_url, app } => {
                let mut admin = postgres::Client::connect(admin_url, postgres::NoTls)
                    .expect("POOLSCOPE_PG_URL is set but PostgreSQL cannot be reached");
                // pg_terminate_backend in the select list, so that it runs only for the
                // rows the WHERE clause kept (in the WHERE clause the planner may call it
                // first, on every backend of the server).
                admin
                    .query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = $1",
                        &[app],
                    )
                    .unwrap()
                    .iter()
                    .filter(|row| row.get::<_, bool>(0))
                    .count()
            }
            Counter::Mysql {
                admin_url,
                database,
            } => {
                let opts = mysql::Opts::from_url(admin_url).expect("a valid MySQL URL");
                let mut admin = mysql::Conn::new(opts).unwrap();
                let mut killed = 0;
                for id in mysql_ids(admin_url, database) {
                    // A connection that ended meanwhile is no longer there to kill.
                    if admin.query_drop(format!("KILL CONNECTION {id}")).is_ok() {
                        killed += 1;
                    }
                }
                killed
            }
        }
    }

    fn count_until(&self, expected: i64) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(10);
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
                Counter::Mysql {
                    admin_url,
                    database,
                } => mysql_ids(admin_url, database).len() as i64,
            };
            if seen == expected || Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What [`kill_while_looping`] and [`kill_while_looping_async`] saw.
pub struct KillReport {
    /// Server connections killed.
    pub killed: usize,
    /// The errors callers got, while the connections were being killed and after.
    pub errors: Vec<String>,
    /// Operations that worked.
    pub worked: usize,
}

impl KillReport {
    /// Each killed connection may have cost one caller one error, no more.
    pub fn assert_at_most_one_error_each(&self, test: &str) {
        eprintln!(
            "{test}: {} connections killed, {} errors, {} operations worked",
            self.killed,
            self.errors.len(),
            self.worked
        );
        assert!(
            self.killed >= 4,
            "the test killed only {} connections",
            self.killed
        );
        assert!(
            self.errors.len() <= self.killed,
            "{} errors for {} killed connections ({} operations worked); first errors: {:?}",
            self.errors.len(),
            self.killed,
            self.worked,
            &self.errors[..self.errors.len().min(3)]
        );
    }
}

const KILL_WORKERS: usize = 8;
const KILL_ROUNDS: usize = 4;
const KILL_EVERY: Duration = Duration::from_millis(250);
/// Sequential operations after the kills; the last [`PROBES_THAT_MUST_WORK`] must all work
/// (the earlier ones may meet connections killed in the last round and idle since).
const PROBES: usize = 24;
const PROBES_THAT_MUST_WORK: usize = 8;

/// Keeps probe `i`'s error; the last probes must not fail.
fn note_probe(i: usize, outcome: Result<(), String>, errors: &mut Vec<String>) {
    if let Err(e) = outcome {
        assert!(
            i < PROBES - PROBES_THAT_MUST_WORK,
            "operation {i} after the kills still failed: {e}"
        );
        errors.push(e);
    }
}

/// Eight threads loop `op` (a checkout, a query, a return) while every server connection of
/// the test is killed, four times over; then one thread runs it 24 times.
pub fn kill_while_looping(t: &Target, op: impl Fn() -> Result<(), String> + Sync) -> KillReport {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    let stop = AtomicBool::new(false);
    let worked = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    let killed = std::thread::scope(|s| {
        for _ in 0..KILL_WORKERS {
            s.spawn(|| {
                while !stop.load(Relaxed) {
                    match op() {
                        Ok(()) => drop(worked.fetch_add(1, Relaxed)),
                        Err(e) => errors.lock().unwrap().push(e),
                    }
                }
            });
        }
        let mut killed = 0;
        for _ in 0..KILL_ROUNDS {
            std::thread::sleep(KILL_EVERY);
            killed += t.kill_now();
        }
        std::thread::sleep(KILL_EVERY);
        stop.store(true, Relaxed);
        killed
    });
    let mut errors = errors.into_inner().unwrap();
    for i in 0..PROBES {
        note_probe(i, op(), &mut errors);
    }
    KillReport {
        killed,
        errors,
        worked: worked.into_inner(),
    }
}

/// [`kill_while_looping`] with eight Tokio tasks (on the current runtime, which must be
/// multi-threaded).
pub async fn kill_while_looping_async<F, Fut>(t: &Target, op: F) -> KillReport
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let worked = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..KILL_WORKERS)
        .map(|_| {
            let (op, stop, worked, errors) =
                (op.clone(), stop.clone(), worked.clone(), errors.clone());
            tokio::spawn(async move {
                while !stop.load(Relaxed) {
                    match op().await {
                        Ok(()) => drop(worked.fetch_add(1, Relaxed)),
                        Err(e) => errors.lock().unwrap().push(e),
                    }
                    // A dead connection fails without awaiting anything: let the killer run.
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut killed = 0;
    for _ in 0..KILL_ROUNDS {
        tokio::time::sleep(KILL_EVERY).await;
        killed += tokio::task::block_in_place(|| t.kill_connections());
    }
    tokio::time::sleep(KILL_EVERY).await;
    stop.store(true, Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let mut errors = std::mem::take(&mut *errors.lock().unwrap());
    for i in 0..PROBES {
        note_probe(i, op().await, &mut errors);
    }
    KillReport {
        killed,
        errors,
        worked: worked.load(Relaxed),
    }
}
