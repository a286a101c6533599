//! Pool names from database URLs, without the secrets in them.

/// A pool name for a database URL, as OpenTelemetry's conventions suggest for a pool that has
/// no name of its own: `server.address:server.port/db.namespace`, without scheme, user,
/// password, query or fragment. The port is the scheme's default when the URL leaves it out
/// (PostgreSQL 5432, MySQL and MariaDB 3306), so that `postgres://db/orders` and
/// `postgres://db:5432/orders` name the same pool. libpq-style `key=value` strings give
/// `host:port/dbname` the same way; a SQLite URL or a plain path gives the path.
///
/// ```
/// use poolscope::pool_name_from_url;
///
/// assert_eq!(
///     pool_name_from_url("postgres://app:s3cret@db.internal:5432/orders?sslmode=require"),
///     "db.internal:5432/orders"
/// );
/// assert_eq!(pool_name_from_url("postgres://app@db.internal/orders"), "db.internal:5432/orders");
/// assert_eq!(pool_name_from_url("mysql://root:pw@127.0.0.1/test"), "127.0.0.1:3306/test");
/// assert_eq!(pool_name_from_url("sqlite:///var/data/app.db"), "/var/data/app.db");
/// assert_eq!(pool_name_from_url("sqlite://orders.db?mode=rwc"), "orders.db");
/// assert_eq!(pool_name_from_url("file:app.db?mode=ro&cache=shared"), "app.db");
/// assert_eq!(pool_name_from_url("/tmp/app.db"), "/tmp/app.db");
/// assert_eq!(pool_name_from_url("sqlite://me:s3cret@host/x.db"), "host/x.db");
/// assert_eq!(
///     pool_name_from_url("host=db port=5432 user=app password=s3cret dbname=orders"),
///     "db:5432/orders"
/// );
/// ```
pub fn pool_name_from_url(url: &str) -> String {
    let url = url.trim();
    let without_query = |s: &str| s.split(['?', '#']).next().unwrap_or("").to_owned();
    let Some((scheme, rest)) = url.split_once("://") else {
        if let Some(name) = conninfo_name(url) {
            return name;
        }
        // SQLite: `sqlite:path`, `file:path` or a plain path; nothing secret but a query.
        let path = url
            .strip_prefix("sqlite:")
            .or_else(|| url.strip_prefix("file:"))
            .unwrap_or(url);
        return without_query(path);
    };
    let scheme = scheme.to_ascii_lowercase();
    let rest = without_query(rest);
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest.as_str(), ""),
    };
    // Never the user or password, whatever the scheme.
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if scheme == "sqlite" || scheme == "file" {
        return format!("{host}{path}");
    }
    let has_port = match host.rfind(']') {
        // `[::1]:5432`: a port only after the bracket.
        Some(bracket) => host[bracket..].contains(':'),
        None => host.contains(':'),
    };
    let port = match (has_port, default_port(&scheme)) {
        (false, Some(port)) => format!(":{port}"),
        _ => String::new(),
    };
    format!("{host}{port}{path}")
}

/// The port a scheme's driver connects to when the URL gives none.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" | "postgresql" => Some(5432),
        "mysql" | "mariadb" => Some(3306),
        _ => None,
    }
}

/// `host:port/dbname` from a libpq-style `key=value` string, or `None` if `url` is not one.
fn conninfo_name(url: &str) -> Option<String> {
    let is_conninfo = url
        .split_whitespace()
        .next()
        .and_then(|pair| pair.split_once('='))
        .is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !is_conninfo {
        return None;
    }
    let value = |wanted: &str| {
        url.split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == wanted)
            .map(|(_, value)| value)
    };
    let host = value("host").or_else(|| value("hostaddr")).unwrap_or("");
    let port = value("port").unwrap_or("5432");
    let database = value("dbname").unwrap_or("");
    Some(format!("{host}:{port}/{database}"))
}
