//! A small Diesel app on a poolscope pool: worker threads record orders, some handlers fail
//! half-way through their transaction, and the pool rolls those connections back and keeps
//! them. A connect listener sets SQLite's busy timeout on every new connection (SQLAlchemy's
//! `connect` event). echo_pool logs every pool decision; the metrics are printed in
//! Prometheus' format at the end.
//!
//! ```sh
//! cargo run -p poolscope-diesel --features sqlite --example diesel_app               # SQLite in the temp dir
//! cargo run -p poolscope-diesel --features sqlite --example diesel_app -- orders.db  # or a file of yours
//! ```
use poolscope::ConnectionEvent;
use std::error::Error;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::SqliteConnection;
use metrics_exporter_prometheus::PrometheusBuilder;
use poolscope::{metric_names, EchoPool, ListenerError, PoolListener};
use poolscope_diesel::Pool;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs on every new connection: writers wait for each other instead of failing at once.
struct BusyTimeout;

impl PoolListener<SqliteConnection> for BusyTimeout {
    fn connect(&self, event: ConnectionEvent<'_, SqliteConnection>) -> Result<(), ListenerError> {
        let conn = event.connection;
        conn.batch_execute("PRAGMA busy_timeout = 5000")
            .map_err(ListenerError::disconnect)
    }
}

/// One "request": record an order inside a transaction. A declined payment returns early
/// with the transaction still open: the pool rolls it back when the connection comes back.
fn handle(
    pool: &Pool<SqliteConnection>,
    order: i64,
    fail: bool,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let mut conn = pool.get()?;
    AnsiTransactionManager::begin_transaction(&mut *conn)?;
    conn.batch_execute(&format!("INSERT INTO orders (id) VALUES ({order})"))?;
    if fail {
        return Err("payment declined".into());
    }
    AnsiTransactionManager::commit_transaction(&mut *conn)?;
    Ok(())
}

fn run(url: &str) -> Result<(), Box<dyn Error>> {
    let pool = Pool::<SqliteConnection>::builder()
        .pool_size(2)
        .max_overflow(2)
        .pool_timeout(Duration::from_secs(5))
        .echo_pool(EchoPool::Debug)
        .listener(BusyTimeout)
        .build(url)?;
    pool.get()?.batch_execute(
        "DROP TABLE IF EXISTS orders; CREATE TABLE orders (id BIGINT PRIMARY KEY)",
    )?;

    std::thread::scope(|s| {
        for worker in 0..4_i64 {
            let pool = &pool;
            s.spawn(move || {
                for i in 0..5 {
                    let order = worker * 100 + i;
                    if let Err(e) = handle(pool, order, i == 2) {
                        tracing::warn!("order {order}: {e}");
                    }
                }
            });
        }
    });

    let mut conn = pool.get()?;
    let stored =
        diesel::sql_query("SELECT COUNT(*) AS n FROM orders").get_result::<Count>(&mut *conn)?;
    println!(
        "orders stored: {} of 20 (4 declined, rolled back)",
        stored.n
    );
    drop(conn);
    println!("{}", pool.status());
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .without_time()
        .init();
    // Install the recorder before building the pool: handles are registered at build.
    let metrics = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(metric_names::DURATION_BUCKETS)?
        .install_recorder()?;

    let url = std::env::args().nth(1).unwrap_or_else(|| {
        let path = std::env::temp_dir().join("poolscope-diesel-app.db");
        let _ = std::fs::remove_file(&path);
        path.display().to_string()
    });
    run(&url)?;

    println!("\n# the pool's metrics, as Prometheus scrapes them");
    for line in metrics.render().lines() {
        let ours = line.starts_with("db_client") || line.starts_with("poolscope");
        if ours && !line.contains("_bucket{") {
            println!("{line}");
        }
    }
    Ok(())
}
