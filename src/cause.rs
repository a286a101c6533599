//! [`Cause`]: the error behind an invalidation, kept as an error.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// The error that made the pool invalidate a connection (a reset function's error, a
/// checkout listener's), kept as an error: [`error`](Self::error) gives it back with its
/// `source()` chain, for a `downcast_ref` or a log of the whole chain. Where the pool has
/// only a text (a manager's ping error, which need not be `Send + Sync`; a panic; a reset
/// that did not finish), the cause is an error whose `Display` is that text.
///
/// `Display` is the error's own `Display`; two causes are equal when their texts are.
///
/// ```
/// use poolscope::Cause;
///
/// let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "server closed the connection");
/// let cause = Cause::new(io);
/// assert_eq!(cause.to_string(), "server closed the connection");
/// assert!(cause.error().downcast_ref::<std::io::Error>().is_some());
/// ```
#[derive(Clone)]
pub struct Cause(Arc<dyn StdError + Send + Sync>);

impl Cause {
    /// The cause `error`.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Cause(Arc::from(error.into()))
    }

    /// A cause known only by its text.
    pub fn text(text: impl Into<String>) -> Self {
        Cause(Arc::new(Text(text.into())))
    }

    /// The error itself.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}

/// An error that is only a text.
#[derive(Debug)]
struct Text(String);

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Text {}

#[cfg(test)]
mod tests {
    use super::Cause;

    #[test]
    fn a_cause_keeps_its_source_chain_and_compares_by_text() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("reset failed")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let cause = Cause::new(Outer(std::io::Error::other("broken pipe")));
        assert_eq!(cause.to_string(), "reset failed");
        let source = cause.error().source().expect("the source is kept");
        assert_eq!(source.to_string(), "broken pipe");
        assert_eq!(cause, Cause::text("reset failed"));
        assert_ne!(cause, Cause::text("broken pipe"));
    }
}
