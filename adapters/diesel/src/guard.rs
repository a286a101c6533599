//! The blocking pool's checked-out connection, usable wherever Diesel wants a connection.
//!
//! Like the guard of Diesel's own r2d2 pool, it implements Diesel's `Connection`,
//! `SimpleConnection`, `LoadConnection`, `MigrationConnection` and `UpdateAndFetchResults` by
//! delegating to the pooled connection, so `users.load::<User>(&mut conn)`,
//! `conn.transaction(..)`, `harness.run_pending_migrations(..)` and a
//! `fn f<C: Connection<Backend = Pg>>(c: &mut C)` take it as they are. (Implementing
//! `Connection` outside Diesel needs Diesel's
//! `i-implement-a-third-party-backend-and-opt-into-breaking-changes` feature, which this crate
//! turns on, as diesel-async does.)

use std::fmt;
use std::ops::{Deref, DerefMut};

use diesel::connection::{
    CacheSize, Connection, ConnectionSealed, Instrumentation, LoadConnection, SimpleConnection,
    TransactionManager, TransactionManagerStatus,
};
use diesel::expression::QueryMetadata;
use diesel::query_builder::{Query, QueryFragment, QueryId};
use diesel::r2d2::R2D2Connection;
use diesel::result::{ConnectionError, ConnectionResult, QueryResult};

use crate::manager::Manager;

/// A checked-out connection. `&mut conn` is a Diesel connection in its own right, and
/// `&mut *conn` a `&mut C`; dropping it returns the connection to the pool (rolled back,
/// then kept or closed per the pool class).
pub struct PooledConnection<C: R2D2Connection + Send + 'static> {
    inner: poolscope::PooledConnection<Manager<C>>,
}

impl<C: R2D2Connection + Send + 'static> PooledConnection<C> {
    pub(crate) fn new(inner: poolscope::PooledConnection<Manager<C>>) -> Self {
        PooledConnection { inner }
    }

    /// The slot's record: ids, age, `info` and `record_info`.
    pub fn record(&self) -> &poolscope::ConnectionRecord {
        self.inner.record()
    }

    /// The slot's record, mutably (to write `info` or `record_info`).
    pub fn record_mut(&mut self) -> &mut poolscope::ConnectionRecord {
        self.inner.record_mut()
    }

    /// Where this connection was checked out.
    pub fn checkout_location(&self) -> &'static std::panic::Location<'static> {
        self.inner.checkout_location()
    }

    /// Closes the connection instead of returning it; see
    /// [`poolscope::PooledConnection::invalidate`].
    pub fn invalidate(self) {
        self.inner.invalidate()
    }

    /// Marks the connection to be replaced at its next checkout; see
    /// [`poolscope::PooledConnection::soft_invalidate`].
    pub fn soft_invalidate(&mut self) {
        self.inner.soft_invalidate()
    }

    /// Takes the connection out of the pool for good; see
    /// [`poolscope::PooledConnection::detach`].
    pub fn detach(self) -> poolscope::DetachedConnection<Manager<C>> {
        self.inner.detach()
    }

    /// Returns the connection to the pool now (the same as dropping it).
    pub fn close(self) {}

    /// The core pool's guard.
    pub fn into_core(self) -> poolscope::PooledConnection<Manager<C>> {
        self.inner
    }
}

impl<C: R2D2Connection + Send + 'static> Deref for PooledConnection<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.inner
    }
}

impl<C: R2D2Connection + Send + 'static> DerefMut for PooledConnection<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.inner
    }
}

impl<C: R2D2Connection + Send + 'static> fmt::Debug for PooledConnection<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<C: R2D2Connection + Send + 'static> SimpleConnection for PooledConnection<C> {
    fn batch_execute(&mut self, query: &str) -> QueryResult<()> {
        (**self).batch_execute(query)
    }
}

impl<C: R2D2Connection + Send + 'static> ConnectionSealed for PooledConnection<C> {}

impl<C: R2D2Connection + Send + 'static> Connection for PooledConnection<C> {
    type Backend = C::Backend;
    type TransactionManager = PooledTransactionManager<C::TransactionManager>;

    fn establish(_: &str) -> ConnectionResult<Self> {
        Err(ConnectionError::BadConnection(String::from(
            "a pooled connection comes from its pool: call pool.get()",
        )))
    }

    fn begin_test_transaction(&mut self) -> QueryResult<()> {
        (**self).begin_test_transaction()
    }

    fn execute_returning_count<T>(&mut self, source: &T) -> QueryResult<usize>
    where
        T: QueryFragment<Self::Backend> + QueryId,
    {
        (**self).execute_returning_count(source)
    }

    fn transaction_state(
        &mut self,
    ) -> &mut <Self::TransactionManager as TransactionManager<Self>>::TransactionStateData {
        (**self).transaction_state()
    }

    fn instrumentation(&mut self) -> &mut dyn Instrumentation {
        (**self).instrumentation()
    }

    fn set_instrumentation(&mut self, instrumentation: impl Instrumentation) {
        (**self).set_instrumentation(instrumentation)
    }

    fn set_prepared_statement_cache_size(&mut self, size: CacheSize) {
        (**self).set_prepared_statement_cache_size(size)
    }
}

impl<B, C> LoadConnection<B> for PooledConnection<C>
where
    C: LoadConnection<B> + R2D2Connection + Send + 'static,
{
    type Cursor<'conn, 'query> = <C as LoadConnection<B>>::Cursor<'conn, 'query>;
    type Row<'conn, 'query> = <C as LoadConnection<B>>::Row<'conn, 'query>;

    fn load<'conn, 'query, T>(
        &'conn mut self,
        source: T,
    ) -> QueryResult<Self::Cursor<'conn, 'query>>
    where
        T: Query + QueryFragment<Self::Backend> + QueryId + 'query,
        Self::Backend: QueryMetadata<T::SqlType>,
    {
        (**self).load(source)
    }
}

impl<C> diesel::migration::MigrationConnection for PooledConnection<C>
where
    C: diesel::migration::MigrationConnection + R2D2Connection + Send + 'static,
{
    fn setup(&mut self) -> QueryResult<usize> {
        (**self).setup()
    }
}

impl<Changes, Output, C> diesel::query_dsl::UpdateAndFetchResults<Changes, Output>
    for PooledConnection<C>
where
    C: diesel::query_dsl::UpdateAndFetchResults<Changes, Output> + R2D2Connection + Send + 'static,
{
    fn update_and_fetch(&mut self, changeset: Changes) -> QueryResult<Output> {
        (**self).update_and_fetch(changeset)
    }
}

/// The transaction manager of a [`PooledConnection`]: the pooled connection's own, reached
/// through the guard.
#[doc(hidden)]
#[derive(Debug)]
pub struct PooledTransactionManager<T>(std::marker::PhantomData<T>);

impl<C, T> TransactionManager<PooledConnection<C>> for PooledTransactionManager<T>
where
    C: Connection<TransactionManager = T> + R2D2Connection + Send + 'static,
    T: TransactionManager<C>,
{
    type TransactionStateData = T::TransactionStateData;

    fn begin_transaction(conn: &mut PooledConnection<C>) -> QueryResult<()> {
        T::begin_transaction(&mut **conn)
    }

    fn rollback_transaction(conn: &mut PooledConnection<C>) -> QueryResult<()> {
        T::rollback_transaction(&mut **conn)
    }

    fn commit_transaction(conn: &mut PooledConnection<C>) -> QueryResult<()> {
        T::commit_transaction(&mut **conn)
    }

    fn transaction_manager_status_mut(
        conn: &mut PooledConnection<C>,
    ) -> &mut TransactionManagerStatus {
        T::transaction_manager_status_mut(&mut **conn)
    }
}
