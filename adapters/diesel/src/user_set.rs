//! What both builders fill in at `build()` unless the user set it: the pool name (from the
//! URL), `db.system.name` (from the backend) and the reset (Diesel's transaction manager).

use std::fmt;

use crate::system::system_name;

/// Which of the defaults the user replaced.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct UserSet {
    pub(crate) name: bool,
    pub(crate) system: bool,
    pub(crate) reset: bool,
}

impl UserSet {
    /// The URL to name the pool after, unless the user named it.
    pub(crate) fn name_from<'a>(&self, url: Option<&'a str>) -> Option<&'a str> {
        url.filter(|_| !self.name)
    }

    /// `db.system.name` for backend `B`, unless the user set one.
    pub(crate) fn system<B: 'static>(&self) -> Option<&'static str> {
        if self.system {
            None
        } else {
            system_name::<B>()
        }
    }
}

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
