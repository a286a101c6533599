//! The server's connection budget, read once on a pool's first connection (the core publishes
//! it as `poolscope.server.connection.budget`, which the dashboard's Fleet row holds the
//! replicas against): PostgreSQL's `max_connections` less the reserved ones, or the role's or
//! the database's `CONNECTION LIMIT` if lower; MySQL's and MariaDB's `max_connections`, or
//! the user's `max_user_connections` if lower. One query, on a connection just opened; any
//! error says nothing. SQLite has no server.
// Built with SQLite alone (or no backend), nothing here has a server to ask.
#![cfg_attr(
    not(any(
        feature = "postgres",
        feature = "mysql",
        feature = "async-postgres",
        feature = "async-mysql"
    )),
    allow(dead_code, unused_imports)
)]

use std::any::Any;

use diesel::sql_types::BigInt;
use diesel::QueryableByName;

/// PostgreSQL: what a role that is not a superuser may open, as the server counts it.
#[cfg_attr(
    not(any(feature = "postgres", feature = "async-postgres")),
    allow(dead_code)
)]
const POSTGRES: &str = "SELECT LEAST(\
    current_setting('max_connections')::int \
    - current_setting('superuser_reserved_connections')::int \
    - COALESCE(NULLIF(current_setting('reserved_connections', true), '')::int, 0), \
    CASE WHEN r.rolconnlimit >= 0 THEN r.rolconnlimit END, \
    CASE WHEN d.datconnlimit >= 0 THEN d.datconnlimit END)::bigint AS budget \
    FROM pg_roles r, pg_database d \
    WHERE r.rolname = current_user AND d.datname = current_database()";

/// MySQL and MariaDB: the session's `max_user_connections` is the account's limit when it
/// has one.
#[cfg_attr(not(any(feature = "mysql", feature = "async-mysql")), allow(dead_code))]
const MYSQL: &str = "SELECT CAST(IF(@@max_user_connections > 0, \
    LEAST(@@max_connections, @@max_user_connections), @@max_connections) AS SIGNED) AS budget";

#[derive(QueryableByName)]
struct Budget {
    #[diesel(sql_type = BigInt)]
    budget: i64,
}

impl Budget {
    fn connections(self) -> Option<usize> {
        usize::try_from(self.budget).ok().filter(|&n| n > 0)
    }
}

/// The budget through a blocking connection, if it is one that has a server.
#[allow(unused_variables, unused_mut)]
pub(crate) fn blocking<C: 'static>(connection: &mut C) -> Option<usize> {
    let mut connection = connection as &mut dyn Any;
    #[cfg(feature = "postgres")]
    if let Some(pg) = connection.downcast_mut::<diesel::PgConnection>() {
        let budget: Budget =
            diesel::RunQueryDsl::get_result(diesel::sql_query(POSTGRES), pg).ok()?;
        return budget.connections();
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = connection.downcast_mut::<diesel::MysqlConnection>() {
        let budget: Budget = diesel::RunQueryDsl::get_result(diesel::sql_query(MYSQL), my).ok()?;
        return budget.connections();
    }
    None
}

/// The budget through a diesel-async connection, if it is one that has a server.
#[cfg(any(feature = "async-postgres", feature = "async-mysql"))]
#[allow(unused_variables, unused_mut)]
pub(crate) async fn nonblocking<C: Send + 'static>(connection: &mut C) -> Option<usize> {
    use diesel_async::RunQueryDsl;
    let mut connection = connection as &mut dyn Any;
    #[cfg(feature = "async-postgres")]
    if let Some(pg) = connection.downcast_mut::<diesel_async::AsyncPgConnection>() {
        let budget: Budget = diesel::sql_query(POSTGRES).get_result(pg).await.ok()?;
        return budget.connections();
    }
    #[cfg(feature = "async-mysql")]
    if let Some(my) = connection.downcast_mut::<diesel_async::AsyncMysqlConnection>() {
        let budget: Budget = diesel::sql_query(MYSQL).get_result(my).await.ok()?;
        return budget.connections();
    }
    None
}
