//! Passwords out of connect errors: libpq echoes a connection string it cannot parse (a
//! `mysql://` URL given to a `PgConnection` pool, say) into its error message, password and
//! all. The blocking manager passes every connect error through [`connect_error`]; the
//! managers' `Debug` shows the database without credentials ([`fmt_manager`]).

use std::fmt;

use diesel::result::ConnectionError;

/// A manager's `Debug`: its kind, the connection type and the database without credentials
/// (never the URL itself: it may hold a password).
pub(crate) fn fmt_manager(
    f: &mut fmt::Formatter<'_>,
    kind: &str,
    connection: &str,
    url: Option<&str>,
) -> fmt::Result {
    f.debug_struct(kind)
        .field("connection", &connection)
        .field("database", &url.map(poolscope::pool_name_from_url))
        .finish()
}

/// `text` with the password of every `scheme://user:password@host` and every
/// `password=value` replaced by `***`.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _password)) => out.push_str(&format!("{user}:***")),
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    redact_key_values(&out)
}

/// `password=value` (conninfo strings, URL query strings) with the value replaced.
fn redact_key_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.to_ascii_lowercase().find("password=") {
        let (head, tail) = rest.split_at(i + "password=".len());
        out.push_str(head);
        let end = tail
            .find(|c: char| matches!(c, '&' | '"' | '\'' | ';') || c.is_whitespace())
            .unwrap_or(tail.len());
        out.push_str("***");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A connect error with every password in its text redacted.
pub(crate) fn connect_error(error: diesel::r2d2::Error) -> diesel::r2d2::Error {
    use diesel::r2d2::Error::ConnectionError as Connect;
    match error {
        Connect(ConnectionError::BadConnection(text)) => {
            Connect(ConnectionError::BadConnection(redact(&text)))
        }
        Connect(ConnectionError::InvalidConnectionUrl(text)) => {
            Connect(ConnectionError::InvalidConnectionUrl(redact(&text)))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_starred_out() {
        assert_eq!(
            redact(r#"missing "=" after "mysql://app:s3cret@127.0.0.1/db" in connection info"#),
            r#"missing "=" after "mysql://app:***@127.0.0.1/db" in connection info"#
        );
        assert_eq!(
            redact("host=db password=s3cret dbname=x"),
            "host=db password=*** dbname=x"
        );
        assert_eq!(
            redact("postgres://db/x?sslmode=require&password=s3cret"),
            "postgres://db/x?sslmode=require&password=***"
        );
        assert_eq!(redact("no url here"), "no url here");
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact("a://b:c@d e://f:g@h"), "a://b:***@d e://f:***@h");
    }
}
