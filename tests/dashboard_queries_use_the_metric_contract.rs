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
        m::SERVER_BUDGET,
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
        m::REFUSALS,
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
        m::REFUSAL_REASON,
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

fn dashboard() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dashboards/poolscope.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Each series selector of `expr` (`name{...}`) with its label matchers.
fn selectors(expr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        let name: String = rest[..open]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let close = rest[open..].find('}').expect("a closing brace") + open;
        out.push((name, rest[open + 1..close].to_owned()));
        rest = &rest[close + 1..];
    }
    out
}

/// Replicas of one service share pool names: every query is filtered by the `job`,
/// `instance` and `pool` variables, and every aggregation keeps `job` and `instance` apart,
/// so that two instances' pools are never added into one (a 5-connection pool scraped from
/// two jobs showed used 9, max 10) — but in the Fleet row, which adds the replicas up as the
/// server sees them, by `job` and pool name.
#[test]
fn every_query_keeps_instances_apart_and_follows_the_variables() {
    let dashboard = dashboard();
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "job", "instance", "pool"]);
    assert!(
        dashboard.get("uid").is_none_or(serde_json::Value::is_null),
        "no hard-coded uid: Grafana gives one on import"
    );
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    let mut fleet_exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Fleet: "))
        {
            exprs(panel, &mut fleet_exprs);
        }
    }
    for expr in &all {
        for (name, matchers) in selectors(expr) {
            for wanted in [
                r#"job=~"$job""#,
                r#"instance=~"$instance""#,
                r#"db_client_connection_pool_name=~"$pool""#,
            ] {
                assert!(
                    matchers.contains(wanted),
                    "{name} in `{expr}` is not filtered by {wanted}"
                );
            }
        }
        let fleet = fleet_exprs.contains(expr);
        for (i, _) in expr.match_indices("sum by (") {
            let by = &expr[i + "sum by (".len()..];
            let by = &by[..by.find(')').unwrap()];
            if fleet {
                assert!(
                    by.contains("job") && by.contains("db_client_connection_pool_name"),
                    "`{expr}` (Fleet) must keep jobs and pools apart: by ({by})"
                );
            } else {
                assert!(
                    by.contains("job") && by.contains("instance"),
                    "`{expr}` adds instances together: by ({by})"
                );
            }
        }
    }
    assert_eq!(
        fleet_exprs.len(),
        4,
        "the Fleet row's queries: {fleet_exprs:?}"
    );
}

/// Rates are per second (unit `ops`), a rate never shares an axis with a gauge, and a count
/// over the range is a single number (a stat), not a time series that ramps.
#[test]
fn panels_have_units_that_match_their_queries() {
    let dashboard = dashboard();
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap();
        let unit = panel["fieldConfig"]["defaults"]["unit"].as_str().unwrap();
        let mut all = Vec::new();
        exprs(&panel["targets"], &mut all);
        let counter_rates = all
            .iter()
            .filter(|e| e.contains("rate(") && (e.contains("_total") || e.contains("_count")))
            .count();
        if unit == "ops" {
            assert_eq!(
                counter_rates,
                all.len(),
                "{title}: an ops/s panel shows only rates"
            );
        } else {
            assert_eq!(
                counter_rates, 0,
                "{title}: a counter's rate on a `{unit}` axis"
            );
        }
        if all.iter().any(|e| e.contains("[$__range]")) {
            assert_eq!(
                panel["type"], "stat",
                "{title}: a count over the range is one number"
            );
        }
    }
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Saturation: used / max",
        "Sizing (Little's law)",
        "Overflow in use",
        "Checkouts / s and creates / s",
    ] {
        assert!(titles.contains(&wanted), "{wanted} missing: {titles:?}");
    }
}
