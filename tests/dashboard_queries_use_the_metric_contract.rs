//! The shipped Grafana dashboard queries only the series of the metric contract, with its
//! label keys, and shows every one of them.
use std::collections::BTreeSet;

use poolscope::metric_names as m;

/// The Prometheus name of each instrument: dots become underscores, counters end in
/// `_total`, durations in `_seconds`.
fn contract() -> Vec<String> {
    let gauges = [
        m::CONNECTION_COUNT,
        m::CONNECTION_MAX,
        m::IDLE_MAX,
        m::IDLE_MIN,
        m::PENDING_REQUESTS,
        m::LEAKS_CURRENT,
    ];
    let counters = [
        m::TIMEOUTS,
        m::OVERFLOW_OPENED,
        m::OVERFLOW_CLOSED,
        m::RESETS,
        m::RECYCLES,
        m::INVALIDATIONS,
        m::PRE_PING_FAILURES,
        m::CLOSES,
        m::LEAKS_SUSPECTED,
    ];
    let histograms = [m::CREATE_TIME, m::WAIT_TIME, m::USE_TIME];
    let prom = |name: &str| name.replace('.', "_");
    gauges
        .iter()
        .map(|g| prom(g))
        .chain(counters.iter().map(|c| format!("{}_total", prom(c))))
        .chain(histograms.iter().map(|h| format!("{}_seconds", prom(h))))
        .collect()
}

fn label_keys() -> BTreeSet<String> {
    [
        m::POOL_NAME,
        m::STATE,
        m::RESET_ACTION,
        m::RESET_OUTCOME,
        m::RECYCLE_REASON,
        m::INVALIDATE_REASON,
        m::CLOSE_REASON,
    ]
    .iter()
    .map(|k| k.replace('.', "_"))
    .chain(["le".to_owned()])
    .collect()
}

fn exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// Identifier-like tokens of a PromQL expression.
fn tokens(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_query_uses_contract_names_and_every_series_is_shown() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dashboards/poolscope.json"
    ))
    .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(all.len() >= 10, "the dashboard has its queries");
    let contract = contract();
    let keys = label_keys();
    let mut shown = BTreeSet::new();
    for expr in &all {
        for token in tokens(expr) {
            if token.starts_with("db_client_connection_") || token.starts_with("poolscope_") {
                let series = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| {
                        token
                            .strip_suffix(s)
                            .filter(|f| contract.iter().any(|c| c == f))
                    })
                    .unwrap_or(&token)
                    .to_owned();
                assert!(
                    contract.contains(&series) || keys.contains(&series),
                    "{token} in `{expr}` is neither a contract series nor a label key"
                );
                if contract.contains(&series) {
                    shown.insert(series);
                }
            }
        }
    }
    let missing: Vec<_> = contract.iter().filter(|c| !shown.contains(*c)).collect();
    assert!(
        missing.is_empty(),
        "series the dashboard does not show: {missing:?}"
    );
}
