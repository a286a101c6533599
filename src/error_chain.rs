//! An error and its causes on one line (`ErrorChain`), for the errors' texts and for
//! reading why a connect failed (`refusal.rs`).

use std::error::Error as StdError;
use std::fmt;

/// An error and its causes on one line, each message once: `a: b: c` for an error `a` whose
/// [`source`](StdError::source) is `b`, whose source is `c`. For a message that must stand
/// alone (a log line written with `{}`, an error flattened into another library's text):
/// poolscope's errors say only their own part in `Display`, their causes are their sources.
///
/// ```
/// use poolscope::{ErrorChain, ListenerError};
///
/// let error = ListenerError::fatal("tenant database is read-only");
/// assert_eq!(error.to_string(), "a pool listener failed");
/// assert_eq!(
///     ErrorChain(&error).to_string(),
///     "a pool listener failed: tenant database is read-only"
/// );
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            write!(f, ": {cause}")?;
            next = cause.source();
        }
        Ok(())
    }
}
