//! An r2d2 manager of `postgres::Client`s and its reset, for the core's PostgreSQL suites.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

use poolscope::{BoxError, ResetAction};

pub struct PgManager(pub postgres::Config);

impl r2d2::ManageConnection for PgManager {
    type Connection = postgres::Client;
    type Error = postgres::Error;

    fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        self.0.connect(postgres::NoTls)
    }
    fn is_valid(&self, conn: &mut postgres::Client) -> Result<(), postgres::Error> {
        conn.simple_query("SELECT 1").map(|_| ())
    }
    fn has_broken(&self, conn: &mut postgres::Client) -> bool {
        conn.is_closed()
    }
}

pub fn reset(conn: &mut postgres::Client, action: ResetAction) -> Result<(), BoxError> {
    // Outside a transaction PostgreSQL answers with a warning only.
    let sql = match action {
        ResetAction::Rollback => "ROLLBACK",
        ResetAction::Commit => "COMMIT",
    };
    conn.batch_execute(sql)?;
    Ok(())
}
