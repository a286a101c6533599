//! A small diesel-async app on a poolscope pool (PostgreSQL): tasks record orders, some are
//! cancelled half-way through their transaction (a client hung up), and the pool rolls those
//! connections back and keeps them. echo_pool logs every pool decision; the metrics are
//! printed in Prometheus' format at the end.
//!
//! ```sh
//! cargo run -p poolscope-diesel --features async-postgres --example diesel_async_app                   # postgres://postgres@127.0.0.1:5432/test
//! cargo run -p poolscope-diesel --features async-postgres --example diesel_async_app -- postgres://user@host/db
//! ```
use std::error::Error;
use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use metrics_exporter_prometheus::PrometheusBuilder;
use poolscope::{metric_names, EchoPool};
use poolscope_diesel::AsyncPool;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// One "request": record an order inside a transaction, then talk to a slow payment service.
async fn handle(pool: AsyncPool<AsyncPgConnection>, order: i64, payment: Duration) {
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(e) => return tracing::warn!("order {order}: {e}"),
    };
    let _ = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            conn.batch_execute(&format!("INSERT INTO orders (id) VALUES ({order})"))
                .await?;
            tokio::time::sleep(payment).await; // cancelled here when the client hangs up
            Ok(())
        })
        .await;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .without_time()
        .init();
    // Install the recorder before building the pool: handles are registered at build.
    let metrics = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(metric_names::DURATION_BUCKETS)?
        .install_recorder()?;

    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = AsyncPool::<AsyncPgConnection>::builder()
        .pool_size(2)
        .max_overflow(2)
        .pool_timeout(Duration::from_secs(5))
        .echo_pool(EchoPool::Debug)
        .build(url.as_str())
        .await?;
    {
        let mut conn = pool
            .get()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", pool.name()))?;
        conn.batch_execute("DROP TABLE IF EXISTS orders").await?;
        conn.batch_execute("CREATE TABLE orders (id BIGINT PRIMARY KEY)")
            .await?;
    }

    let mut tasks = Vec::new();
    for order in 0..8 {
        let slow = order % 4 == 3;
        let payment = Duration::from_millis(if slow { 10_000 } else { 10 });
        let task = tokio::spawn(handle(pool.clone(), order, payment));
        if slow {
            // The client hangs up: the task is cancelled inside its transaction.
            tokio::time::sleep(Duration::from_millis(50)).await;
            task.abort();
        }
        tasks.push(task);
    }
    for task in tasks {
        let _ = task.await;
    }

    let stored = diesel::sql_query("SELECT COUNT(*) AS n FROM orders")
        .get_result::<Count>(&mut *pool.get().await?)
        .await?;
    println!("orders stored: {} (2 cancelled and rolled back)", stored.n);
    println!("{}", pool.status());

    println!("\n# the pool's metrics, as Prometheus scrapes them");
    for line in metrics.render().lines() {
        let ours = line.starts_with("db_client") || line.starts_with("poolscope");
        if ours && !line.contains("_bucket{") {
            println!("{line}");
        }
    }
    Ok(())
}
