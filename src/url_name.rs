//! Pool names from database URLs, without the secrets in them.

/// A pool name for a database URL: scheme, host, port and database, without user, password,
/// query or fragment. libpq-style `key=value` strings keep only `host`, `port` and `dbname`.
///
/// ```
/// use poolscope::pool_name_from_url;
///
/// assert_eq!(
///     pool_name_from_url("postgres://app:s3cret@db.internal:5432/orders?sslmode=require"),
///     "postgres://db.internal:5432/orders"
/// );
/// assert_eq!(pool_name_from_url("mysql://root:pw@127.0.0.1/test"), "mysql://127.0.0.1/test");
/// assert_eq!(pool_name_from_url("sqlite:///var/data/app.db"), "sqlite:///var/data/app.db");
/// assert_eq!(pool_name_from_url("file:app.db?mode=ro&cache=shared"), "file:app.db");
/// assert_eq!(
///     pool_name_from_url("host=db port=5432 user=app password=s3cret dbname=orders"),
///     "host=db port=5432 dbname=orders"
/// );
/// ```
pub fn pool_name_from_url(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        let conninfo = url
            .split_whitespace()
            .next()
            .and_then(|pair| pair.split_once('='))
            .is_some_and(|(key, _)| {
                !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if conninfo {
            return url
                .split_whitespace()
                .filter(|pair| {
                    let key = pair.split('=').next().unwrap_or("");
                    matches!(key, "host" | "hostaddr" | "port" | "dbname")
                })
                .collect::<Vec<_>>()
                .join(" ");
        }
        // A plain path (SQLite): nothing secret in it but a query string.
        return url.split(['?', '#']).next().unwrap_or("").to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}
