//! A pool built through `poolscope_diesel::r2d2` or `poolscope_diesel::bb8` from the compat
//! module's connection manager is named after its URL (without credentials), as the native
//! builders' pools are; one built from Diesel's or diesel-async's own manager, which does not
//! tell its URL, is `pool-<id>` unless `.poolscope(|b| b.name(..))` names it.

mod common;

#[test]
fn r2d2_pools_take_the_managers_url_or_the_name_they_are_given() {
    use poolscope_diesel::r2d2::{ConnectionManager, Pool};
    let t = common::Target::sqlite("compat_named_r2d2");
    let pool = Pool::builder()
        .max_size(2)
        .min_idle(Some(1))
        .build(ConnectionManager::<diesel::SqliteConnection>::new(
            t.url.as_str(),
        ))
        .unwrap();
    assert_eq!(
        pool.as_poolscope().name(),
        poolscope_diesel::poolscope::pool_name_from_url(&t.url)
    );

    // A credential in the URL never reaches the name.
    let pool = Pool::builder().build_unchecked(ConnectionManager::<diesel::SqliteConnection>::new(
        "postgres://app:s3cret@db.internal/orders",
    ));
    assert_eq!(pool.as_poolscope().name(), "db.internal:5432/orders");

    // Diesel's own manager does not tell its URL.
    let unnamed = Pool::builder().build_unchecked(diesel::r2d2::ConnectionManager::<
        diesel::SqliteConnection,
    >::new(t.url.as_str()));
    assert!(
        unnamed.as_poolscope().name().starts_with("pool-"),
        "{}",
        unnamed.as_poolscope().name()
    );

    // A name given wins over the URL.
    let named = Pool::builder()
        .poolscope(|b| b.name("orders"))
        .build_unchecked(ConnectionManager::<diesel::SqliteConnection>::new(
            t.url.as_str(),
        ));
    assert_eq!(named.as_poolscope().name(), "orders");
}

#[tokio::test(flavor = "current_thread")]
async fn bb8_pools_take_the_managers_url_or_the_name_they_are_given() {
    use diesel_async::AsyncPgConnection;
    use poolscope_diesel::bb8::{AsyncDieselConnectionManager, Pool};
    let url = "postgres://app:s3cret@db.internal:6432/orders?sslmode=require";
    let pool: Pool<AsyncPgConnection> =
        Pool::builder().build_unchecked(AsyncDieselConnectionManager::new(url));
    assert_eq!(pool.as_poolscope().name(), "db.internal:6432/orders");
    assert!(!format!("{pool:?}").contains("s3cret"), "{pool:?}");

    let unnamed: Pool<AsyncPgConnection> = Pool::builder()
        .build_unchecked(diesel_async::pooled_connection::AsyncDieselConnectionManager::new(url));
    assert!(unnamed.as_poolscope().name().starts_with("pool-"));

    let named: Pool<AsyncPgConnection> = Pool::builder()
        .poolscope(|b| b.name("orders"))
        .build_unchecked(AsyncDieselConnectionManager::new(url));
    assert_eq!(named.as_poolscope().name(), "orders");
}
