//! A connect failure that lost its cause on the way: diesel-async's PostgreSQL connection
//! turns tokio-postgres' error into its text alone ("error connecting to server", the
//! refused or unreachable socket underneath dropped). When that happens the manager tries a
//! plain TCP connection to the URL's host and port, and adds what the network says.

use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::pooled_connection::PoolError;

/// The host and port a `postgres://` or `mysql://` URL names (with the scheme's default
/// port), if it names one.
fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme {
        "postgres" | "postgresql" => 5432,
        "mysql" | "mariadb" => 3306,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        let port = after
            .strip_prefix(':')
            .map_or(Some(default), |p| p.parse().ok())?;
        return Some((host.to_owned(), port));
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((host_port.to_owned(), default)),
    }
}

/// Whether the error's text already says why (a socket error's words), so nothing is added.
fn says_why(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    [
        "refused",
        "timed out",
        "unreachable",
        "no route",
        "not known",
        "resolve",
        "password",
        "authentication",
        "denied",
        "does not exist",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// `error`, with what a plain TCP connection to the URL's host says when the error itself
/// does not.
pub(crate) async fn with_cause(url: Option<&str>, error: PoolError) -> PoolError {
    let PoolError::ConnectionError(connection) = &error else {
        return error;
    };
    let text = connection.to_string();
    if says_why(&text) {
        return error;
    }
    let Some((host, port)) = url.and_then(host_port) else {
        return error;
    };
    let probe = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await;
    let cause = match probe {
        Ok(Ok(_)) => return error,
        Ok(Err(io)) => io.to_string(),
        Err(_) => format!("no answer from {host}:{port} within 2 s"),
    };
    PoolError::ConnectionError(ConnectionError::BadConnection(format!(
        "{text}: {cause} ({host}:{port})"
    )))
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn host_and_port_come_from_the_url_without_its_credentials() {
        assert_eq!(
            host_port("postgres://app:pw@db.internal:6543/orders?sslmode=require"),
            Some(("db.internal".into(), 6543))
        );
        assert_eq!(host_port("postgres://db/orders"), Some(("db".into(), 5432)));
        assert_eq!(
            host_port("mysql://root@127.0.0.1/test"),
            Some(("127.0.0.1".into(), 3306))
        );
        assert_eq!(
            host_port("postgres://[::1]:5433/x"),
            Some(("::1".into(), 5433))
        );
        assert_eq!(host_port("sqlite://file.db"), None);
        assert_eq!(host_port("postgres:///orders"), None);
    }
}
