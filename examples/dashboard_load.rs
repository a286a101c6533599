//! A scripted load that makes every pool event happen, served for Prometheus at `/metrics`
//! through the `metrics` facade or through OpenTelemetry: what `dashboards/check.py` scrapes
//! with a real Prometheus to prove every dashboard query (two instances, one per path).
//!
//! ```sh
//! cargo run --example dashboard_load -- --exporter facade --port 9901 --seconds 60
//! cargo run --example dashboard_load -- --exporter otel --port 9902 --seconds 60
//! ```
//! Two pools, `orders` (QueuePool 2 + 2, pre-ping, recycle after 3 s, leak threshold 400 ms,
//! timeout 100 ms) and `billing` (3 + 0), over an in-memory database that "restarts" every
//! 5 s (pre-pings fail, connections are invalidated and replaced), fails one reset in ten,
//! and admits 5 connections at once (the two pools may ask 7: beyond 5 it refuses, as a
//! server at its `max_connections` does; both pools report that budget).
#[path = "common/serve_metrics.rs"]
mod serve_metrics;

use std::error::Error;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use poolscope::{metric_names, BoxError, Pool, ResetAction};
use prometheus::Encoder as _;

/// An in-memory "database": a connection is alive while the generation it was opened in
/// is current; `restart()` starts a new one.
#[derive(Default)]
struct Db {
    generation: AtomicU64,
    resets: AtomicU64,
    /// Connections open now: at most [`BUDGET`].
    live: AtomicU64,
}

/// The connections the database admits at once.
const BUDGET: u64 = 5;

struct Conn {
    generation: u64,
    db: Arc<Db>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.db.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the database says: a connection it closed, or a connect refused at its budget.
#[derive(Debug)]
enum DbError {
    Gone(Gone),
    TooMany,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Gone(gone) => gone.fmt(f),
            DbError::TooMany => f.write_str("FATAL: sorry, too many clients already"),
        }
    }
}

impl std::error::Error for DbError {}

#[derive(Debug)]
struct Gone;

impl std::fmt::Display for Gone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("server closed the connection")
    }
}

impl std::error::Error for Gone {}

struct Manager(Arc<Db>);

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = DbError;

    fn connect(&self) -> Result<Conn, DbError> {
        std::thread::sleep(Duration::from_millis(2));
        if self.0.live.fetch_add(1, Ordering::SeqCst) >= BUDGET {
            self.0.live.fetch_sub(1, Ordering::SeqCst);
            return Err(DbError::TooMany);
        }
        Ok(Conn {
            generation: self.0.generation.load(Ordering::SeqCst),
            db: Arc::clone(&self.0),
        })
    }
    fn is_valid(&self, conn: &mut Conn) -> Result<(), DbError> {
        match conn.generation == self.0.generation.load(Ordering::SeqCst) {
            true => Ok(()),
            false => Err(DbError::Gone(Gone)),
        }
    }
    fn has_broken(&self, _: &mut Conn) -> bool {
        false
    }
}

fn pools(db: &Arc<Db>) -> Result<(Pool<Manager>, Pool<Manager>), Box<dyn Error>> {
    let reset_db = Arc::clone(db);
    let reset = move |_: &mut Conn, _: ResetAction| -> Result<(), BoxError> {
        match reset_db.resets.fetch_add(1, Ordering::Relaxed) % 10 {
            9 => Err(Box::new(Gone)),
            _ => Ok(()),
        }
    };
    let orders = Pool::builder()
        .name("orders")
        .pool_size(2)
        .max_overflow(2)
        .pool_timeout(Duration::from_millis(100))
        .pool_recycle(Duration::from_secs(3))
        .pre_ping(true)
        .leak_detection_threshold(Duration::from_millis(400))
        .gauge_interval(Duration::from_millis(200))
        .reset_with(reset.clone())
        .build(Manager(Arc::clone(db)))?;
    let billing = Pool::builder()
        .name("billing")
        .pool_size(3)
        .max_overflow(0)
        .pool_timeout(Duration::from_millis(100))
        .gauge_interval(Duration::from_millis(200))
        .reset_with(reset)
        .build(Manager(Arc::clone(db)))?;
    // What a server's max_connections says (the Diesel adapter reads it by itself).
    orders.report_server_budget(BUDGET as usize);
    billing.report_server_budget(BUDGET as usize);
    Ok((orders, billing))
}

/// The load: workers loop checkout / hold / return; every second a burst holds more than
/// `orders` allows (overflow, then timeouts); now and then a connection is invalidated or
/// held past the leak threshold; every 5 s the database restarts.
fn load(db: Arc<Db>, orders: Pool<Manager>, billing: Pool<Manager>, until: Instant) {
    for worker in 0..3u64 {
        let (orders, billing) = (orders.clone(), billing.clone());
        std::thread::spawn(move || {
            let mut n = worker;
            while Instant::now() < until {
                n += 1;
                if let Ok(conn) = orders.get() {
                    std::thread::sleep(Duration::from_millis(5 + n % 20));
                    if n % 50 == 0 {
                        conn.invalidate();
                    } else {
                        drop(conn);
                    }
                }
                if let Ok(conn) = billing.get() {
                    std::thread::sleep(Duration::from_millis(2 + n % 10));
                    drop(conn);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
    }
    std::thread::spawn(move || {
        let mut tick = 0u64;
        while Instant::now() < until {
            tick += 1;
            let burst: Vec<_> = (0..5).filter_map(|_| orders.get().ok()).collect();
            std::thread::sleep(Duration::from_millis(150));
            drop(burst);
            if tick % 3 == 0 {
                let held = orders.get();
                std::thread::sleep(Duration::from_millis(600)); // past the leak threshold
                drop(held);
            }
            if tick % 5 == 0 {
                db.generation.fetch_add(1, Ordering::SeqCst); // the server restarts
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> Result<(), Box<dyn Error>> {
    let exporter = arg("--exporter").unwrap_or_else(|| "facade".into());
    let port: u16 = arg("--port").unwrap_or_else(|| "9901".into()).parse()?;
    let seconds: u64 = arg("--seconds").unwrap_or_else(|| "60".into()).parse()?;
    let until = Instant::now() + Duration::from_secs(seconds);
    let db = Arc::new(Db::default());

    // Install the exporter before building pools: their instruments are registered at build.
    let render: Box<dyn Fn() -> String> = match exporter.as_str() {
        "facade" => {
            let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
                .with_recommended_naming(true)
                .set_buckets(metric_names::DURATION_BUCKETS)?
                .install_recorder()?;
            Box::new(move || handle.render())
        }
        "otel" => {
            let registry = prometheus::Registry::new();
            let exporter = opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .build()?;
            let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
                .with_reader(exporter)
                .build();
            opentelemetry::global::set_meter_provider(provider.clone());
            let _ = provider.meter("poolscope");
            Box::new(move || {
                let mut text = Vec::new();
                let _ = prometheus::TextEncoder::new().encode(&registry.gather(), &mut text);
                String::from_utf8(text).unwrap_or_default()
            })
        }
        other => return Err(format!("--exporter facade|otel, not {other}").into()),
    };
    let (orders, billing) = pools(&db)?;
    load(db, orders, billing, until);

    let listener = TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    println!("{exporter}: serving http://127.0.0.1:{port}/metrics for {seconds} s");
    while Instant::now() < until {
        match listener.accept() {
            Ok((stream, _)) => serve_metrics::answer(stream, &*render)?,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
