//! The core over a connection manager of your own: a QueuePool over any
//! `r2d2::ManageConnection` (here Diesel's SQLite `ConnectionManager`, wrapped so that a
//! connection returned inside a transaction is rolled back rather than thrown away), with
//! `echo_pool` debug lines and `status()`. For Diesel itself, `poolscope-diesel` packages this
//! (see its `quickstart` example).
//!
//! ```sh
//! cargo run --example own_manager            # a fresh SQLite file in the temp directory
//! cargo run --example own_manager -- my.db   # or a path of your choosing
//! ```
use std::error::Error;
use std::time::Duration;

use diesel::connection::{
    AnsiTransactionManager, SimpleConnection, TransactionManager, TransactionManagerStatus,
};
use diesel::r2d2::ConnectionManager;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl, SqliteConnection};
use poolscope::{BoxError, EchoPool, Pool, ResetAction};

/// Diesel's own r2d2 manager, except that a connection returned inside a transaction is not
/// "broken": the pool rolls it back instead of throwing it away. (The `poolscope-diesel`
/// adapter packages this.)
struct SqliteManager(ConnectionManager<SqliteConnection>);

impl r2d2::ManageConnection for SqliteManager {
    type Connection = SqliteConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<SqliteConnection, Self::Error> {
        self.0.connect()
    }
    fn is_valid(&self, conn: &mut SqliteConnection) -> Result<(), Self::Error> {
        self.0.is_valid(conn)
    }
    fn has_broken(&self, conn: &mut SqliteConnection) -> bool {
        matches!(
            AnsiTransactionManager::transaction_manager_status_mut(conn),
            TransactionManagerStatus::InError
        )
    }
}

/// Rolls back (or commits) every open transaction level through Diesel's transaction
/// manager, so its depth counter stays right.
fn reset(conn: &mut SqliteConnection, action: ResetAction) -> Result<(), BoxError> {
    while AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .is_some()
    {
        match action {
            ResetAction::Rollback => AnsiTransactionManager::rollback_transaction(conn)?,
            ResetAction::Commit => AnsiTransactionManager::commit_transaction(conn)?,
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn notes(conn: &mut SqliteConnection) -> Result<i64, diesel::result::Error> {
    Ok(diesel::sql_query("SELECT COUNT(*) AS n FROM notes")
        .get_result::<Count>(conn)?
        .n)
}

fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_target(true)
        .without_time()
        .init();

    let path = match std::env::args().nth(1) {
        Some(path) => path,
        None => {
            let path = std::env::temp_dir().join("poolscope-own-manager.db");
            let _ = std::fs::remove_file(&path);
            path.display().to_string()
        }
    };
    let pool = Pool::builder()
        .name("own_manager")
        .pool_size(2)
        .max_overflow(1)
        .pool_timeout(Duration::from_millis(500))
        .echo_pool(EchoPool::Debug)
        .reset_with(reset)
        .build(SqliteManager(ConnectionManager::new(path.as_str())))?;
    println!("built (nothing opened yet): {}", pool.status());

    {
        let mut conn = pool.get()?;
        conn.batch_execute("CREATE TABLE IF NOT EXISTS notes (body TEXT NOT NULL)")?;
        AnsiTransactionManager::begin_transaction(&mut *conn)?;
        conn.batch_execute("INSERT INTO notes (body) VALUES ('never committed')")?;
        println!("inside the transaction: {} note(s)", notes(&mut conn)?);
    } // returned mid-transaction: rolled back, kept idle
    println!(
        "after rollback-on-return: {} note(s)",
        notes(&mut *pool.get()?)?
    );

    pool.dispose();
    println!("disposed: {}", pool.status());
    Ok(())
}
