//! What the bad-URL property tests of both adapters share: the generated URLs and the
//! search of an error's whole chain for the password.
// Test and example support: `pub` items here are for the files that include them.
#![allow(unreachable_pub, missing_debug_implementations)]

use proptest::prelude::*;

pub const SECRET: &str = "hunter2secret";

/// URLs people get wrong: schemes, hosts, ports, and garbage where each goes. Hosts are
/// literal or unparsable, so that no case waits on DNS.
pub fn url() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("postgres"),
            Just("postgresql"),
            Just("mysql"),
            Just("mariadb"),
            Just("sqlite"),
            Just("http"),
            Just(""),
            Just("pg sql"),
        ],
        "[a-z]{0,6}",
        prop_oneof![
            Just("127.0.0.1"),
            Just("[::1]"),
            Just("%zz"),
            Just("a b"),
            Just("[::1"),
        ],
        prop_oneof![
            Just(""),
            Just(":1"),
            Just(":99999"),
            Just(":abc"),
            Just(":0")
        ],
        "[a-z]{0,6}",
        prop_oneof![
            Just(String::new()),
            Just("?sslmode=require".to_owned()),
            Just("?%%".to_owned()),
            Just(format!("?password={SECRET}")),
            "\\PC{0,6}",
        ],
    )
        .prop_map(|(scheme, user, host, port, db, query)| {
            format!("{scheme}://{user}:{SECRET}@{host}{port}/{db}{query}")
        })
}

/// Every message of `error`'s chain, and its `Debug`.
pub fn texts(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("{error:?}");
    let mut next = Some(error);
    while let Some(e) = next {
        out.push_str(&format!(" | {e}"));
        next = e.source();
    }
    out
}
