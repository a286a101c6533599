#!/usr/bin/env python3
"""Proves the dashboard on a real Prometheus: two instances of `examples/dashboard_load.rs`
(one exporting through the `metrics` facade, one through OpenTelemetry) are scraped by
Prometheus on 127.0.0.1; then every query of every panel of `poolscope.json` is evaluated
through Prometheus' HTTP API (variables substituted) and must return data, every pool event
must have happened on both instances, and the per-instance and per-pool splits must add up
to the totals.

    cargo build --example dashboard_load
    python3 dashboards/check.py [--seconds 45]

Needs `prometheus` on the PATH (Debian: `apt-get install prometheus`). `render.py` draws the
panels from the same setup.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
JOB = "poolscope-check"
RATE_INTERVAL = "10s"
RANGE = "1m"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(prom, expr, at):
    url = f"http://127.0.0.1:{prom}/api/v1/query?" + urllib.parse.urlencode(
        {"query": expr, "time": f"{at:.3f}"}
    )
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def substitute(expr, job=JOB, instance=".*", pool=".*"):
    return (
        expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__range", RANGE)
        .replace("$job", job)
        .replace("$instance", instance)
        .replace("$pool", pool)
    )


def panels(dashboard):
    for panel in dashboard["panels"]:
        if panel.get("type") != "row":
            yield panel


def value(sample):
    return float(sample["value"][1])


def start(binary, seconds, work):
    """Two instances of the load (facade, OpenTelemetry) and a Prometheus scraping them every
    second; returns (children, Prometheus' port, the instances' ports)."""
    if shutil.which("prometheus") is None:
        sys.exit("prometheus is not installed (Debian: apt-get install prometheus)")
    if not os.path.exists(binary):
        sys.exit(f"{binary} is missing: cargo build --example dashboard_load")
    ports = {"facade": free_port(), "otel": free_port()}
    prom = free_port()
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        targets = ", ".join(f"'127.0.0.1:{p}'" for p in ports.values())
        f.write(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n"
            f"      - targets: [{targets}]\n"
        )
    children = []
    for exporter, port in ports.items():
        children.append(
            subprocess.Popen(
                [binary, "--exporter", exporter, "--port", str(port),
                 "--seconds", str(seconds + 60)],
                stdout=subprocess.DEVNULL,
            )
        )
    children.append(
        subprocess.Popen(
            ["prometheus", f"--config.file={work}/prometheus.yml",
             f"--storage.tsdb.path={work}/data", f"--web.listen-address=127.0.0.1:{prom}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    print(f"scraping 2 instances for {seconds} s (prometheus on :{prom}, data in {work})")
    return children, prom, ports


def stop(children):
    for child in children:
        child.terminate()
    for child in children:
        child.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=45)
    parser.add_argument(
        "--binary", default=os.path.join(ROOT, "target", "debug", "examples", "dashboard_load")
    )
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="poolscope-check-")
    children, prom, ports = start(args.binary, args.seconds, work)
    try:
        time.sleep(args.seconds)
        failures = check(prom, time.time(), ports)
    finally:
        stop(children)
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("\n".join(failures))
        sys.exit(f"{len(failures)} check(s) failed")
    print("every panel query returned data; events and splits add up")


def check(prom, at, ports):
    failures = []
    dashboard = json.load(open(os.path.join(HERE, "poolscope.json")))
    instances = [f"127.0.0.1:{p}" for p in ports.values()]
    up = query(prom, f'up{{job="{JOB}"}}', at)
    if sorted(s["metric"]["instance"] for s in up if value(s) == 1) != sorted(instances):
        failures.append(f"not every instance is up: {up}")
    count = 0
    for panel in panels(dashboard):
        for target in panel["targets"]:
            expr = substitute(target["expr"])
            count += 1
            try:
                result = query(prom, expr, at)
            except Exception as e:  # noqa: BLE001 - reported with its query
                failures.append(f"{panel['title']}: error {e}")
                continue
            if not result:
                failures.append(f"{panel['title']}: no data for {expr}")
    print(f"{count} panel queries evaluated")

    # Every event happened, on both instances (both export paths), in pool `orders`.
    events = {
        "timeouts": "db_client_connection_timeouts_total",
        "overflow opened": "poolscope_overflow_opened_total",
        "overflow closed": "poolscope_overflow_closed_total",
        "invalidations": "poolscope_invalidations_total",
        "recycles": "poolscope_recycles_total",
        "failed pre-pings": "poolscope_pre_ping_failures_total",
        "suspected leaks": "poolscope_leaks_suspected_total",
        "resets": "poolscope_resets_total",
        "failed resets": 'poolscope_resets_total{poolscope_reset_outcome="error"}',
    }
    for event, series in events.items():
        selector = series if "{" in series else series + "{}"
        selector = selector.replace("{", f'{{job="{JOB}", db_client_connection_pool_name="orders", ', 1)
        selector = selector.replace(", }", "}")
        expr = f"sum by (instance) (increase({selector}[5m]))"
        seen = {s["metric"]["instance"]: value(s) for s in query(prom, expr, at)}
        for instance in instances:
            if seen.get(instance, 0) <= 0:
                failures.append(f"{event}: none on {instance} ({expr})")

    # Refusals for capacity on both instances, and each instance reports the budget.
    expr = (f'sum by (instance) (increase(poolscope_connection_refusals_total{{job="{JOB}", '
            f'poolscope_refusal_reason="server_capacity"}}[5m]))')
    seen = {s["metric"]["instance"]: value(s) for s in query(prom, expr, at)}
    budget = {s["metric"]["instance"]: value(s)
              for s in query(prom, f'max by (instance) (poolscope_server_connection_budget{{job="{JOB}"}})', at)}
    for instance in instances:
        if seen.get(instance, 0) <= 0:
            failures.append(f"refusals for capacity: none on {instance} ({expr})")
        if budget.get(instance) != 5:
            failures.append(f"server budget on {instance}: {budget.get(instance)}, want 5")
    # The Fleet row adds the instances up: the over-commitment is both instances' max (4 + 3
    # each) over the budget, 14 / 5.
    fleet = [p for p in panels(dashboard) if p["title"].startswith("Fleet: over-commitment")]
    over = query(prom, substitute(fleet[0]["targets"][0]["expr"]), at) if fleet else []
    ratio = sum(value(s) for s in over)
    if abs(ratio - 14 / 5) > 1e-6:
        failures.append(f"over-commitment: {ratio}, want 14/5 (two instances of 4 + 3 over 5): {over}")

    # Splits add up: per instance and per pool, each series' parts sum to its total.
    for series in ["db_client_connection_count", "db_client_connection_max",
                   "rate(db_client_connection_wait_time_seconds_count"]:
        inner = series if not series.startswith("rate(") else series[len("rate("):]
        wrap = (lambda s: f"rate({s}[{RATE_INTERVAL}])") if series.startswith("rate(") else (lambda s: s)
        total = query(prom, f'sum({wrap(inner + "{job=" + chr(34) + JOB + chr(34) + "}")})', at)
        total = value(total[0]) if total else float("nan")
        parts = 0.0
        for instance in instances:
            for pool in ["orders", "billing"]:
                sel = f'{inner}{{job="{JOB}", instance="{instance}", db_client_connection_pool_name="{pool}"}}'
                got = query(prom, f"sum({wrap(sel)})", at)
                parts += value(got[0]) if got else 0.0
        if abs(parts - total) > 1e-6 * max(1.0, abs(total)):
            failures.append(f"{series}: instances x pools add up to {parts}, the total is {total}")
    # The dashboard's own per-(instance, pool) query adds up to the total too.
    first = substitute(next(panels(dashboard))["targets"][0]["expr"])
    per = query(prom, first, at)
    if len(per) != len(instances) * 2:
        failures.append(f"saturation shows {len(per)} series, want one per instance and pool: {per}")
    return failures


if __name__ == "__main__":
    main()
