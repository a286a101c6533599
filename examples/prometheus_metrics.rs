//! Serve a pool's metrics for Prometheus at `/metrics`, through the `metrics` facade and
//! metrics-exporter-prometheus, while a small workload runs against a SQLite pool.
//!
//! ```sh
//! cargo run --example prometheus_metrics                 # serves http://127.0.0.1:9898/metrics for 60 s
//! cargo run --example prometheus_metrics -- --once       # one scrape printed, then exit
//! curl -s http://127.0.0.1:9898/metrics | grep db_client_connection
//! ```
//! Point Prometheus at it (`scrape_configs: - targets: ['127.0.0.1:9898']`) and import
//! `dashboards/poolscope.json` into Grafana.
#[path = "common/serve_metrics.rs"]
mod serve_metrics;

use std::error::Error;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::r2d2::ConnectionManager;
use diesel::SqliteConnection;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use poolscope::{metric_names, EchoPool, Pool, ResetOnReturn};

fn serve(
    listener: &TcpListener,
    handle: &PrometheusHandle,
    deadline: Instant,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => serve_metrics::answer(stream, &|| handle.render())?,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn scrape(addr: std::net::SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default())
}

fn main() -> Result<(), Box<dyn Error>> {
    let once = std::env::args().any(|a| a == "--once");
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();

    // Install the recorder before building pools: their handles are registered at build.
    let handle = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(metric_names::DURATION_BUCKETS)?
        .install_recorder()?;

    let path = std::env::temp_dir().join("poolscope-prometheus-example.db");
    let pool = Pool::builder()
        .name("example-sqlite")
        .db_system_name("sqlite")
        .pool_size(2)
        .max_overflow(2)
        .pool_timeout(Duration::from_millis(200))
        .reset_on_return(ResetOnReturn::None)
        .echo_pool(EchoPool::Info)
        // The count gauges are read from the pool by a background thread this often
        // (default 1 s); checkouts never set them.
        .gauge_interval(Duration::from_millis(100))
        .build(ConnectionManager::<SqliteConnection>::new(
            path.display().to_string(),
        ))?;

    // A workload: bursts of four concurrent checkouts, some beyond pool_size (overflow).
    let worker = pool.clone();
    std::thread::spawn(move || loop {
        let held: Vec<_> = (0..4).filter_map(|_| worker.get().ok()).collect();
        for mut conn in held {
            let _ = conn.batch_execute("SELECT 1");
        }
        std::thread::sleep(Duration::from_millis(50));
    });

    let listener =
        TcpListener::bind("127.0.0.1:9898").or_else(|_| TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    if once {
        std::thread::sleep(Duration::from_millis(300));
        let server = std::thread::spawn(move || {
            serve(&listener, &handle, Instant::now() + Duration::from_secs(5))
        });
        let body = scrape(addr)?;
        for line in body.lines().filter(|l| {
            l.starts_with("db_client_connection_count") || l.starts_with("poolscope_overflow")
        }) {
            println!("{line}");
        }
        drop(server);
        return Ok(());
    }
    println!("serving http://{addr}/metrics for 60 s");
    serve(&listener, &handle, Instant::now() + Duration::from_secs(60))?;
    Ok(())
}
