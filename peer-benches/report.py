#!/usr/bin/env python3
"""Writes BENCHMARKS.md and the contended chart from one run of the peer benches.

Reads criterion's estimates (target/criterion/<group>/<pool>/new/estimates.json, the median)
and the harness-free benches' JSON (target/peer-benches/*.json). Run by peer-benches/run.sh;
matplotlib draws the chart.
"""
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
CRITERION = TARGET / "criterion"
RESULTS = TARGET / "peer-benches"
CHART = "peer-benches/contended.png"


def median_ns(group, pool):
    path = CRITERION / group / pool / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


def harness(name):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fmt_ns(ns):
    return "–" if ns is None else (f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns")


def ratio(a, b):
    return "–" if a is None or b is None else f"**{a / b:.2f}×**"


def extra_ns(total, *parts):
    """`total` minus `parts`, signed, in ns ("–" if any is missing)."""
    if None in (total, *parts):
        return "–"
    return f"{total - sum(parts):+.0f} ns"


def machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}, {rustc}"


def uncontended(out):
    out.append("## Uncontended checkout + return\n")
    out.append("One caller, a warmed pool. Time per cycle (criterion median); ratio = poolscope / peer "
               "(below 1 is faster). Target: blocking ≤ 0.8× r2d2; async ≤ 0.8× the faster of bb8 "
               "and deadpool (mobc, the instrumented peer, beside them, quiet).\n")
    out.append("| scenario | poolscope | r2d2 | bb8 | deadpool | mobc | poolscope / r2d2 | poolscope / faster of bb8, deadpool | poolscope / mobc |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for validated in ["", "_validated"]:
        for size in [8, 16]:
            label = f"pool {size}" + (", checkout test on" if validated else "")
            b = f"uncontended_blocking{validated}_pool{size}"
            a = f"uncontended_async{validated}_pool{size}"
            p, r = median_ns(b, "poolscope"), median_ns(b, "r2d2")
            out.append(f"| blocking, {label} | {fmt_ns(p)} | {fmt_ns(r)} | | | | {ratio(p, r)} | | |")
            pa, bb, dp = median_ns(a, "poolscope"), median_ns(a, "bb8"), median_ns(a, "deadpool")
            mo = median_ns(a, "mobc")
            faster = min(x for x in (bb, dp) if x is not None) if (bb or dp) else None
            out.append(f"| async, {label} | {fmt_ns(pa)} | | {fmt_ns(bb)} | {fmt_ns(dp)} | {fmt_ns(mo)} | | "
                       f"{ratio(pa, faster)} | {ratio(pa, mo)} |")
    out.append("")


def contended_rows():
    """The interleaved rows of the contended bench, keyed by (front, pool, workers)."""
    data = harness("contended")
    if data is None:
        return None, {}
    rows = {(r["labels"]["front"], r["labels"]["pool"], r["labels"]["workers"]): r for r in data["rows"]}
    return data, rows


def contended(out):
    data, rows = contended_rows()
    out.append("## Contended throughput\n")
    if data is None:
        out.append("Not run (no `target/peer-benches/contended.json`).\n")
        return
    out.append("1, 4, 16 and 64 workers over pools of 8 and 16; each checkout is held across one "
               "yield, so that with more workers than connections callers really wait. On two shared "
               "cores one pool's contended time moves by 2-3× between runs a minute apart, so the pools "
               f"of each scenario are measured interleaved in time: {data['period_ms']} ms each per "
               f"round, the order rotating, {data['rounds']} rounds after a warm-up round. Time per "
               "checkout = the median over the rounds (lower is more throughput); ratio = the median "
               "of the per-round ratios poolscope / peer, below 1 means poolscope has the higher "
               "throughput; in brackets, the rounds in which poolscope was at least as fast. Target: "
               "≥ every peer's throughput, i.e. every ratio ≤ 1. (Criterion's own per-pool figures, "
               "measured one pool after the other, are in `target/criterion/contended_*`.)\n\n"
               f"![contended throughput]({CHART})\n")
    tables = [
        ("blocking", "Blocking, threads:", [("r2d2", "r2d2")]),
        ("async", "Async, tasks: `deadpool` with a `wait_timeout` (a timer per checkout, like the "
                  "other pools' checkout timeout), `deadpool defaults` as its users run it (none); "
                  "`mobc` quiet (no recorder installed); `poolscope, no pool_timeout` is poolscope itself "
                  "without a wait limit (no deadline to keep, like deadpool's defaults): its "
                  "ratio is poolscope's default / that (the default's waits keep their 30 s "
                  "`pool_timeout` through one timer per pool, not one per wait). Target against "
                  "the faster of bb8 and deadpool.",
         [("bb8", "bb8"), ("deadpool", "deadpool"), ("deadpool_defaults", "deadpool defaults"),
          ("mobc", "mobc"), ("poolscope_no_timeout", "poolscope, no pool_timeout")]),
        ("async + recorder", "Async with metrics on: poolscope with a metrics-exporter-prometheus "
                             "recorder against mobc recording to the same recorder (mobc records "
                             "through the `metrics` facade on every checkout). Target ≤ 1.0, goal ≤ 0.7.",
         [("mobc_recorder", "mobc + recorder")]),
    ]
    for front, title, peers in tables:
        if not any(key[0] == front for key in rows):
            continue
        out.append(title + "\n")
        out.append("| pool | workers | poolscope | " + " | ".join(label for _, label in peers) + " | "
                   + " | ".join(f"vs {label}" for _, label in peers) + " |")
        out.append("|---|---|---|" + "---|" * (2 * len(peers)))
        for size in [8, 16]:
            for workers in [1, 4, 16, 64]:
                row = rows.get((front, size, workers))
                if row is None:
                    continue
                ns = row["ns_per_cycle"]
                ratio_cell = lambda k: (f"**{row['ratio'][k]:.2f}×** ({row['first_ahead'][k]}/{row['rounds']})"
                                        if k in row["ratio"] else "")
                out.append(
                    f"| {size} | {workers} | {fmt_ns(ns.get('poolscope'))} | "
                    + " | ".join(fmt_ns(ns.get(k)) for k, _ in peers)
                    + " | "
                    + " | ".join(ratio_cell(k) for k, _ in peers)
                    + " |"
                )
        out.append("")
        if front == "async":
            cells = []
            for size in [8, 16]:
                for workers in [1, 4, 16, 64]:
                    ns = rows.get((front, size, workers), {}).get("ns_per_cycle", {})
                    if "poolscope_no_timeout" in ns and "deadpool_defaults" in ns:
                        cells.append(f"pool {size} × {workers}: "
                                     f"{ns['poolscope_no_timeout'] / ns['deadpool_defaults']:.2f}×")
            if cells:
                out.append("Like for like with deadpool's defaults, poolscope with no `pool_timeout` / "
                           "deadpool defaults (medians' ratio): " + "; ".join(cells) + ".\n")


INSTRUMENTED_TITLE = "## With its instruments on, interleaved"


def instrumented(out):
    """The interleaved single-caller rows with poolscope's metrics on (instrumented.json)."""
    data = harness("instrumented")
    out.append(INSTRUMENTED_TITLE + "\n")
    if data is None:
        out.append("Not run (no `target/peer-benches/instrumented.json`).\n")
        return
    out.append("One caller, pool 8, checkout + return. poolscope runs with a metrics-exporter-prometheus "
               "recorder and its default `gauge_interval` (durations aggregated in the pool, handed to the "
               "recorder by its publisher thread), beside the peers and its own other configurations, "
               f"interleaved in time: {data['period_ms']} ms each per round, the order rotating, "
               f"{data['rounds']} rounds after a warm-up round. Ratio = poolscope with the recorder / the "
               "other, the median of the per-round ratios (below 1: poolscope is faster), then the lowest "
               "and highest round (the spread), and the rounds in which poolscope was at least as fast. "
               "`deadpool` runs as its users do (no `wait_timeout`), `deadpool, wait_timeout` with one (a "
               "timer per checkout, like the other pools' checkout timeout); `mobc` is the instrumented "
               "peer (its metrics through the facade on every checkout), with the same recorder and "
               "without one; `OpenTelemetry meter` is poolscope with the SDK's meter provider (read by "
               "opentelemetry-prometheus) instead of the recorder; `value by value` is poolscope with "
               "`gauge_interval(ZERO)` (each duration recorded as it happens, gauges set under the lock). "
               "Targets: ≤ 1.0 against r2d2 and the faster of bb8 / deadpool (goal 0.8), and against "
               "mobc with its metrics (goal 0.7).\n")
    names = {
        "r2d2": "r2d2", "bb8": "bb8", "deadpool": "deadpool", "deadpool_wait_timeout": "deadpool, wait_timeout",
        "mobc_recorder": "mobc + recorder", "mobc": "mobc", "poolscope_quiet": "poolscope quiet",
        "poolscope_otel_meter": "poolscope, OpenTelemetry meter",
        "poolscope_value_by_value": "poolscope, value by value",
    }
    out.append("| front | other | its time per cycle | poolscope + recorder | poolscope / other | spread | rounds ahead |")
    out.append("|---|---|---|---|---|---|---|")
    for row in data["rows"]:
        front = row["labels"]["front"]
        ns = row["ns_per_cycle"]
        for key, label in names.items():
            if key not in row["ratio"]:
                continue
            low, high = row["ratio_range"][key]
            out.append(f"| {front} | {label} | {fmt_ns(ns[key])} | {fmt_ns(ns['poolscope_recorder'])} | "
                       f"**{row['ratio'][key]:.2f}×** | {low:.2f}–{high:.2f} | {row['first_ahead'][key]}/{row['rounds']} |")
    out.append("")


def spans_interleaved(out):
    data = harness("spans_interleaved")
    if data is None:
        return
    out.append("Spans, interleaved the same way: poolscope's default cycle (no recorder, an idle checkout, a "
               "return with nothing to roll back) with tracing-opentelemetry and the OpenTelemetry SDK taking "
               "its spans (every span sampled, exported to a sink), against one empty `info_span!` through the "
               f"same subscriber ({data['rounds']} rounds of {data['period_ms']} ms). Target: ≤ 1.5× the empty "
               "span (goal 1.0).\n")
    out.append("| front | pool's cycle with spans | empty span | pool / empty span | spread | rounds |")
    out.append("|---|---|---|---|---|---|")
    for row in data["rows"]:
        ns = row["ns_per_cycle"]
        low, high = row["ratio_range"]["empty_span"]
        out.append(f"| {row['labels']['front']} | {fmt_ns(ns['pool_spans'])} | {fmt_ns(ns['empty_span'])} | "
                   f"**{row['ratio']['empty_span']:.2f}×** | {low:.2f}–{high:.2f} | {row['rounds']} |")
    out.append("")
    span_breakdown(out)


def span_breakdown(out):
    data = harness("span_cost_breakdown")
    if data is None:
        return
    out.append("Where a span's cost goes (`span_cost_breakdown`, blocking, same subscriber, interleaved, "
               f"{data['rounds']} rounds of {data['period_ms']} ms): spans built by hand adding one part of "
               "the checkout span at a time, each against the empty span. The pool's idle checkout creates "
               "its span knowing its outcome and does not enter it (nothing runs inside it), which is why it "
               "can cost less than an empty span that is entered.\n")
    parts = [("empty_span", "empty `info_span!`, entered"),
             ("name_field", "+ the pool name, set at creation"),
             ("created_fields", "+ the class, the other fields declared empty (the checkout span's shape)"),
             ("created_and_recorded", "+ the outcome recorded after creation (every hand-built span is entered)"),
             ("pool_spans", "poolscope's default cycle with its checkout span")]
    out.append("| span | time per cycle | / empty span | spread |")
    out.append("|---|---|---|---|")
    for row in data["rows"]:
        ns = row["ns_per_cycle"]
        for key, what in parts:
            if key == "empty_span":
                out.append(f"| {what} | {fmt_ns(ns[key])} | 1.00× | – |")
                continue
            # The harness's ratios are first (the empty span) / other, in time.
            low, high = row["ratio_range"][key]
            out.append(f"| {what} | {fmt_ns(ns[key])} | **{1 / row['ratio'][key]:.2f}×** | "
                       f"{1 / high:.2f}–{1 / low:.2f} |")
    out.append("")


def chart():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: chart not drawn", file=sys.stderr)
        return
    data, rows = contended_rows()
    if data is None:
        print("no contended results: chart not drawn", file=sys.stderr)
        return
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True)
    workers = [1, 4, 16, 64]
    for col, front, pools in [(0, "blocking", ["poolscope", "r2d2"]), (1, "async", ["poolscope", "bb8", "deadpool"])]:
        for row, size in enumerate([8, 16]):
            ax = axes[row][col]
            for pool in pools:
                ys = []
                for w in workers:
                    r = rows.get((front, size, w))
                    ns = r["ns_per_cycle"].get(pool) if r else None
                    ys.append(1e9 / ns / 1e6 if ns else float("nan"))
                ax.plot(workers, ys, marker="o", label=pool)
            ax.set_xscale("log", base=2)
            ax.set_xticks(workers, [str(w) for w in workers])
            ax.set_title(f"{front}, pool {size}")
            ax.set_ylabel("million checkouts / s")
            ax.grid(alpha=0.3)
            ax.legend()
    for ax in axes[1]:
        ax.set_xlabel("workers")
    fig.suptitle("Contended checkout + return (no-op connections, hold across one yield; "
                 "median of interleaved rounds)")
    fig.tight_layout()
    fig.savefig(ROOT / CHART, dpi=90)


def quiet_off(alternated, front, v):
    """The quiet / off cell: the alternated runs' ratio if there are any, else the columns'."""
    if alternated:
        return f"**{alternated[0][front]:.2f}×**"
    return ratio(v["compiled_in_quiet"], v["features_off"])


def quiet_vs_off():
    """Per front, the median of the per-pair ratios compiled-in-quiet / features-off from the
    alternated runs (run.sh), and how many pairs; None when they were not run."""
    path = RESULTS / "quiet_vs_off.jsonl"
    if not path.exists():
        return None
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    quiet = [l for l in lines if l["row"] == "compiled_in_quiet"]
    off = [l for l in lines if l["row"] == "features_off"]
    pairs = list(zip(quiet, off))
    if not pairs:
        return None
    result = {}
    for front in ["blocking", "async"]:
        ratios = sorted(q[front] / o[front] for q, o in pairs)
        result[front] = ratios[len(ratios) // 2]
    return result, len(pairs)


def spans_ratio(v):
    """(spans with the OTel SDK − quiet) / one empty span through the same layer."""
    if None in (v["tracing_otel_sdk"], v["compiled_in_quiet"], v["empty_span_otel"]):
        return "–"
    return f"**{(v['tracing_otel_sdk'] - v['compiled_in_quiet']) / v['empty_span_otel']:.2f}×**"


def matrix(out):
    out.append("## Instrumentation matrix\n")
    out.append("One caller, pool 8. `features_off` comes from a build without poolscope's metric "
               "features; everything else from the default build. Targets: compiled in and quiet ≤ "
               "1.05× features off; recorder − quiet ≤ two clock reads + 20 ns; with the recorder ≤ 1.0× "
               "r2d2 / bb8 (goal 0.8×).\n")
    out.append("`metrics recorder` is the default configuration: the count gauges (idle, used, pending) are "
               "published every second by poolscope's background thread, which also flushes wait_time and "
               "use_time: a checkout + return adds each duration to a bucket of the pool's own (one atomic "
               "addition) and never calls the recorder; `publisher thread per cycle` is what that thread then "
               "spends per cycle, off the caller's path (handing the buckets to the recorder with `record_many`, "
               "which metrics-exporter-prometheus turns into one sample per value), measured as its CPU time over "
               "3 s of cycles. `recorder floor` is the recorder alone (no pool) taking the two records a pool "
               "recording value by value would make; `poolscope's share` is the recorder's cost to the cycle "
               "minus that floor (negative: cheaper than the floor). `gauges on every change − quiet` is the "
               "cycle's cost with `gauge_interval(Duration::ZERO)`, which sets four gauges under the pool's lock "
               "and records each duration as it happens (the value-by-value path). `atomic recorder − quiet` is "
               "the default's cost under metrics-util's registry of atomics. `two clock reads` is what the "
               "checkout and return instants cost on this machine (`quanta`, the time-stamp counter): any pool "
               "that times wait_time and use_time per checkout pays them.\n")
    alternated = quiet_vs_off()
    if alternated:
        out.append(f"`quiet / off` is the median of {alternated[1]} ratios from the two builds run alternately "
                   "(`run.sh`), not of the two columns beside it, which come from one run of each build at "
                   "different moments. The recorder's histograms are drained every 5 s as an installed exporter "
                   "drains them.\n")
    out.append("| front | features off | compiled in, quiet | metrics recorder | OpenTelemetry SDK meter | fmt at INFO | tracing-opentelemetry SDK | recorder + OTel tracing | peer | quiet / off | recorder − quiet | recorder floor | poolscope's share | two clock reads | publisher thread per cycle | gauges on every change − quiet | atomic recorder − quiet | recorder / peer | OTel meter / peer | mobc, mobc + recorder | recorder / mobc + recorder | empty span (OTel SDK) | pool's spans / empty span |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    publisher = harness("publisher_cpu") or {}
    for front, peer in [("blocking", "r2d2"), ("async", "bb8")]:
        g = f"instrumentation_{front}"
        v = {k: median_ns(g, k) for k in ["features_off", "compiled_in_quiet", "metrics_recorder", "otel_meter", "tracing_info", "tracing_otel_sdk", "all_on", "recorder_floor", "two_clock_reads", "recorder_on_change", "atomic_recorder", "mobc", "mobc_recorder", "empty_span_otel", peer]}
        quiet = v["compiled_in_quiet"]
        delta = extra_ns(v["metrics_recorder"], quiet)
        lean = extra_ns(v["atomic_recorder"], quiet)
        on_change = extra_ns(v["recorder_on_change"], quiet)
        share = extra_ns(v["metrics_recorder"], quiet, v["recorder_floor"])
        out.append(
            f"| {front} | " + " | ".join(fmt_ns(v[k]) for k in ["features_off", "compiled_in_quiet", "metrics_recorder", "otel_meter", "tracing_info", "tracing_otel_sdk", "all_on"])
            + f" | {peer} {fmt_ns(v[peer])} | {quiet_off(alternated, front, v)} | {delta} | {fmt_ns(v['recorder_floor'])} | {share} | {fmt_ns(v['two_clock_reads'])} | {fmt_ns(publisher.get(front))} | {on_change} | {lean} | {ratio(v['metrics_recorder'], v[peer])} | {ratio(v['otel_meter'], v[peer])} | {fmt_ns(v['mobc'])}, {fmt_ns(v['mobc_recorder'])} | {ratio(v['metrics_recorder'], v['mobc_recorder'])} | {fmt_ns(v['empty_span_otel'])} | {spans_ratio(v)} |"
        )
    out.append("")


def waits(out):
    w = harness("wait_distribution")
    out.append("## Waits and fairness: 1000 callers over 50 connections\n")
    if not w:
        out.append("_not run_\n")
        return
    out.append(f"{w['callers']} callers, {w['connections']} connections, each checkout held {w['hold_ms']} ms, "
               f"{w['round_s']} s per round, median of {w['rounds']} interleaved rounds (by p99). Jain's index "
               "of checkouts per caller: 1.0 is perfectly even. Target: async p99 ≤ deadpool's.\n")
    out.append("| front | pool | p50 | p99 | p99.9 | max | Jain | fewest / most per caller | checkouts/s |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for front in ["async", "blocking"]:
        for pool, v in w[front].items():
            out.append(f"| {front} | {pool} | {v['p50_us']/1000:.1f} ms | {v['p99_us']/1000:.1f} ms | {v['p999_us']/1000:.1f} ms | "
                       f"{v['max_us']/1000:.1f} ms | {v['jain']:.4f} | {v['fewest_per_caller']} / {v['most_per_caller']} | {v['checkouts_per_s']:.0f} |")
    a = w["async"]
    mobc = (f"; poolscope / mobc: {ratio(a['poolscope']['p99_us'], a['mobc']['p99_us'])}" if "mobc" in a else "")
    out.append(f"\nasync p99, poolscope / deadpool: {ratio(a['poolscope']['p99_us'], a['deadpool']['p99_us'])}; "
               f"poolscope / bb8: {ratio(a['poolscope']['p99_us'], a['bb8']['p99_us'])}{mobc}.\n")


def overflow(out):
    o = harness("overflow_and_timeout")
    out.append("## Overflow churn and behaviour at the timeout\n")
    if not o:
        out.append("_not run_\n")
        return
    c = o["overflow_churn"]
    out.append(f"Bursts of {c['callers']} callers over pool_size {c['pool_size']} + max_overflow {c['max_overflow']} "
               "(peers: 16 connections, 8 kept idle at least), each holding 200 µs. poolscope closes connections "
               "returned while pool_size are idle (SQLAlchemy's overflow), so each burst reopens its extra 8; the "
               "peers keep them until an idle timeout. This is the semantics, not a speed.\n")
    out.append("| front | pool | connects per 1000 checkouts | checkouts/s |")
    out.append("|---|---|---|---|")
    for front in ["blocking", "async"]:
        for pool, v in c[front].items():
            out.append(f"| {front} | {pool} | {v['connects_per_1000']:.2f} | {v['checkouts_per_s']:.0f} |")
    t = o["at_timeout"]
    out.append(f"\nPool of {t['pool_size']}, both held, wait limit {t['timeout_ms']} ms (median of 5 refused checkouts):\n")
    out.append("| front | pool | refused after | serves again | error |")
    out.append("|---|---|---|---|---|")
    for front in ["blocking", "async"]:
        for pool, v in t[front].items():
            out.append(f"| {front} | {pool} | {v['took_ms']:.1f} ms | {'yes' if v['serves_again'] else 'NO'} | `{v['error']}` |")
    out.append("")


def postgres(out):
    p = harness("postgres_end_to_end")
    out.append("## End to end on PostgreSQL\n")
    if not p:
        out.append("_Skipped: `POOLSCOPE_PG_URL` was not set._\n")
        return
    out.append(f"{p['workers']} workers, pool {p['pool']}, {p['queries_per_worker']} × `{p['query']}` each; "
               f"median of {p['repetitions']} interleaved repetitions; PostgreSQL on the same machine. poolscope "
               "with its metrics going to a Prometheus recorder, FIFO (its default, SQLAlchemy's; bb8 and "
               "deadpool are FIFO too) and, blocking, LIFO (r2d2's order, the like-for-like row there). "
               "Ratio = poolscope's throughput / the peer's (above 1 is faster).\n")
    out.append("| front | pool | queries/s | poolscope / this | poolscope (LIFO) / this |")
    out.append("|---|---|---|---|---|")
    for front in ["blocking", "async"]:
        ours = p[front]["poolscope"]
        lifo = p[front].get("poolscope (LIFO)")
        for pool, qps in p[front].items():
            peer = not pool.startswith("poolscope")
            fifo_cell = f"**{ours / qps:.2f}×**" if peer else ""
            lifo_cell = f"**{lifo / qps:.2f}×**" if peer and lifo else ""
            out.append(f"| {front} | {pool} | {qps:.0f} | {fifo_cell} | {lifo_cell} |")
    out.append("")


def adapters(out):
    a = harness("adapters_end_to_end")
    out.append("## The adapters end to end on PostgreSQL, default options\n")
    if not a:
        out.append("_Skipped: `POOLSCOPE_PG_URL` was not set._\n")
        return
    fam = a["families"][0]
    inter, apart = fam["interleaved"], fam["separate_processes"]
    out.append(f"{a['workers']} workers (threads for Diesel, tasks for diesel-async and SeaORM), each checking "
               f"out, running `SELECT 1` through the ORM and returning, over a pool of {a['pool']}; every pool "
               "with its defaults but its size, beside the pool its users switch from: the peers test each "
               "connection on checkout (r2d2's and bb8's `test_on_check_out`, sqlx's `test_before_acquire`), "
               "as the adapters do (`pre_ping`), and the adapters roll back on return (nothing is open after "
               "a `SELECT 1`, so nothing is sent). poolscope's metrics go to a Prometheus recorder. Two "
               f"measurements: interleaved in one process ({inter['period_ms']} ms per pool per round, the "
               f"order rotating, {inter['rounds']} rounds after a warm-up round), and each pool alone in a "
               f"process of its own, as an application runs one ({apart['rounds']} rounds of the processes "
               "alternating, 5 s each after a 1 s warm-up). Ratio = poolscope's throughput / the peer's, the "
               "median of the per-round ratios (above 1: poolscope is faster), then the lowest and highest "
               "round. Target ≥ 1.0, goal ≥ 1.1.\n")
    out.append("`client CPU / query` is the process's own CPU time (user + system) per query in the "
               "separate-process runs (median): the pool, the driver and the ORM, on the same two cores "
               "as the server.\n")
    out.append("| ORM | pool | queries/s, interleaved | / peer, interleaved | spread | queries/s, separate processes | / peer, separate processes | spread | client CPU / query |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    cpu_cell = lambda v: f"{v['median']:.1f} µs" if v else ""
    for fam in a["families"]:
        inter, apart = fam["interleaved"], fam["separate_processes"]
        peer_apart = apart["peer_queries_per_s"]["median"] if apart["rounds"] else None
        peer_cpu = cpu_cell(apart.get("peer_client_cpu_us_per_query"))
        out.append(f"| {fam['family']} | {fam['peer']} | {inter['peer_queries_per_s']:.0f} | | | "
                   + (f"{peer_apart:.0f}" if peer_apart else "") + f" | | | {peer_cpu} |")
        for name, row in inter["rows"].items():
            r = row["ratio"]
            cells = f"| {fam['family']} | {name} | {row['queries_per_s']:.0f} | **{r['median']:.2f}×** | {r['low']:.2f}–{r['high']:.2f} |"
            other = apart["rows"].get(name)
            if other:
                q = other["ratio"]
                cells += (f" {other['queries_per_s']['median']:.0f} | **{q['median']:.2f}×** | {q['low']:.2f}–{q['high']:.2f} | "
                          f"{cpu_cell(other.get('client_cpu_us_per_query'))} |")
            else:
                cells += " | | | |"
            out.append(cells)
    out.append("")


def main():
    out = [
        "# Benchmarks: poolscope beside r2d2, bb8 and deadpool\n",
        "Generated by `peer-benches/report.py` from one run of",
        "",
        "```sh",
        "POOLSCOPE_PG_URL=postgres://postgres@127.0.0.1:5432/test bash peer-benches/run.sh",
        "```",
        "",
        f"on {machine()}, {datetime.now(timezone.utc).strftime('%Y-%m-%d')}. The machine is shared and "
        "noisy: read the ratios, not the absolute times, and expect a few percent either way between runs "
        "(the contended runs are interleaved for this reason).",
        "",
        "Every pool runs on the same no-op manager (`peer-benches/src/noop.rs`: connections cost nothing, "
        "so the pool's own work is what is measured), sized the same, all connections opened before the "
        "first measurement, no reset on return (the peers have none), the checkout test off unless stated. "
        "poolscope is built with its metric features (the default) and runs with no recorder and no "
        "subscriber unless stated.",
        "",
    ]
    uncontended(out)
    contended(out)
    waits(out)
    instrumented(out)
    spans_interleaved(out)
    matrix(out)
    overflow(out)
    postgres(out)
    adapters(out)
    chart()
    (ROOT / "BENCHMARKS.md").write_text("\n".join(out))
    print(f"wrote {ROOT / 'BENCHMARKS.md'} and {ROOT / CHART}")


if __name__ == "__main__":
    main()
