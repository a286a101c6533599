//! Quick start: a QueuePool of Diesel SQLite connections, with `echo_pool` debug lines and
//! `status()`.
//!
//! ```sh
//! cargo run -p poolscope-diesel --features sqlite --example quickstart            # SQLite in the temp dir
//! cargo run -p poolscope-diesel --features sqlite --example quickstart -- my.db   # or a file of yours
//! ```
use std::error::Error;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use poolscope::EchoPool;
use poolscope_diesel::Pool;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The guard is a Diesel connection: `&mut conn` goes wherever Diesel wants one.
fn notes(conn: &mut SqliteConnection) -> QueryResult<i64> {
    Ok(diesel::sql_query("SELECT COUNT(*) AS n FROM notes")
        .get_result::<Count>(conn)?
        .n)
}

fn main() -> Result<(), Box<dyn Error>> {
    // The pool's own lines at DEBUG; other libraries' at INFO (OpenTelemetry says at DEBUG
    // that no meter provider is installed, which is true here and of no interest).
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().without_time())
        .with(
            Targets::new()
                .with_target("poolscope", LevelFilter::DEBUG)
                .with_default(LevelFilter::INFO),
        )
        .init();

    let path = match std::env::args().nth(1) {
        Some(path) => path,
        None => {
            let path = std::env::temp_dir().join("poolscope-quickstart.db");
            let _ = std::fs::remove_file(&path);
            path.display().to_string()
        }
    };
    let pool = Pool::<SqliteConnection>::builder()
        .name("quickstart")
        .pool_size(2)
        .max_overflow(1)
        .pool_timeout(Duration::from_millis(500))
        .echo_pool(EchoPool::Debug)
        .build(&path)?;
    println!("built (nothing opened yet): {}", pool.status());

    {
        let mut conn = pool.get()?;
        conn.batch_execute("CREATE TABLE IF NOT EXISTS notes (body TEXT NOT NULL)")?;
        AnsiTransactionManager::begin_transaction(&mut *conn)?;
        conn.batch_execute("INSERT INTO notes (body) VALUES ('never committed')")?;
        println!("inside the transaction: {} note(s)", notes(&mut conn)?);
    } // returned mid-transaction: rolled back, kept idle
    let mut conn = pool.get()?;
    println!("after rollback-on-return: {} note(s)", notes(&mut conn)?);
    drop(conn);

    let held: Vec<_> = (0..3).map(|_| pool.get()).collect::<Result<_, _>>()?;
    println!("three checked out (one overflow): {}", pool.status());
    match pool.get() {
        Ok(_) => println!("unexpected: a fourth connection"),
        Err(e) => println!("the fourth waits, then: {e}"),
    }
    drop(held);
    println!("all returned (the overflow one closed): {}", pool.status());

    pool.dispose();
    println!("disposed: {}", pool.status());
    Ok(())
}
