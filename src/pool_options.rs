//! [`PoolOptions`]: the pool options as data, read from a configuration file (feature `serde`)
//! or from environment variables, then given to any builder with `.options(&options)`.

use std::fmt;
use std::time::Duration;

use crate::config::Options;
use crate::{Defaults, EchoPool, PoolClass, ResetOnReturn};

/// The pool options as data, every one optional: what is left out keeps the builder's value.
///
/// Read them from a configuration file section (feature `serde`: any serde format, TOML,
/// YAML, JSON, the `config` crate) or from environment variables
/// ([`from_env`](Self::from_env)), then hand them to a builder with `.options(&options)`:
/// [`Builder`](crate::Builder), [`AsyncBuilder`](crate::AsyncBuilder), the hooks builder and
/// the adapters' builders all take them. Each option set here wins over what the builder had;
/// values that parse but make no sense (`max_overflow = -5`) are refused by `build()` with the
/// same [`BuildError`](crate::BuildError) the setter would give.
///
/// | key (also SQLAlchemy's `create_engine` name) | value |
/// |---|---|
/// | `pool_class` (`poolclass`) | `QueuePool`, `NullPool`, `SingletonThreadPool`, `StaticPool`, `AssertionPool` (or `queue`, `null`, ...) |
/// | `pool_size` | a whole number |
/// | `max_overflow` | a whole number, `-1` for no limit |
/// | `pool_timeout` | a duration: `30`, `2.5` (seconds), `500ms`, `30s`, `2m`, `1h`; `none` (or `-1`) waits forever |
/// | `pool_recycle` | a duration; `none` (or `-1`, SQLAlchemy's) turns it off |
/// | `pre_ping` (`pool_pre_ping`) | `true` / `false` (also `1`/`0`, `yes`/`no`, `on`/`off`) |
/// | `use_lifo` (`pool_use_lifo`) | a boolean |
/// | `reset_on_return` (`pool_reset_on_return`) | `rollback`, `commit`, `none` |
/// | `echo_pool` | `false`, `true` (INFO), `debug` |
/// | `name` (`pool_logging_name`) | text |
/// | `defaults` | `sqlalchemy`, `rust_pools` |
/// | `store_traceback` | a boolean |
///
/// An unknown key is refused, so that a misspelt option does not pass unnoticed.
///
/// ```
/// use poolscope::PoolOptions;
///
/// // APP_DB_POOL_SIZE=8 APP_DB_POOL_TIMEOUT=2.5s APP_DB_PRE_PING=on
/// let options = PoolOptions::from_pairs([
///     ("pool_size", "8"),
///     ("pool_timeout", "2.5s"),
///     ("pre_ping", "on"),
/// ])?;
/// assert_eq!(options.pool_size, Some(8));
/// assert_eq!(options.pool_timeout, Some(Some(std::time::Duration::from_millis(2500))));
///
/// let error = PoolOptions::from_pairs([("pool_timeout", "30 parsecs")]).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "pool option `pool_timeout` = `30 parsecs`: expected a duration (`30`, `2.5`, `500ms`, \
///      `30s`, `2m`, `1h`) or `none`"
/// );
/// # Ok::<(), poolscope::OptionError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PoolOptions {
    /// `pool_class`.
    pub pool_class: Option<PoolClass>,
    /// `pool_size`.
    pub pool_size: Option<usize>,
    /// `max_overflow`.
    pub max_overflow: Option<i64>,
    /// `pool_timeout` (`Some(None)`: wait forever).
    pub pool_timeout: Option<Option<Duration>>,
    /// `pool_recycle` (`Some(None)`: off).
    pub pool_recycle: Option<Option<Duration>>,
    /// `pre_ping`.
    pub pre_ping: Option<bool>,
    /// `use_lifo`.
    pub use_lifo: Option<bool>,
    /// `reset_on_return`.
    pub reset_on_return: Option<ResetOnReturn>,
    /// `echo_pool`.
    pub echo_pool: Option<EchoPool>,
    /// `name`.
    pub name: Option<String>,
    /// `defaults`.
    pub defaults: Option<Defaults>,
    /// `store_traceback`.
    pub store_traceback: Option<bool>,
}

/// The keys, as [`PoolOptions::from_env`] looks for them and errors list them.
const KEYS: &[&str] = &[
    "pool_class",
    "pool_size",
    "max_overflow",
    "pool_timeout",
    "pool_recycle",
    "pre_ping",
    "use_lifo",
    "reset_on_return",
    "echo_pool",
    "name",
    "defaults",
    "store_traceback",
];

/// An option could not be read; nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionError {
    /// No such option.
    Unknown {
        /// The key as given (an environment variable's name for [`PoolOptions::from_env`]).
        key: String,
    },
    /// The value is not one the option takes.
    Invalid {
        /// The key as given.
        key: String,
        /// The value as given.
        value: String,
        /// What the option takes.
        expected: &'static str,
    },
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::Unknown { key } => {
                write!(
                    f,
                    "unknown pool option `{key}` (known: {})",
                    KEYS.join(", ")
                )
            }
            OptionError::Invalid {
                key,
                value,
                expected,
            } => write!(f, "pool option `{key}` = `{value}`: expected {expected}"),
        }
    }
}

impl std::error::Error for OptionError {}

const DURATION: &str = "a duration (`30`, `2.5`, `500ms`, `30s`, `2m`, `1h`) or `none`";
const BOOL: &str = "`true` or `false`";

impl PoolOptions {
    /// The options set by environment variables named `prefix` + the key in capitals
    /// (`APP_DB_` + `POOL_SIZE`); variables not set leave their option out.
    pub fn from_env(prefix: &str) -> Result<PoolOptions, OptionError> {
        let mut options = PoolOptions::default();
        for key in KEYS {
            let var = format!("{prefix}{}", key.to_ascii_uppercase());
            if let Ok(value) = std::env::var(&var) {
                options.set_shown(key, &value, &var)?;
            }
        }
        Ok(options)
    }

    /// The options given as key / value text pairs.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, OptionError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut options = PoolOptions::default();
        for (key, value) in pairs {
            options.set(key.as_ref(), value.as_ref())?;
        }
        Ok(options)
    }

    /// Sets one option from text.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), OptionError> {
        self.set_shown(key, value, key)
    }

    fn set_shown(&mut self, key: &str, value: &str, shown: &str) -> Result<(), OptionError> {
        let invalid = |expected| OptionError::Invalid {
            key: shown.to_owned(),
            value: value.to_owned(),
            expected,
        };
        let text = value.trim();
        match key {
            "pool_class" | "poolclass" => {
                self.pool_class = Some(pool_class(text).ok_or_else(|| {
                    invalid("`QueuePool`, `NullPool`, `SingletonThreadPool`, `StaticPool` or `AssertionPool`")
                })?)
            }
            "pool_size" => {
                self.pool_size = Some(text.parse().map_err(|_| invalid("a whole number"))?)
            }
            "max_overflow" => {
                self.max_overflow = Some(
                    text.parse()
                        .map_err(|_| invalid("a whole number (-1: no limit)"))?,
                )
            }
            "pool_timeout" => {
                self.pool_timeout = Some(duration(text).ok_or_else(|| invalid(DURATION))?)
            }
            "pool_recycle" => {
                self.pool_recycle = Some(duration(text).ok_or_else(|| invalid(DURATION))?)
            }
            "pre_ping" | "pool_pre_ping" => {
                self.pre_ping = Some(boolean(text).ok_or_else(|| invalid(BOOL))?)
            }
            "use_lifo" | "pool_use_lifo" => {
                self.use_lifo = Some(boolean(text).ok_or_else(|| invalid(BOOL))?)
            }
            "store_traceback" => {
                self.store_traceback = Some(boolean(text).ok_or_else(|| invalid(BOOL))?)
            }
            "reset_on_return" | "pool_reset_on_return" => {
                self.reset_on_return = Some(
                    reset_on_return(text)
                        .ok_or_else(|| invalid("`rollback`, `commit` or `none`"))?,
                )
            }
            "echo_pool" => {
                self.echo_pool = Some(
                    echo_pool(text).ok_or_else(|| invalid("`false`, `true` (INFO) or `debug`"))?,
                )
            }
            "name" | "pool_logging_name" => self.name = Some(value.to_owned()),
            "defaults" => {
                self.defaults = Some(
                    defaults(text).ok_or_else(|| invalid("`sqlalchemy` or `rust_pools`"))?,
                )
            }
            _ => {
                return Err(OptionError::Unknown {
                    key: shown.to_owned(),
                })
            }
        }
        Ok(())
    }

    /// Writes the options set here over a builder's.
    pub(crate) fn apply(&self, options: &mut Options) {
        if let Some(class) = self.pool_class {
            options.class = class;
        }
        if let Some(defaults) = self.defaults {
            options.defaults = defaults;
        }
        if let Some(size) = self.pool_size {
            options.pool_size = Some(size);
        }
        if let Some(overflow) = self.max_overflow {
            options.max_overflow = Some(overflow);
        }
        if let Some(timeout) = self.pool_timeout {
            options.timeout = Some(timeout);
        }
        if let Some(recycle) = self.pool_recycle {
            options.recycle = Some(recycle);
        }
        if let Some(pre_ping) = self.pre_ping {
            options.pre_ping = Some(pre_ping);
        }
        if let Some(use_lifo) = self.use_lifo {
            options.use_lifo = Some(use_lifo);
        }
        if let Some(reset) = self.reset_on_return {
            options.reset_on_return = reset;
        }
        if let Some(echo) = self.echo_pool {
            options.echo = echo;
        }
        if let Some(name) = &self.name {
            options.name = Some(name.clone());
        }
        if let Some(store) = self.store_traceback {
            options.store_traceback = Some(store);
        }
    }
}

/// Lower case, without `_`, `-` and spaces.
fn folded(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

fn pool_class(text: &str) -> Option<PoolClass> {
    let folded = folded(text);
    Some(match folded.strip_suffix("pool").unwrap_or(&folded) {
        "queue" => PoolClass::Queue,
        "null" => PoolClass::Null,
        "singletonthread" => PoolClass::SingletonThread,
        "static" => PoolClass::Static,
        "assertion" => PoolClass::Assertion,
        _ => return None,
    })
}

fn boolean(text: &str) -> Option<bool> {
    match folded(text).as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn reset_on_return(text: &str) -> Option<ResetOnReturn> {
    match folded(text).as_str() {
        "rollback" => Some(ResetOnReturn::Rollback),
        "commit" => Some(ResetOnReturn::Commit),
        "none" | "false" | "null" => Some(ResetOnReturn::None),
        _ => None,
    }
}

fn echo_pool(text: &str) -> Option<EchoPool> {
    match folded(text).as_str() {
        "false" | "0" | "off" | "no" => Some(EchoPool::Off),
        "true" | "1" | "on" | "yes" | "info" => Some(EchoPool::Info),
        "debug" => Some(EchoPool::Debug),
        _ => None,
    }
}

fn defaults(text: &str) -> Option<Defaults> {
    match folded(text).as_str() {
        "sqlalchemy" => Some(Defaults::SQLALCHEMY),
        "rustpools" => Some(Defaults::RUST_POOLS),
        _ => None,
    }
}

/// `30`, `2.5` (seconds), `500ms`, `30s`, `2m`, `1h`; `none`, `never`, `off` or `-1`: no
/// duration.
fn duration(text: &str) -> Option<Option<Duration>> {
    let lower = text.to_ascii_lowercase();
    if matches!(lower.as_str(), "none" | "never" | "off" | "null" | "-1") {
        return Some(None);
    }
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => number,
        "ms" | "millis" | "milliseconds" => number / 1000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => number * 60.0,
        "h" | "hour" | "hours" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok().map(Some)
}

#[cfg(feature = "serde")]
mod deserialize {
    //! `PoolOptions` from any serde format: a map of keys to numbers, booleans, text or null,
    //! each read as [`PoolOptions::set`] reads text, so a file and the environment accept the
    //! same values and give the same errors.

    use std::collections::BTreeMap;
    use std::fmt;

    use serde::de::{self, Deserialize, Deserializer, Visitor};

    use super::PoolOptions;

    /// One value, as the text [`PoolOptions::set`] reads.
    struct Text(String);

    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(TextVisitor)
        }
    }

    struct TextVisitor;

    impl<'de> Visitor<'de> for TextVisitor {
        type Value = Text;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number, a boolean, text or null")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
            Ok(Text(v.to_owned()))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
            Ok(Text("none".to_owned()))
        }

        fn visit_none<E: de::Error>(self) -> Result<Text, E> {
            Ok(Text("none".to_owned()))
        }
    }

    impl<'de> Deserialize<'de> for PoolOptions {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let map = BTreeMap::<String, Text>::deserialize(deserializer)?;
            PoolOptions::from_pairs(map.iter().map(|(k, v)| (k.as_str(), v.0.as_str())))
                .map_err(de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        let s = Duration::from_secs;
        assert_eq!(duration("30"), Some(Some(s(30))));
        assert_eq!(duration("2.5"), Some(Some(Duration::from_millis(2500))));
        assert_eq!(duration("500ms"), Some(Some(Duration::from_millis(500))));
        assert_eq!(duration("30s"), Some(Some(s(30))));
        assert_eq!(duration("2m"), Some(Some(s(120))));
        assert_eq!(duration("1 h"), Some(Some(s(3600))));
        assert_eq!(duration("none"), Some(None));
        assert_eq!(duration("-1"), Some(None));
        for bad in ["", "s", "-5s", "30 parsecs", "1e400", "NaN"] {
            assert_eq!(duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_key_is_known_and_sqlalchemy_names_are_accepted() {
        let values = [
            ("pool_class", "NullPool"),
            ("poolclass", "static"),
            ("pool_size", "3"),
            ("max_overflow", "-1"),
            ("pool_timeout", "none"),
            ("pool_recycle", "1h"),
            ("pool_pre_ping", "yes"),
            ("pool_use_lifo", "true"),
            ("pool_reset_on_return", "commit"),
            ("echo_pool", "debug"),
            ("pool_logging_name", "orders"),
            ("defaults", "rust_pools"),
            ("store_traceback", "off"),
        ];
        let options = PoolOptions::from_pairs(values).unwrap();
        assert_eq!(options.pool_class, Some(PoolClass::Static));
        assert_eq!(options.max_overflow, Some(-1));
        assert_eq!(options.pool_timeout, Some(None));
        assert_eq!(options.pool_recycle, Some(Some(Duration::from_secs(3600))));
        assert_eq!(options.reset_on_return, Some(ResetOnReturn::Commit));
        assert_eq!(options.echo_pool, Some(EchoPool::Debug));
        assert_eq!(options.name.as_deref(), Some("orders"));
        assert_eq!(options.defaults, Some(Defaults::RUST_POOLS));
        for key in KEYS {
            let result = PoolOptions::default().set(key, "?");
            assert!(!matches!(result, Err(OptionError::Unknown { .. })), "{key}");
        }
    }

    #[test]
    fn a_misspelt_key_is_refused() {
        let error = PoolOptions::from_pairs([("pool_sise", "5")]).unwrap_err();
        assert!(error
            .to_string()
            .starts_with("unknown pool option `pool_sise` (known: pool_class, pool_size"));
    }
}
