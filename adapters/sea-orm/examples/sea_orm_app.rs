//! A small SeaORM app on a poolscope pool: tasks record orders through an entity, some
//! handlers are declined half-way through their transaction (dropped: rolled back), one
//! legacy handler opens a transaction in SQL text and forgets it (reset on return rolls it
//! back before the connection is reused). echo_pool logs every pool decision; the pool's
//! metrics are printed in Prometheus' format at the end.
//!
//! ```sh
//! cargo run -p poolscope-sea-orm --example sea_orm_app                     # SQLite, temp dir
//! cargo run -p poolscope-sea-orm --example sea_orm_app -- postgres://...   # or any URL
//! ```
// `pub` items as an app's modules have them.
#![allow(unreachable_pub, missing_debug_implementations)]
use std::error::Error;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use poolscope::EchoPool;
use poolscope_sea_orm::{Builder, DatabasePool};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue, ConnectionTrait, Schema, TransactionTrait};

mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub amount: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One request: store an order in a transaction; a declined one returns early and its
/// transaction is dropped, so SeaORM rolls it back.
async fn handle(db: &DatabasePool, id: i64) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    order::ActiveModel {
        id: ActiveValue::Set(id),
        amount: ActiveValue::Set(id * 100),
    }
    .insert(&txn)
    .await?;
    if id % 5 == 0 {
        return Ok(()); // declined: `txn` dropped uncommitted
    }
    txn.commit().await
}

async fn run(url: &str) -> Result<(), Box<dyn Error>> {
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let db = Builder::new()
        .pool_size(4)
        .max_overflow(2)
        .pool_timeout(Duration::from_secs(5))
        .echo_pool(EchoPool::Debug)
        .name("orders-db")
        .connect(url)
        .await?;

    let backend = db.get_database_backend();
    db.execute_unprepared("DROP TABLE IF EXISTS orders").await?;
    db.execute(&Schema::new(backend).create_table_from_entity(order::Entity))
        .await?;

    let tasks: Vec<_> = (1..=20)
        .map(|id| {
            let db = db.clone();
            tokio::spawn(async move { handle(&db, id).await })
        })
        .collect();
    for task in tasks {
        task.await??;
    }

    // A legacy handler that opens a transaction in SQL and never ends it: its connection
    // goes back to the pool with the insert uncommitted, and is rolled back there.
    db.execute_unprepared("BEGIN; INSERT INTO orders (id, amount) VALUES (99, 0)")
        .await?;

    let stored = order::Entity::find().count(&db).await?;
    println!("orders stored: {stored} of 21 (4 declined, 1 left open and rolled back)");
    // sqlx gives a connection back on a task of its own; let the count's come home.
    tokio::time::sleep(Duration::from_millis(50)).await;
    println!("{}", db.status());
    println!("--- metrics ---");
    for line in prometheus.render().lines() {
        if line.contains("orders-db") {
            println!("{line}");
        }
    }
    db.close().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // The pool's lines only (sqlx logs every statement at DEBUG).
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer())
        .with(
            tracing_subscriber::filter::Targets::new()
                .with_target("poolscope", tracing::Level::DEBUG),
        )
        .init();
    let url = std::env::args().nth(1).unwrap_or_else(|| {
        let path = std::env::temp_dir().join("poolscope-sea-orm-app.db");
        format!("sqlite://{}?mode=rwc", path.display())
    });
    run(&url).await
}
