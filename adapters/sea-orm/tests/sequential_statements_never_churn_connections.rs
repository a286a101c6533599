//! Statements one after another reuse the pool's connection: none is opened as overflow (and
//! closed on its return) because the previous statement's connection was still on its way
//! back. sqlx returns a connection on a task of its own and pings it first; with `pool_size`
//! 1 and overflow allowed, one statement in three opened and closed a connection before.
//! Every backend, on a multi-thread runtime (statements in a task, and in `block_on`) and on a
//! current-thread one.
#![cfg(all(
    feature = "metrics",
    any(feature = "sqlite", feature = "postgres", feature = "mysql")
))]

mod common;

use std::future::Future;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use poolscope::metric_names::CLOSES;
use sea_orm::ConnectionTrait;

const STATEMENTS: usize = 1000;

fn closes(snapshotter: &Snapshotter) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == CLOSES)
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

#[derive(Debug, Clone, Copy)]
enum Runner {
    /// A task spawned on a two-worker runtime.
    SpawnedTask,
    /// `block_on` of a two-worker runtime (`#[tokio::main]`).
    BlockOn,
    /// A current-thread runtime.
    CurrentThreadRuntime,
}

fn run<F: Future<Output = ()> + Send + 'static>(runner: Runner, body: F) {
    match runner {
        Runner::CurrentThreadRuntime => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(body),
        Runner::SpawnedTask | Runner::BlockOn => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            match runner {
                Runner::SpawnedTask => {
                    runtime.block_on(async { tokio::spawn(body).await.unwrap() })
                }
                _ => runtime.block_on(body),
            }
        }
    }
}

fn sequential_statements(target: Option<common::Target>) {
    let Some(t) = target else { return };
    let url = common::sqlx_url(&t);
    for runner in [
        Runner::SpawnedTask,
        Runner::BlockOn,
        Runner::CurrentThreadRuntime,
    ] {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let db = metrics::with_local_recorder(&recorder, || {
            poolscope_sea_orm::Builder::new()
                .pool_size(1)
                .max_overflow(10)
                .build(&url)
                .unwrap()
        });
        let db2 = db.clone();
        run(runner, async move {
            for _ in 0..STATEMENTS {
                db2.execute_unprepared("SELECT 1").await.unwrap();
            }
        });
        let closed = closes(&snapshotter);
        assert!(
            closed <= 1,
            "{runner:?}: {closed} connections opened and closed for {STATEMENTS} sequential \
             statements on a pool of 1 ({})",
            db.status()
        );
    }
}

#[cfg(feature = "sqlite")]
#[test]
fn sequential_statements_never_churn_connections_sqlite() {
    sequential_statements(Some(common::Target::sqlite("so_churn")));
}

#[cfg(feature = "postgres")]
#[test]
fn sequential_statements_never_churn_connections_postgres() {
    sequential_statements(common::Target::postgres("so_churn"));
}

#[cfg(feature = "mysql")]
#[test]
fn sequential_statements_never_churn_connections_mysql() {
    sequential_statements(common::Target::mysql("so_churn"));
}
