#!/usr/bin/env python3
"""Draws dashboards/poolscope.png: every panel of poolscope.json at its grid position, with
its title, legend and unit, from a real run's data (the two-instance load of check.py, scraped
by Prometheus and read back with query_range). The picture in dashboards/README.md.

    cargo build --example dashboard_load
    python3 -m venv /tmp/mpl && /tmp/mpl/bin/pip install matplotlib
    /tmp/mpl/bin/python dashboards/render.py [--seconds 90]

The repeated "Pool $pool" row is drawn for the pool `orders`.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

UNITS = {"ops": "ops/s", "s": "seconds", "percentunit": "fraction", "short": ""}


def query_range(prom, expr, start, end, step):
    url = f"http://127.0.0.1:{prom}/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": expr, "start": start, "end": end, "step": step}
    )
    with urllib.request.urlopen(url, timeout=20) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def legend(template, metric):
    out = template
    for key, value in metric.items():
        out = out.replace("{{" + key + "}}", value)
    return out.replace("{{", "").replace("}}", "").strip()


def draw(prom, start, end, path):
    dashboard = json.load(open(os.path.join(check.HERE, "poolscope.json")))
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"])
    scale = 0.36  # inches per grid unit
    fig = plt.figure(figsize=(24 * scale * 1.6, rows * scale))
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        left, width = g["x"] / 24, g["w"] / 24
        bottom, height = 1 - (g["y"] + g["h"]) / rows, g["h"] / rows
        if panel["type"] == "row":
            fig.text(0.005, 1 - (g["y"] + 0.8) / rows,
                     panel["title"].replace("$pool", "orders"), fontsize=11, weight="bold")
            continue
        ax = fig.add_axes([left + 0.03 * width, bottom + 0.18 * height,
                           width * 0.94, height * 0.68])
        ax.set_title(panel["title"], fontsize=9, loc="left")
        ax.tick_params(labelsize=6)
        ax.set_ylabel(UNITS.get(panel["fieldConfig"]["defaults"]["unit"], ""), fontsize=7)
        pool = ".*" if g["y"] < 9 else "orders"
        for target in panel["targets"]:
            expr = check.substitute(target["expr"], pool=pool)
            for series in query_range(prom, expr, start, end, "2s"):
                xs = [float(t) - start for t, _ in series["values"]]
                ys = [float(v) for _, v in series["values"]]
                label = legend(target.get("legendFormat", ""), series["metric"])
                if panel["type"] == "stat":
                    ax.bar(label[:40], ys[-1] if ys else 0)
                else:
                    ax.plot(xs, ys, linewidth=0.9, label=label[:60])
        if panel["type"] == "stat":
            ax.tick_params(axis="x", labelsize=5, rotation=15)
        else:
            ax.set_xlabel("seconds into the run", fontsize=6)
            handles, _ = ax.get_legend_handles_labels()
            if handles:
                ax.legend(fontsize=4.5, loc="upper left", ncol=2, framealpha=0.6)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument(
        "--binary",
        default=os.path.join(check.ROOT, "target", "debug", "examples", "dashboard_load"),
    )
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="poolscope-render-")
    children, prom, _ = check.start(args.binary, args.seconds, work)
    try:
        start = time.time()
        time.sleep(args.seconds)
        draw(prom, start + 15, time.time(), os.path.join(check.HERE, "poolscope.png"))
    finally:
        check.stop(children)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
