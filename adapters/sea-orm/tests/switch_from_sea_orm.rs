//! Switching a SeaORM app to poolscope is a change of imports: the same application code,
//! written once (the macro below), is compiled and run against SeaORM's own
//! `Database::connect(ConnectOptions)` and against `poolscope_sea_orm::compat`, and does the
//! same thing.
//!
//! The app uses what SeaORM apps use: `ConnectOptions` with its pool and session options and
//! `after_connect`, an owned `DatabaseConnection` in an `Arc`'d state struct, functions taking
//! `&DatabaseConnection`, entities (insert, find, count), `transaction(..)`, `begin()`,
//! `stream(..)`, `ping()` and `close()`.
// `pub` items as an app's modules have them.
#![allow(unreachable_pub, missing_debug_implementations)]
#![cfg(all(feature = "sqlite", feature = "stream"))]

mod common;

use common::Target;

mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "switch_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub amount: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What the app saw, compared between the two pools.
#[derive(Debug, PartialEq)]
struct Outcome {
    total: i64,
    streamed: usize,
    session: Vec<String>,
}

macro_rules! app {
    ($connect:path) => {
        use std::sync::Arc;
        use std::time::Duration;

        use futures_util::StreamExt;
        use sea_orm::{
            ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait, Set,
            Statement, TransactionTrait,
        };
        use $connect::{ConnectOptions, Database, DatabaseConnection};

        use crate::{order, Outcome};

        pub struct AppState {
            pub db: DatabaseConnection,
        }

        async fn place(db: &DatabaseConnection, id: i64, amount: i64) -> Result<(), DbErr> {
            order::ActiveModel {
                id: Set(id),
                amount: Set(amount),
            }
            .insert(db)
            .await?;
            Ok(())
        }

        async fn session(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
            if db.get_database_backend() != DbBackend::Postgres {
                return Ok(vec![]);
            }
            let row = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT current_setting('application_name') AS a, \
                     current_setting('search_path') AS s, \
                     current_setting('statement_timeout') AS t",
                ))
                .await?
                .expect("a row");
            Ok(vec![
                row.try_get("", "a")?,
                row.try_get("", "s")?,
                row.try_get("", "t")?,
            ])
        }

        pub async fn run(url: &str, application_name: &str) -> Result<Outcome, DbErr> {
            let mut opt = ConnectOptions::new(url);
            opt.max_connections(4)
                .min_connections(1)
                .connect_timeout(Duration::from_secs(8))
                .acquire_timeout(Duration::from_secs(8))
                .idle_timeout(Duration::from_secs(60))
                .max_lifetime(Duration::from_secs(1800))
                .sqlx_logging(true)
                .sqlx_logging_level(log::LevelFilter::Debug)
                .set_application_name(application_name)
                .set_schema_search_path("public")
                .statement_timeout(Duration::from_secs(5))
                .after_connect(|db: DatabaseConnection| {
                    Box::pin(async move {
                        db.execute_unprepared(
                            "CREATE TABLE IF NOT EXISTS switch_orders \
                             (id BIGINT PRIMARY KEY, amount BIGINT NOT NULL)",
                        )
                        .await?;
                        db.execute_unprepared("DELETE FROM switch_orders").await?;
                        Ok(())
                    })
                });
            let state = Arc::new(AppState {
                db: Database::connect(opt).await?,
            });
            state.db.ping().await?;

            let workers: Vec<_> = (0..4)
                .map(|w| {
                    let state = Arc::clone(&state);
                    tokio::spawn(async move {
                        for i in 0..5 {
                            place(&state.db, w * 100 + i, i).await?;
                        }
                        Ok::<_, DbErr>(())
                    })
                })
                .collect();
            for worker in workers {
                worker.await.expect("worker")?;
            }

            state
                .db
                .transaction::<_, _, DbErr>(|txn| {
                    Box::pin(async move {
                        order::ActiveModel {
                            id: Set(1000),
                            amount: Set(50),
                        }
                        .insert(txn)
                        .await?;
                        Ok(())
                    })
                })
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            let txn = state.db.begin().await?;
            place_in(&txn).await?;
            txn.rollback().await?;

            let count = order::Entity::find().count(&state.db).await?;
            let all = order::Entity::find().all(&state.db).await?;
            let total = all.iter().map(|o| o.amount).sum::<i64>() + count as i64;
            let streamed = {
                let mut stream = order::Entity::find().stream(&state.db).await?;
                let mut n = 0;
                while let Some(row) = stream.next().await {
                    row?;
                    n += 1;
                }
                n
            };
            let session = session(&state.db).await?;
            state
                .db
                .execute_unprepared("DROP TABLE switch_orders")
                .await?;
            match Arc::try_unwrap(state) {
                Ok(state) => state.db.close().await?,
                Err(_) => panic!("the state is still shared"),
            }
            Ok(Outcome {
                total,
                streamed,
                session,
            })
        }

        async fn place_in(txn: &sea_orm::DatabaseTransaction) -> Result<(), DbErr> {
            order::ActiveModel {
                id: Set(2000),
                amount: Set(1),
            }
            .insert(txn)
            .await?;
            Ok(())
        }
    };
}

mod with_sea_orm {
    app!(sea_orm);
}

mod with_poolscope {
    app!(poolscope_sea_orm::compat);
}

async fn same_app_same_outcome(sea_orm_url: &str, poolscope_url: &str, app: &str) -> Outcome {
    let stock = with_sea_orm::run(sea_orm_url, app).await.expect("SeaORM");
    let switched = with_poolscope::run(poolscope_url, app)
        .await
        .expect("poolscope");
    assert_eq!(stock, switched);
    // 4 workers × 5 orders (amounts 0..5) + 1 in the transaction (50), counted once more.
    assert_eq!(stock.total, 4 * 10 + 50 + 21);
    assert_eq!(stock.streamed, 21);
    stock
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sea_orm_app_switches_by_its_imports_sqlite() {
    let stock = Target::sqlite("switch_sea_orm_stock");
    let switched = Target::sqlite("switch_sea_orm_poolscope");
    let url = |t: &Target| format!("sqlite://{}?mode=rwc", t.url);
    same_app_same_outcome(&url(&stock), &url(&switched), "unused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sea_orm_app_switches_by_its_imports_postgres() {
    let Some(target) = Target::postgres("switch_sea_orm") else {
        return;
    };
    let app = "pd_switch_sea_orm";
    let outcome = same_app_same_outcome(&target.url, &target.url, app).await;
    // The session settings reached the server.
    assert_eq!(
        outcome.session,
        vec![app.to_owned(), "public".into(), "5s".into()]
    );
    // Both pools closed every connection they opened.
    assert_eq!(target.server_connections(0), 0);
}
