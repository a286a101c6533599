#!/usr/bin/env python3
"""Writes dashboards/poolscope.json, the Grafana dashboard, from the panel list below.

    python3 dashboards/generate.py

Every query is filtered by the `job`, `instance` and `pool` variables and keeps `job` and
`instance` apart (replicas of one service share pool names: summing them would add two pools
into one). Rates have the unit ops/s, gauges and rates never share an axis.
"""
import json
import os

POOL = "db_client_connection_pool_name"
SEL = f'job=~"$job", instance=~"$instance", {POOL}=~"$pool"'
BY = f"job, instance, {POOL}"
LEGEND = "{{instance}} {{" + POOL + "}}"
RATE = "$__rate_interval"


def q(expr, legend=LEGEND):
    return {"expr": expr, "legendFormat": legend}


def rate(series, by=BY, extra=""):
    return f"sum by ({by}{extra}) (rate({series}{{{SEL}}}[{RATE}]))"


def gauge(series, by=BY, extra="", where=""):
    return f"sum by ({by}{extra}) ({series}{{{SEL}{where}}})"


def quantiles(histogram):
    return [
        q(
            f"histogram_quantile({p}, sum by (le, {BY}) (rate({histogram}_bucket{{{SEL}}}[{RATE}])))",
            f"p{int(p * 100)} {LEGEND}",
        )
        for p in (0.5, 0.95, 0.99)
    ]


# (title, description, unit, kind, targets, width)
OVERVIEW = [
    (
        "Saturation: used / max",
        "Connections in use against the most the pool may open, per instance and pool. "
        "1 means every caller beyond this one waits.",
        "percentunit",
        "timeseries",
        [
            q(
                gauge("db_client_connection_count", where=', db_client_connection_state="used"')
                + " / "
                + gauge("db_client_connection_max")
            )
        ],
        8,
    ),
    (
        "Waiting callers",
        "Callers waiting for a connection now.",
        "short",
        "timeseries",
        [q(gauge("db_client_connection_pending_requests"))],
        8,
    ),
    (
        "Timeouts / s",
        "Checkouts that gave up after pool_timeout.",
        "ops",
        "timeseries",
        [q(rate("db_client_connection_timeouts_total"))],
        8,
    ),
]

FLEET_BY = f"job, {POOL}"
FLEET_LEGEND = "{{job}} {{" + POOL + "}}"

# The server's view: the replicas of a service share pool names and one server's budget, so
# these panels add the instances up (every other panel keeps them apart).
FLEET = [
    (
        "Fleet: connections against the server's budget",
        "Connections open, summed over the selected instances (the replicas), against the "
        "server's budget for them (max_connections less the reserved ones, or the role's or "
        "user's limit; read by the Diesel adapter, or reported). At the budget, the server "
        "refuses connects: poolscope waits for capacity instead of failing the caller.",
        "short",
        "timeseries",
        [
            q(f"sum by ({FLEET_BY}) (db_client_connection_count{{{SEL}}})",
              "open " + FLEET_LEGEND),
            q(f"max by ({FLEET_BY}) (poolscope_server_connection_budget{{{SEL}}} > 0)",
              "budget " + FLEET_LEGEND),
        ],
        8,
    ),
    (
        "Fleet: over-commitment (sum of max / budget)",
        "What the replicas may open together (the sum of every instance's max) over the "
        "server's budget. Above 1 the replicas can ask for more than the server admits; "
        "the budget formula: replicas x (pool_size + max_overflow) <= budget.",
        "percentunit",
        "timeseries",
        [
            q(f"sum by ({FLEET_BY}) (db_client_connection_max{{{SEL}}}) / "
              f"max by ({FLEET_BY}) (poolscope_server_connection_budget{{{SEL}}} > 0)",
              FLEET_LEGEND),
        ],
        8,
    ),
    (
        "Fleet: refused connects / s",
        "Connects that failed, by reason, summed over the replicas: server_capacity is the "
        "server at its budget (callers wait for capacity); unreachable and authentication "
        "are outages and misconfiguration.",
        "ops",
        "timeseries",
        [
            q(f"sum by ({FLEET_BY}, poolscope_refusal_reason) "
              f"(rate(poolscope_connection_refusals_total{{{SEL}}}[{RATE}]))",
              "{{poolscope_refusal_reason}} " + FLEET_LEGEND),
        ],
        8,
    ),
]

DRILL = [
    (
        "Connections by state",
        "Open connections, idle and used, against pool_size (idle max) and the limit (max). "
        "Equal to the server's own count of the pool's connections.",
        "short",
        "timeseries",
        [
            q(gauge("db_client_connection_count", extra=", db_client_connection_state"),
              "{{db_client_connection_state}} " + LEGEND),
            q(gauge("db_client_connection_max"), "max " + LEGEND),
            q(gauge("db_client_connection_idle_max"), "pool_size " + LEGEND),
            q(gauge("db_client_connection_idle_min"), "idle min " + LEGEND),
        ],
        12,
    ),
    (
        "Sizing (Little's law)",
        "Mean connections busy = rate of use time (seconds of use per second), and its p99 "
        "over the range, against pool_size and the limit. Busy near pool_size: overflow in "
        "use; near max: callers wait (grow the pool or shorten the work); far below "
        "pool_size: the pool keeps idle connections it does not need.",
        "short",
        "timeseries",
        [
            q(rate("db_client_connection_use_time_seconds_sum"), "busy (mean) " + LEGEND),
            q(
                f"quantile_over_time(0.99, ({rate('db_client_connection_use_time_seconds_sum')})[$__range:{RATE}])",
                "busy (p99 over range) " + LEGEND,
            ),
            q(gauge("db_client_connection_idle_max"), "pool_size " + LEGEND),
            q(gauge("db_client_connection_max"), "max " + LEGEND),
        ],
        12,
    ),
    (
        "Overflow in use",
        "Connections open beyond pool_size, against max_overflow (max - pool_size).",
        "short",
        "timeseries",
        [
            q(
                f"clamp_min({gauge('db_client_connection_count')} - {gauge('db_client_connection_idle_max')}, 0)",
                "overflow " + LEGEND,
            ),
            q(
                f"{gauge('db_client_connection_max')} - {gauge('db_client_connection_idle_max')}",
                "max_overflow " + LEGEND,
            ),
        ],
        12,
    ),
    (
        "Checkouts / s and creates / s",
        "get() calls (one wait-time sample each, failed ones too) and connections opened.",
        "ops",
        "timeseries",
        [
            q(rate("db_client_connection_wait_time_seconds_count"), "checkouts " + LEGEND),
            q(rate("db_client_connection_create_time_seconds_count"), "creates " + LEGEND),
        ],
        12,
    ),
    ("Wait time", "get() to a usable connection.", "s", "timeseries",
     quantiles("db_client_connection_wait_time_seconds"), 8),
    ("Use time", "Checkout to return.", "s", "timeseries",
     quantiles("db_client_connection_use_time_seconds"), 8),
    ("Create time", "Opening a connection.", "s", "timeseries",
     quantiles("db_client_connection_create_time_seconds"), 8),
    (
        "Overflow opened and closed / s",
        "Churn: connections opened beyond pool_size and closed again on return.",
        "ops",
        "timeseries",
        [
            q(rate("poolscope_overflow_opened_total"), "opened " + LEGEND),
            q(rate("poolscope_overflow_closed_total"), "closed " + LEGEND),
        ],
        12,
    ),
    (
        "Resets / s by action and outcome",
        "Rollbacks (or commits) on return; errors close the connection.",
        "ops",
        "timeseries",
        [q(rate("poolscope_resets_total", extra=", poolscope_reset_action, poolscope_reset_outcome"),
           "{{poolscope_reset_action}} {{poolscope_reset_outcome}} " + LEGEND)],
        12,
    ),
    (
        "Closes / s by reason",
        "Why connections were closed.",
        "ops",
        "timeseries",
        [q(rate("poolscope_closes_total", extra=", poolscope_close_reason"),
           "{{poolscope_close_reason}} " + LEGEND)],
        12,
    ),
    (
        "Invalidations, recycles and failed pre-pings / s",
        "Dead or stale connections replaced.",
        "ops",
        "timeseries",
        [
            q(rate("poolscope_invalidations_total", extra=", poolscope_invalidate_reason"),
              "invalidated {{poolscope_invalidate_reason}} " + LEGEND),
            q(rate("poolscope_recycles_total", extra=", poolscope_recycle_reason"),
              "recycled {{poolscope_recycle_reason}} " + LEGEND),
            q(rate("poolscope_pre_ping_failures_total"), "failed pre-ping " + LEGEND),
        ],
        12,
    ),
    (
        "Connections held past the leak threshold",
        "Checked out longer than leak_detection_threshold now.",
        "short",
        "timeseries",
        [q(gauge("poolscope_leaks_current"))],
        12,
    ),
    (
        "Suspected leaks in the range",
        "Connections reported held past the threshold during the selected range.",
        "short",
        "stat",
        [q(f"sum by ({BY}) (increase(poolscope_leaks_suspected_total{{{SEL}}}[$__range]))")],
        12,
    ),
]


def panel(pid, x, y, spec):
    title, description, unit, kind, targets, width = spec
    p = {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": width, "h": 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [dict(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)],
    }
    if kind == "timeseries":
        p["options"] = {"legend": {"displayMode": "list", "placement": "bottom"}}
    else:
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"]}, "textMode": "value_and_name"}
    return p


def layout():
    panels, pid, y = [], 1, 0
    panels.append({"id": pid, "type": "row", "title": "Overview: every instance and pool",
                   "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
    pid, y = pid + 1, y + 1
    x = 0
    for spec in OVERVIEW:
        panels.append(panel(pid, x, y, spec))
        pid, x = pid + 1, x + spec[5]
    y += 8
    panels.append({"id": pid, "type": "row", "title": "Fleet: the replicas against one server",
                   "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
    pid, y = pid + 1, y + 1
    x = 0
    for spec in FLEET:
        panels.append(panel(pid, x, y, spec))
        pid, x = pid + 1, x + spec[5]
    y += 8
    panels.append({"id": pid, "type": "row", "title": "Pool $pool", "repeat": "pool",
                   "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
    pid, y = pid + 1, y + 1
    x = 0
    for spec in DRILL:
        if x + spec[5] > 24:
            x, y = 0, y + 8
        panels.append(panel(pid, x, y, spec))
        pid, x = pid + 1, x + spec[5]
    return panels


def variable(name, label, query, multi=True):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": {"query": query, "refId": name},
        "definition": query,
        "includeAll": True,
        "multi": multi,
        "allValue": ".*",
        "refresh": 2,
        "sort": 1,
        "current": {"text": "All", "value": "$__all"},
        "hide": 0,
    }


def dashboard():
    return {
        "title": "poolscope connection pools",
        "description": "SQLAlchemy-style connection pools observed by poolscope: "
                       "db.client.connection.* and poolscope.* series, per instance and pool.",
        "tags": ["poolscope", "database", "connection-pool"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 2,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "label": "Data source", "type": "datasource",
                 "query": "prometheus", "current": {}, "hide": 0},
                variable("job", "Job", "label_values(db_client_connection_count, job)"),
                variable("instance", "Instance",
                         'label_values(db_client_connection_count{job=~"$job"}, instance)'),
                variable("pool", "Pool",
                         'label_values(db_client_connection_count{job=~"$job", instance=~"$instance"}, '
                         + POOL + ")"),
            ]
        },
        "annotations": {"list": []},
        "panels": layout(),
    }


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "poolscope.json"), "w") as f:
        json.dump(dashboard(), f, indent=2)
        f.write("\n")
