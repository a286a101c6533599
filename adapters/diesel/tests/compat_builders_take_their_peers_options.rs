//! The compat builders take every option their peers' apps call, and each does what its doc
//! says: r2d2's `event_handler` hears what the pool did (acquire, checkout, timeout, checkin,
//! release: a connection returned inside a transaction is kept, so no release), its
//! `error_handler` every failed connect and customizer; `thread_pool` is accepted. bb8's
//! `error_sink` hears every failed connect attempt and pre-ping, `retry_connection` retries
//! until `connection_timeout` (or fails at once when off), and `state().statistics` counts
//! what happened; `reaper_rate` is accepted.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a handler or sink heard, in order.
#[derive(Debug, Clone, Default)]
struct Heard(Arc<Mutex<Vec<String>>>);

impl Heard {
    fn push(&self, what: String) {
        self.0.lock().unwrap().push(what);
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn count(&self, prefix: &str) -> usize {
        self.all().iter().filter(|e| e.starts_with(prefix)).count()
    }
}

mod r2d2_compat {
    use super::*;
    use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
    use diesel::SqliteConnection;
    use poolscope_diesel::r2d2::event::{
        AcquireEvent, CheckinEvent, CheckoutEvent, ReleaseEvent, TimeoutEvent,
    };
    use poolscope_diesel::r2d2::{
        ConnectionManager, CustomizeConnection, Error, HandleError, HandleEvent, Pool,
        ScheduledThreadPool,
    };

    impl HandleEvent for Heard {
        fn handle_acquire(&self, e: AcquireEvent) {
            self.push(format!("acquire:{}", e.connection_id()));
        }
        fn handle_release(&self, e: ReleaseEvent) {
            self.push(format!(
                "release:{}:{}",
                e.connection_id(),
                e.age().as_millis()
            ));
        }
        fn handle_checkout(&self, e: CheckoutEvent) {
            self.push(format!(
                "checkout:{}:{}",
                e.connection_id(),
                e.duration().as_millis()
            ));
        }
        fn handle_timeout(&self, e: TimeoutEvent) {
            self.push(format!("timeout:{}", e.timeout().as_millis()));
        }
        fn handle_checkin(&self, e: CheckinEvent) {
            self.push(format!(
                "checkin:{}:{}",
                e.connection_id(),
                e.duration().as_millis()
            ));
        }
    }

    impl HandleError<Error> for Heard {
        fn handle_error(&self, error: Error) {
            self.push(format!("error:{error}"));
        }
    }

    fn ids(heard: &Heard, kind: &str) -> Vec<u64> {
        heard
            .all()
            .iter()
            .filter_map(|e| e.strip_prefix(kind)?.split(':').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn the_event_handler_hears_what_the_pool_did() {
        let t = common::Target::sqlite("compat_r2d2_events");
        let heard = Heard::default();
        let pool = Pool::builder()
            .max_size(2)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_millis(200))
            .event_handler(Box::new(heard.clone()))
            .thread_pool(Arc::new(ScheduledThreadPool::new(1)))
            .build(ConnectionManager::<SqliteConnection>::new(t.url.as_str()))
            .unwrap();
        // `build` opened min_idle: acquired, and not a checkout of the application's.
        assert_eq!(heard.all().len(), 1, "{:?}", heard.all());
        let first = ids(&heard, "acquire:")[0];

        let a = pool.get().unwrap();
        assert_eq!(ids(&heard, "checkout:"), vec![first]);
        let b = pool.get().unwrap();
        let second = ids(&heard, "acquire:")[1];
        assert_eq!(ids(&heard, "checkout:"), vec![first, second]);

        // At the limit: a timeout, with the timeout the caller gave; `try_get` does not
        // wait, so it is no timeout.
        assert!(pool.get_timeout(Duration::from_millis(50)).is_err());
        assert_eq!(heard.count("timeout:50"), 1, "{:?}", heard.all());
        assert!(pool.try_get().is_none());
        assert_eq!(heard.count("timeout:"), 1, "{:?}", heard.all());

        // Held 60 ms, returned: checked in with how long it was out.
        std::thread::sleep(Duration::from_millis(60));
        drop(a);
        let checkin: Vec<String> = heard
            .all()
            .into_iter()
            .filter(|e| e.starts_with(&format!("checkin:{first}:")))
            .collect();
        let held: u64 = checkin[0].rsplit(':').next().unwrap().parse().unwrap();
        assert!(held >= 60, "{checkin:?}");
        // `min_idle` idle now: the second one is overflow, closed on return (released).
        drop(b);
        assert_eq!(ids(&heard, "checkin:"), vec![first, second]);
        assert_eq!(ids(&heard, "release:"), vec![second]);

        // Returned inside a transaction: rolled back and kept (r2d2 would release it).
        let mut c = pool.get().unwrap();
        AnsiTransactionManager::begin_transaction(&mut *c).unwrap();
        c.batch_execute("SELECT 1").unwrap();
        drop(c);
        assert_eq!(ids(&heard, "release:"), vec![second], "{:?}", heard.all());
        assert_eq!(
            pool.get().unwrap().record().connection_id(),
            Some(first),
            "the same connection, kept"
        );
    }

    #[derive(Debug)]
    struct Refuses;

    impl CustomizeConnection<SqliteConnection, Error> for Refuses {
        fn on_acquire(&self, _: &mut SqliteConnection) -> Result<(), Error> {
            Err(Error::ConnectionError(
                diesel::ConnectionError::BadConnection("refused by the customizer".into()),
            ))
        }
    }

    #[test]
    fn the_error_handler_hears_each_failed_connect_and_customizer() {
        let heard = Heard::default();
        let pool = Pool::builder()
            .connection_timeout(Duration::from_millis(500))
            .error_handler(Box::new(heard.clone()))
            .build_unchecked(ConnectionManager::<SqliteConnection>::new(
                "/nonexistent-dir/nope/db.sqlite",
            ));
        let err = pool.get().unwrap_err();
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert_eq!(heard.all(), vec![format!("error:{cause}")]);

        let t = common::Target::sqlite("compat_r2d2_errors");
        let heard = Heard::default();
        let pool = Pool::builder()
            .error_handler(Box::new(heard.clone()))
            .connection_customizer(Box::new(Refuses))
            .build_unchecked(ConnectionManager::<SqliteConnection>::new(t.url.as_str()));
        assert!(pool.get().is_err());
        assert_eq!(heard.all(), vec!["error:refused by the customizer"]);
    }
}

mod bb8_compat {
    use super::*;
    use diesel_async::pooled_connection::PoolError;
    use diesel_async::AsyncPgConnection;
    use poolscope_diesel::bb8::{AsyncDieselConnectionManager, ErrorSink, Pool, RunError};

    impl ErrorSink<PoolError> for Heard {
        fn sink(&self, error: PoolError) {
            self.push(format!("error:{error}"));
        }
        fn boxed_clone(&self) -> Box<dyn ErrorSink<PoolError>> {
            Box::new(self.clone())
        }
    }

    /// Nothing listens on port 1: every connect is refused at once.
    const REFUSED: &str = "postgres://app@127.0.0.1:1/orders";

    #[tokio::test(flavor = "current_thread")]
    async fn connects_are_retried_until_the_timeout_and_each_failure_is_sunk() {
        let heard = Heard::default();
        let pool: Pool<AsyncPgConnection> = Pool::builder()
            .connection_timeout(Duration::from_millis(1500))
            .error_sink(Box::new(heard.clone()))
            .reaper_rate(Duration::from_secs(5))
            .build(AsyncDieselConnectionManager::new(REFUSED))
            .await
            .unwrap();
        let started = Instant::now();
        let err = pool.get().await.map(drop).unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, RunError::TimedOut), "{err:?}");
        assert!(
            took >= Duration::from_millis(1400) && took < Duration::from_secs(5),
            "{took:?}"
        );
        // Attempts at 0, 0.4 and 1.15 s (bb8's back-off: 400 ms, doubling, at most half
        // the timeout).
        assert_eq!(heard.count("error:"), 3, "{:?}", heard.all());
        assert!(heard.all()[0].contains("refused"), "{:?}", heard.all());
        let stats = pool.state().statistics;
        assert_eq!(
            (stats.get_started, stats.get_timed_out),
            (1, 1),
            "{stats:?}"
        );
        assert_eq!(stats.pending_gets(), 0);
    }

    /// The back-off needs no Tokio timer: the same on a runtime built without one.
    #[test]
    fn connects_are_retried_on_a_runtime_without_timers() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let heard = Heard::default();
        let err = rt.block_on(async {
            let pool: Pool<AsyncPgConnection> = Pool::builder()
                .connection_timeout(Duration::from_millis(1000))
                .error_sink(Box::new(heard.clone()))
                .build(AsyncDieselConnectionManager::new(REFUSED))
                .await
                .unwrap();
            pool.get().await.map(drop).unwrap_err()
        });
        assert!(matches!(err, RunError::TimedOut), "{err:?}");
        // Attempts at 0, 0.4 and 0.9 s (the next would be at 1.4 s, past the deadline).
        assert_eq!(heard.count("error:"), 3, "{:?}", heard.all());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn without_retry_a_failed_connect_fails_the_checkout_at_once() {
        let heard = Heard::default();
        let pool: Pool<AsyncPgConnection> = Pool::builder()
            .connection_timeout(Duration::from_secs(5))
            .retry_connection(false)
            .error_sink(Box::new(heard.clone()))
            .build(AsyncDieselConnectionManager::new(REFUSED))
            .await
            .unwrap();
        let started = Instant::now();
        let err = pool.get().await.map(drop).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        let RunError::User(cause) = err else {
            panic!("{err:?}")
        };
        assert_eq!(heard.all(), vec![format!("error:{cause}")]);
        let stats = pool.state().statistics;
        assert_eq!((stats.get_failed, stats.get_timed_out), (1, 0), "{stats:?}");
    }

    /// With `POOLSCOPE_PG_URL`: a connection whose server process was terminated fails its
    /// pre-ping; the sink hears it, the pool replaces it, and the statistics count it closed
    /// as invalid.
    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_pre_ping_is_sunk_and_counted_invalid() {
        let Some(t) = common::Target::postgres("compat_bb8_sink") else {
            return;
        };
        let heard = Heard::default();
        let pool: Pool<AsyncPgConnection> = Pool::builder()
            .max_size(1)
            .error_sink(Box::new(heard.clone()))
            .build(AsyncDieselConnectionManager::new(t.url.as_str()))
            .await
            .unwrap();
        drop(pool.get().await.unwrap());
        assert_eq!(t.kill_connections(), 1);
        drop(pool.get().await.unwrap());
        assert_eq!(heard.count("error:"), 1, "{:?}", heard.all());
        let stats = pool.state().statistics;
        assert_eq!(
            (stats.connections_created, stats.connections_closed_invalid),
            (2, 1),
            "{stats:?}"
        );
    }
}
