//! The blocking suite on PostgreSQL (`POOLSCOPE_PG_URL`), counting `pg_stat_activity`.
mod blocking_suite;
mod common;

blocking_suite::blocking_suite!(diesel::PgConnection, common::Target::postgres);

#[test]
fn a_postgres_pool_from_a_url_with_a_password_is_named_without_it() {
    let Some(target) = common::Target::postgres("secret") else {
        return;
    };
    // Trust authentication ignores the password, so the URL still connects.
    let url = target
        .url
        .replacen("://postgres@", "://postgres:hunter2@", 1);
    assert!(
        url.contains("hunter2"),
        "POOLSCOPE_PG_URL names user postgres: {url}"
    );
    let pool = poolscope_diesel::Pool::<diesel::PgConnection>::new(url.as_str()).unwrap();
    drop(pool.get().unwrap());
    assert!(!pool.name().contains("hunter2"), "{}", pool.name());
    assert!(
        pool.name().starts_with("127.0.0.1:5432/"),
        "{}",
        pool.name()
    );
    assert!(!format!("{pool:?} {:?}", pool.manager()).contains("hunter2"));
    assert_eq!(target.server_connections(1), 1);
}
