//! A connect failure that lost its cause on the way: diesel-async's PostgreSQL connection
//! turns tokio-postgres' error into its text alone ("error connecting to server", the
//! refused or unreachable socket underneath dropped). When that happens the manager tries a
//! plain TCP connection to the URL's host and port, and adds what the network says. The probe
//! runs on a thread of its own (a blocking connect with a timeout): it needs no Tokio timer
//! nor I/O driver, so it works on whatever runtime the connect failed on.

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
    let cause = match probe(host.clone(), port).await {
        Some(Ok(())) => return error,
        Some(Err(io)) => io.to_string(),
        None => format!("no answer from {host}:{port} within 2 s"),
    };
    PoolError::ConnectionError(ConnectionError::BadConnection(format!(
        "{text}: {cause} ({host}:{port})"
    )))
}

/// A plain TCP connection to `host:port`, on a thread: `None` when no address answered within
/// 2 s (each address is given 2 s; the thread ends when they are tried).
async fn probe(host: String, port: u16) -> Option<std::io::Result<()>> {
    const PATIENCE: Duration = Duration::from_secs(2);
    let (answer, answered) = tokio::sync::oneshot::channel();
    let started = std::thread::Builder::new()
        .name("poolscope-probe".into())
        .spawn(move || {
            use std::net::ToSocketAddrs;
            let outcome = (host.as_str(), port).to_socket_addrs().and_then(|addrs| {
                let mut last = None;
                for addr in addrs {
                    match std::net::TcpStream::connect_timeout(&addr, PATIENCE) {
                        Ok(_) => return Ok(Some(())),
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(e) => last = Some(e),
                    }
                }
                last.map_or(Ok(None), Err)
            });
            let _ = answer.send(outcome);
        });
    if started.is_err() {
        return None;
    }
    match answered.await {
        Ok(Ok(Some(()))) => Some(Ok(())),
        Ok(Err(io)) => Some(Err(io)),
        Ok(Ok(None)) | Err(_) => None,
    }
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
