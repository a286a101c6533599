//! A soak: mixed load on Diesel's blocking and async pools at once (short and long holds,
//! transactions left open, async checkouts cancelled by `tokio::time::timeout`) against a
//! PostgreSQL server of the test's own, while random faults hit it (every backend killed, a
//! restart, a 2 s stop, a 2.5 s freeze). `POOLSCOPE_SOAK_SECS` long: by default 30 s (two to
//! four faults, so that `cargo test --workspace` with the server URLs set stays short; CI
//! runs 60), `POOLSCOPE_SOAK_SECS=600` for the long soak; seeded (`POOLSCOPE_STRESS_SEED`
//! replays a run). Asserted at the end: no slot leaked, the server never held more than the
//! pools' limits, every transaction left open was rolled back (no row survives), every
//! checkout works again once the faults stop, and resident memory grew by less than 64 MiB.
//! The report is printed as a table.

#[path = "../../../tests/common/private_postgres.rs"]
mod private_postgres;
#[path = "../../../tests/common/stress.rs"]
#[allow(dead_code)] // the soak uses the seed and the generator only
mod stress;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::RunQueryDsl as _;
use private_postgres::PrivatePostgres;

/// Most connections each pool may open (`pool_size` 4 + `max_overflow` 2).
const LIMIT: usize = 6;
const MEMORY_BOUND_KIB: u64 = 64 * 1024;
/// The soak's length without `POOLSCOPE_SOAK_SECS`: short, so that a user's `cargo test`
/// finishes in minutes; the long soak is opt-in.
const DEFAULT_SECS: u64 = 30;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[derive(Default)]
struct Tally {
    checkouts: AtomicU64,
    errors: AtomicU64,
    cancelled: AtomicU64,
    left_open: AtomicU64,
}

#[test]
fn soak_under_random_faults() {
    let Some(server) = PrivatePostgres::start("soak", &["max_connections=60"]) else {
        return;
    };
    server
        .admin()
        .batch_execute("CREATE ROLE app LOGIN; CREATE TABLE soak (x int); GRANT ALL ON soak TO app")
        .unwrap();
    let url = server.url("app");
    let secs: u64 = std::env::var("POOLSCOPE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECS);
    let seed = stress::seed();
    eprintln!("soak: {secs} s, seed {seed} (POOLSCOPE_STRESS_SEED={seed} replays it)");
    let rss_start = rss_kib();
    let until = Instant::now() + Duration::from_secs(secs);

    let blocking = poolscope_diesel::Pool::<diesel::PgConnection>::builder()
        .pool_size(4)
        .max_overflow(2)
        .pool_timeout(Duration::from_secs(2))
        .build(url.as_str())
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let async_pool = rt
        .block_on(
            poolscope_diesel::AsyncPool::<diesel_async::AsyncPgConnection>::builder()
                .pool_size(4)
                .max_overflow(2)
                .pool_timeout(Duration::from_secs(2))
                .build(url.as_str()),
        )
        .unwrap();

    let tally = Arc::new(Tally::default());
    let faults_done = Arc::new(AtomicBool::new(false));
    let peak_live = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        // Blocking workers.
        for w in 0..4u64 {
            let (pool, tally) = (blocking.clone(), Arc::clone(&tally));
            s.spawn(move || {
                let mut rng = stress::Rng::new(seed ^ w);
                while Instant::now() < until {
                    match pool.get() {
                        Err(_) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Ok(mut conn) => {
                            tally.checkouts.fetch_add(1, Ordering::Relaxed);
                            let step = match rng.below(10) {
                                // A transaction left open: rolled back on return.
                                0 => AnsiTransactionManager::begin_transaction(&mut *conn)
                                    .and_then(|()| {
                                        conn.batch_execute("INSERT INTO soak VALUES (1)")
                                    })
                                    .map(|()| {
                                        tally.left_open.fetch_add(1, Ordering::Relaxed);
                                    }),
                                // A long hold.
                                1 => {
                                    std::thread::sleep(Duration::from_millis(50 + rng.below(150)));
                                    diesel::sql_query("SELECT 1").execute(&mut conn).map(drop)
                                }
                                _ => diesel::sql_query("SELECT 1").execute(&mut conn).map(drop),
                            };
                            if step.is_err() {
                                tally.errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            });
        }
        // Async workers, some cancelled mid-checkout.
        for w in 0..4u64 {
            let (pool, tally, handle) =
                (async_pool.clone(), Arc::clone(&tally), rt.handle().clone());
            s.spawn(move || {
                let mut rng = stress::Rng::new(seed ^ (w + 100));
                while Instant::now() < until {
                    let patience = match rng.below(5) {
                        0 => Duration::from_millis(1 + rng.below(20)),
                        _ => Duration::from_secs(10),
                    };
                    let hold = Duration::from_millis(rng.below(30));
                    let outcome = handle.block_on(async {
                        tokio::time::timeout(patience, async {
                            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                            tokio::time::sleep(hold).await;
                            diesel_async::RunQueryDsl::execute(
                                diesel::sql_query("SELECT 1"),
                                &mut *conn,
                            )
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string())
                        })
                        .await
                    });
                    match outcome {
                        Err(_) => drop(tally.cancelled.fetch_add(1, Ordering::Relaxed)),
                        Ok(Err(_)) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Ok(Ok(())) => drop(tally.checkouts.fetch_add(1, Ordering::Relaxed)),
                    }
                }
            });
        }
        // The server's own count of the pools' connections, watched.
        {
            let (server, peak, done) = (&server, Arc::clone(&peak_live), Arc::clone(&faults_done));
            s.spawn(move || {
                while Instant::now() < until && !done.load(Ordering::Relaxed) {
                    if let Ok(mut admin) =
                        postgres::Client::connect(&server.url("postgres"), postgres::NoTls)
                    {
                        if let Ok(row) = admin.query_one(
                            "SELECT COUNT(*) FROM pg_stat_activity WHERE usename = 'app'",
                            &[],
                        ) {
                            let live: i64 = row.get(0);
                            peak.fetch_max(live as usize, Ordering::Relaxed);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
        }
        // Random faults, until 10 s before the end (the rest is the recovery).
        let mut rng = stress::Rng::new(seed ^ 0xFA17);
        let mut injected = [0u32; 4];
        let last_fault = until - Duration::from_secs(10.min(secs / 2));
        while Instant::now() + Duration::from_secs(6) < last_fault {
            std::thread::sleep(Duration::from_millis(3000 + rng.below(3000)));
            let kind = rng.below(4) as usize;
            injected[kind] += 1;
            match kind {
                0 => drop(server.kill_backends("app")),
                1 => {
                    server.stop();
                    server.start_again();
                }
                2 => {
                    server.stop();
                    std::thread::sleep(Duration::from_secs(2));
                    server.start_again();
                }
                _ => {
                    server.freeze();
                    std::thread::sleep(Duration::from_millis(2500));
                    server.thaw();
                }
            }
        }
        faults_done.store(true, Ordering::Relaxed);
        eprintln!(
            "faults injected: {} kills, {} restarts, {} stops, {} freezes",
            injected[0], injected[1], injected[2], injected[3]
        );
    });

    // After the faults: everything works, nothing leaked, nothing survived a rollback.
    for _ in 0..10 {
        drop(
            blocking
                .get()
                .expect("the blocking pool serves after the faults"),
        );
        rt.block_on(async { drop(async_pool.get().await.expect("the async pool serves")) });
    }
    let settle = Instant::now() + Duration::from_secs(10);
    while (blocking.status().checked_out > 0 || async_pool.status().checked_out > 0)
        && Instant::now() < settle
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let rows: i64 = server
        .admin()
        .query_one("SELECT COUNT(*) FROM soak", &[])
        .unwrap()
        .get(0);
    let rss_end = rss_kib();
    let leaked = blocking.status().checked_out + async_pool.status().checked_out;
    let peak = peak_live.load(Ordering::Relaxed);
    eprintln!("| figure | value |\n|---|---|");
    eprintln!("| seconds | {secs} |");
    eprintln!(
        "| checkouts done | {} |",
        tally.checkouts.load(Ordering::Relaxed)
    );
    eprintln!(
        "| errors seen by callers | {} |",
        tally.errors.load(Ordering::Relaxed)
    );
    eprintln!(
        "| async checkouts cancelled | {} |",
        tally.cancelled.load(Ordering::Relaxed)
    );
    eprintln!(
        "| transactions left open | {} |",
        tally.left_open.load(Ordering::Relaxed)
    );
    eprintln!("| rows that survived them | {rows} |");
    eprintln!("| leaked slots | {leaked} |");
    eprintln!(
        "| peak live connections (server) | {peak} of {} |",
        2 * LIMIT
    );
    eprintln!(
        "| resident memory, start → end | {} → {} KiB |",
        rss_start, rss_end
    );
    assert_eq!(leaked, 0, "seed {seed}: leaked slots");
    assert!(
        peak <= 2 * LIMIT,
        "seed {seed}: {peak} live connections, limit {}",
        2 * LIMIT
    );
    assert_eq!(
        rows, 0,
        "seed {seed}: a transaction left open was not rolled back"
    );
    assert!(
        rss_end.saturating_sub(rss_start) < MEMORY_BOUND_KIB,
        "seed {seed}: resident memory grew {} KiB",
        rss_end - rss_start
    );
}
