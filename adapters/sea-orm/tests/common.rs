//! The server-side counting the Diesel suites use (one copy, in the Diesel adapter's tests),
//! plus what the SeaORM suites need on top: sqlx URLs and waiting for sqlx's returns.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]
#![allow(dead_code)]

#[path = "../../diesel/tests/common/mod.rs"]
mod server;

use std::time::{Duration, Instant};

#[allow(unused_imports)] // used by the suite, not by every test file
pub use server::kill_while_looping_async;
pub use server::Target;

/// The URL sqlx takes for a target (SQLite: a file created on first use).
pub fn sqlx_url(target: &Target) -> String {
    if target.counts_server_connections() {
        target.url.clone()
    } else {
        format!("sqlite://{}?mode=rwc", target.url)
    }
}

/// The pool's status once every connection handed out has come back (sqlx returns them on a
/// task of its own, after testing them), or the last one after 10 s.
pub async fn settled(db: &poolscope_sea_orm::DatabasePool) -> poolscope::Status {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = db.status();
        if status.checked_out == 0 || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
