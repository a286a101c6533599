//! A counting fake database and manager for the semantics tests, implementing both
//! `r2d2::ManageConnection` and `bb8::ManageConnection`, plus an event-recording listener.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]
#![allow(dead_code)]

pub mod faults;
pub mod fronts;
#[cfg(feature = "metrics")]
pub mod gauge_recorder;
#[cfg(all(feature = "metrics", feature = "opentelemetry"))]
pub mod gauge_truth;
#[cfg(feature = "opentelemetry")]
pub mod otel_prometheus;
pub mod pg;
pub mod pgbouncer;
pub mod pool_lines;
#[cfg(feature = "metrics")]
pub mod pool_series;
pub mod private_mariadb;
pub mod private_postgres;
pub mod stress;

use poolscope::{CheckinEvent, CloseDetachedEvent, ConnectionEvent, InvalidateEvent, ResetEvent};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poolscope::{BoxError, ListenerError, PoolListener, ResetAction};

/// The fake server: counts connects and closes, can be stopped and restarted, and keeps
/// every connection's call log (`rollback`, `commit`, `ping`, `close`, ...).
#[derive(Clone, Default)]
pub struct Db {
    inner: Arc<DbState>,
}

#[derive(Default)]
struct DbState {
    connects: AtomicUsize,
    closes: AtomicUsize,
    down: AtomicBool,
    generation: AtomicU64,
    connect_delay_ms: AtomicU64,
    ping_delay_ms: AtomicU64,
    fail_reset: AtomicBool,
    panic_reset: AtomicBool,
    panic_connect: AtomicBool,
    panic_has_broken: AtomicBool,
    panic_ping: AtomicBool,
    close_delay_ms: AtomicU64,
    /// The async manager's connect, pre-ping and reset never return (a server that
    /// accepts and never answers), with no timer of any runtime's.
    hang_connect: AtomicBool,
    hang_ping: AtomicBool,
    hang_reset: AtomicBool,
    /// Connections opened and not yet fully closed, and the most there ever were at once.
    live: AtomicUsize,
    peak_live: AtomicUsize,
    /// Of `live`, connections taken out of their pool (`FakeConn::leave_pool`): they no
    /// longer count against its limit.
    left_pool: AtomicUsize,
    /// `live` less `left_pool`, kept as one number: counted from two, a connection that left
    /// its pool and closed between the two reads was counted live and not left (one too many).
    pooled: AtomicUsize,
    /// Runs inside the next connect, once it is counted and before the peak is read.
    during_open: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// The server's connection budget (`max_connections`): a connect beyond it is refused
    /// with PostgreSQL's words. 0: no budget.
    budget: AtomicUsize,
    /// Connects tried, refused or not.
    attempts: AtomicUsize,
    calls: Mutex<HashMap<usize, Vec<&'static str>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeError(pub String);

impl fmt::Display for FakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FakeError {}

impl Db {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn manager(&self) -> FakeManager {
        FakeManager {
            db: self.clone(),
            url: None,
        }
    }
    /// A manager that keeps `url` and shows it in its `Debug`, as many real ones do.
    pub fn manager_with_url(&self, url: &str) -> FakeManager {
        FakeManager {
            db: self.clone(),
            url: Some(url.to_owned()),
        }
    }
    pub fn connects(&self) -> usize {
        self.inner.connects.load(Ordering::SeqCst)
    }
    pub fn closes(&self) -> usize {
        self.inner.closes.load(Ordering::SeqCst)
    }
    /// Connections currently open on the "server".
    pub fn open(&self) -> usize {
        self.connects() - self.closes()
    }
    pub fn stop(&self) {
        self.inner.down.store(true, Ordering::SeqCst);
    }
    /// Starts the server again; connections from before the stop are dead.
    pub fn start(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        self.inner.down.store(false, Ordering::SeqCst);
    }
    pub fn restart(&self) {
        self.stop();
        self.start();
    }
    pub fn set_connect_delay(&self, delay: Duration) {
        self.inner
            .connect_delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
    /// Makes every ping take `delay` (a server that stopped answering).
    pub fn set_ping_delay(&self, delay: Duration) {
        self.inner
            .ping_delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
    pub fn fail_resets(&self, fail: bool) {
        self.inner.fail_reset.store(fail, Ordering::SeqCst);
    }
    pub fn panic_connects(&self, panic: bool) {
        self.inner.panic_connect.store(panic, Ordering::SeqCst);
    }
    /// Makes the manager's `is_valid` (the pre-ping) panic.
    pub fn panic_pings(&self, panic: bool) {
        self.inner.panic_ping.store(panic, Ordering::SeqCst);
    }
    /// Makes the manager's `has_broken` panic.
    pub fn panic_has_broken(&self, panic: bool) {
        self.inner.panic_has_broken.store(panic, Ordering::SeqCst);
    }
    /// Makes the async connect, pre-ping or reset never return (`hang`), or work again.
    pub fn hang_connects(&self, hang: bool) {
        self.inner.hang_connect.store(hang, Ordering::SeqCst);
    }
    pub fn hang_pings(&self, hang: bool) {
        self.inner.hang_ping.store(hang, Ordering::SeqCst);
    }
    pub fn hang_resets(&self, hang: bool) {
        self.inner.hang_reset.store(hang, Ordering::SeqCst);
    }
    /// Makes closing a connection (dropping it) take `delay`.
    pub fn set_close_delay(&self, delay: Duration) {
        self.inner
            .close_delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
    /// Runs `hook` inside the next connect, after the connection is counted live and before
    /// the peak is read: a deterministic interleaving for what a thread preempted there sees.
    pub fn during_next_open(&self, hook: impl FnOnce() + Send + 'static) {
        *self.inner.during_open.lock().unwrap() = Some(Box::new(hook));
    }
    /// Admits at most `connections` at once (a server's `max_connections`, shared by every
    /// pool over this `Db`); 0: no limit.
    pub fn set_budget(&self, connections: usize) {
        self.inner.budget.store(connections, Ordering::SeqCst);
    }
    /// Connects tried so far, refused or not.
    pub fn attempts(&self) -> usize {
        self.inner.attempts.load(Ordering::SeqCst)
    }
    /// Connections opened and not yet fully closed.
    pub fn live(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }
    /// The most connections ever live at once in the pool (opened and not fully closed,
    /// those that left the pool not counted).
    pub fn peak_live(&self) -> usize {
        self.inner.peak_live.load(Ordering::SeqCst)
    }
    pub fn panic_resets(&self, panic: bool) {
        self.inner.panic_reset.store(panic, Ordering::SeqCst);
    }
    /// The calls made on connection `id` (1-based, in connect order).
    pub fn calls(&self, id: usize) -> Vec<&'static str> {
        self.inner
            .calls
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }
    fn record(&self, id: usize, call: &'static str) {
        self.inner
            .calls
            .lock()
            .unwrap()
            .entry(id)
            .or_default()
            .push(call);
    }
    fn open_connection(&self) -> Result<FakeConn, FakeError> {
        self.inner.attempts.fetch_add(1, Ordering::SeqCst);
        if self.inner.panic_connect.load(Ordering::SeqCst) {
            panic!("the driver panicked while connecting");
        }
        if self.inner.down.load(Ordering::SeqCst) {
            return Err(FakeError("database is stopped".into()));
        }
        let budget = self.inner.budget.load(Ordering::SeqCst);
        let live = self.inner.live.fetch_add(1, Ordering::SeqCst) + 1;
        if budget > 0 && live > budget {
            self.inner.live.fetch_sub(1, Ordering::SeqCst);
            return Err(FakeError("FATAL: sorry, too many clients already".into()));
        }
        let id = self.inner.connects.fetch_add(1, Ordering::SeqCst) + 1;
        let pooled = self.inner.pooled.fetch_add(1, Ordering::SeqCst) + 1;
        let hook = self.inner.during_open.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        self.inner.peak_live.fetch_max(pooled, Ordering::SeqCst);
        self.inner.calls.lock().unwrap().entry(id).or_default();
        Ok(FakeConn {
            id,
            generation: self.inner.generation.load(Ordering::SeqCst),
            db: self.clone(),
            in_transaction: false,
            broken: false,
            left_pool: false,
        })
    }
    fn connect_delay(&self) -> Duration {
        Duration::from_millis(self.inner.connect_delay_ms.load(Ordering::SeqCst))
    }
}

/// A fake connection. Dropping it closes it on the fake server.
pub struct FakeConn {
    pub id: usize,
    generation: u64,
    db: Db,
    pub in_transaction: bool,
    /// Makes the manager's `has_broken` say so.
    pub broken: bool,
    left_pool: bool,
}

impl FakeConn {
    fn alive(&self) -> bool {
        !self.db.inner.down.load(Ordering::SeqCst)
            && self.generation == self.db.inner.generation.load(Ordering::SeqCst)
    }
    /// Runs a statement: fails on a connection from before a restart.
    pub fn execute(&mut self) -> Result<(), FakeError> {
        self.db.record(self.id, "execute");
        if self.alive() {
            Ok(())
        } else {
            Err(FakeError(
                "server closed the connection unexpectedly".into(),
            ))
        }
    }
    /// Says this connection is about to leave its pool (detached): it no longer counts
    /// against the pool's limit in [`Db::peak_live`].
    pub fn leave_pool(&mut self) {
        if !std::mem::replace(&mut self.left_pool, true) {
            self.db.inner.left_pool.fetch_add(1, Ordering::SeqCst);
            self.db.inner.pooled.fetch_sub(1, Ordering::SeqCst);
        }
    }
    pub fn begin(&mut self) {
        self.in_transaction = true;
    }
    pub fn calls(&self) -> Vec<&'static str> {
        self.db.calls(self.id)
    }
}

impl fmt::Debug for FakeConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FakeConn({})", self.id)
    }
}

impl Drop for FakeConn {
    fn drop(&mut self) {
        self.db.record(self.id, "close");
        let delay = Duration::from_millis(self.db.inner.close_delay_ms.load(Ordering::SeqCst));
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        self.db.inner.live.fetch_sub(1, Ordering::SeqCst);
        if self.left_pool {
            self.db.inner.left_pool.fetch_sub(1, Ordering::SeqCst);
        } else {
            self.db.inner.pooled.fetch_sub(1, Ordering::SeqCst);
        }

        self.db.inner.closes.fetch_add(1, Ordering::SeqCst);
    }
}

pub struct FakeManager {
    pub db: Db,
    /// Shown by `Debug`, credentials and all.
    url: Option<String>,
}

impl fmt::Debug for FakeManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeManager")
            .field("url", &self.url)
            .finish()
    }
}

impl r2d2::ManageConnection for FakeManager {
    type Connection = FakeConn;
    type Error = FakeError;

    fn connect(&self) -> Result<FakeConn, FakeError> {
        let delay = self.db.connect_delay();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        self.db.open_connection()
    }

    fn is_valid(&self, conn: &mut FakeConn) -> Result<(), FakeError> {
        let delay = self.db.inner.ping_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        self.ping(conn)
    }

    fn has_broken(&self, conn: &mut FakeConn) -> bool {
        self.broken(conn)
    }
}

impl FakeManager {
    /// The ping itself, once any delay is over.
    fn ping(&self, conn: &mut FakeConn) -> Result<(), FakeError> {
        self.db.record(conn.id, "ping");
        if self.db.inner.panic_ping.load(Ordering::SeqCst) {
            panic!("the ping panicked on purpose");
        }
        if conn.alive() {
            Ok(())
        } else {
            Err(FakeError("connection is dead".into()))
        }
    }

    fn broken(&self, conn: &FakeConn) -> bool {
        if self.db.inner.panic_has_broken.load(Ordering::SeqCst) {
            panic!("has_broken panicked on purpose");
        }
        conn.broken
    }
}

impl bb8::ManageConnection for FakeManager {
    type Connection = FakeConn;
    type Error = FakeError;

    async fn connect(&self) -> Result<FakeConn, FakeError> {
        if self.db.inner.hang_connect.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let delay = self.db.connect_delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.db.open_connection()
    }

    async fn is_valid(&self, conn: &mut FakeConn) -> Result<(), FakeError> {
        if self.db.inner.hang_ping.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let delay = self.db.inner.ping_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        self.ping(conn)
    }

    fn has_broken(&self, conn: &mut FakeConn) -> bool {
        self.broken(conn)
    }
}

/// The reset function for fake connections: records `rollback` / `commit`.
pub fn fake_reset(conn: &mut FakeConn, action: ResetAction) -> Result<(), BoxError> {
    conn.db.record(conn.id, action.as_str());
    if conn.db.inner.panic_reset.load(Ordering::SeqCst) {
        panic!("reset panicked on purpose");
    }
    if conn.db.inner.fail_reset.load(Ordering::SeqCst) {
        return Err(Box::new(FakeError("reset failed: connection lost".into())));
    }
    conn.in_transaction = false;
    Ok(())
}

/// The async reset for fake connections.
pub struct FakeAsyncReset;

impl poolscope::AsyncReset<FakeConn> for FakeAsyncReset {
    fn reset<'a>(
        &'a self,
        conn: &'a mut FakeConn,
        action: ResetAction,
    ) -> poolscope::BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            if conn.db.inner.hang_reset.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            fake_reset(conn, action)
        })
    }
}

/// Records every event as `name:connection_id` (or `name` where there is none).
#[derive(Clone, Default)]
pub struct EventLog {
    pub events: Arc<Mutex<Vec<String>>>,
}

impl EventLog {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
    pub fn names(&self) -> Vec<String> {
        self.take()
            .into_iter()
            .map(|e| e.split(':').next().unwrap().to_owned())
            .collect()
    }
    fn push(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }
}

impl PoolListener<FakeConn> for EventLog {
    fn first_connect(&self, event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
        let c = event.connection;
        self.push(format!("first_connect:{}", c.id));
        Ok(())
    }
    fn connect(&self, event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
        let c = event.connection;
        self.push(format!("connect:{}", c.id));
        Ok(())
    }
    fn checkout(&self, event: ConnectionEvent<'_, FakeConn>) -> Result<(), ListenerError> {
        let c = event.connection;
        self.push(format!("checkout:{}", c.id));
        Ok(())
    }
    fn checkin(&self, event: CheckinEvent<'_, FakeConn>) {
        let c = event.connection;
        match c {
            Some(c) => self.push(format!("checkin:{}", c.id)),
            None => self.push("checkin:none".into()),
        }
    }
    fn reset(&self, event: ResetEvent<'_, FakeConn>) {
        let c = event.connection;
        let state = event.state;
        let kind = if state.terminate_only {
            "terminate"
        } else {
            "return"
        };
        self.push(format!("reset:{}:{kind}", c.id));
    }
    fn invalidate(&self, event: InvalidateEvent<'_, FakeConn>) {
        let c = event.connection;
        self.push(format!("invalidate:{}", c.id));
    }
    fn soft_invalidate(&self, event: InvalidateEvent<'_, FakeConn>) {
        let c = event.connection;
        self.push(format!("soft_invalidate:{}", c.id));
    }
    fn close(&self, event: ConnectionEvent<'_, FakeConn>) {
        let c = event.connection;
        self.push(format!("close:{}", c.id));
    }
    fn detach(&self, event: ConnectionEvent<'_, FakeConn>) {
        let c = event.connection;
        self.push(format!("detach:{}", c.id));
    }
    fn close_detached(&self, event: CloseDetachedEvent<'_, FakeConn>) {
        let c = event.connection;
        self.push(format!("close_detached:{}", c.id));
    }
}

/// A blocking pool builder over a fresh fake db, resetting with `fake_reset`.
pub fn builder() -> poolscope::Builder<FakeManager> {
    poolscope::Pool::builder().reset_with(fake_reset)
}

/// `(size, checked_in, overflow, checked_out)`, SQLAlchemy's tuple.
pub fn counts<M: r2d2::ManageConnection>(pool: &poolscope::Pool<M>) -> (usize, usize, i64, usize) {
    let s = pool.status();
    (s.size, s.checked_in, s.overflow, s.checked_out)
}

/// Deliberate panics (a test's callers, the fake driver, a test recorder: their messages say
/// "on purpose" or "the driver panicked") would fill the output: only the others are printed.
pub fn quiet_deliberate_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !(text.contains("on purpose") || text.contains("the driver panicked")) {
                default(info);
            }
        }));
    });
}
