#!/usr/bin/env bash
# Runs every peer bench, then writes BENCHMARKS.md and peer-benches/contended.png.
# Set POOLSCOPE_PG_URL for the PostgreSQL end-to-end run (skipped without it).
set -euo pipefail
cd "$(dirname "$0")/.."
bench() { cargo bench --locked "$@"; }
bench -p poolscope-peer-benches --bench uncontended
bench -p poolscope-peer-benches --bench contended
bench -p poolscope-peer-benches --bench instrumentation_matrix
bench -p poolscope-peer-benches --bench instrumented_interleaved
bench -p poolscope-peer-benches --bench span_cost_breakdown
bench -p poolscope-peer-benches --no-default-features --bench instrumentation_matrix
# "Compiled in, quiet" and "features off" come from two builds, so from two processes run at
# different moments: alternate them five times and keep every pair's medians (report.py takes
# the median of the per-pair ratios).
results="${CARGO_TARGET_DIR:-target}/peer-benches"
mkdir -p "$results"
: > "$results/quiet_vs_off.jsonl"
for _ in 1 2 3 4 5; do
    for row in compiled_in_quiet features_off; do
        features=()
        [ "$row" = features_off ] && features=(--no-default-features)
        bench -p poolscope-peer-benches "${features[@]}" --bench instrumentation_matrix -- \
            "/$row\$" --warm-up-time 1 --measurement-time 2 --noplot
        python3 - "$row" "${CARGO_TARGET_DIR:-target}" >> "$results/quiet_vs_off.jsonl" <<'PY'
import json, sys
row, target = sys.argv[1], sys.argv[2]
median = lambda front: json.load(open(f"{target}/criterion/instrumentation_{front}/{row}/new/estimates.json"))["median"]["point_estimate"]
print(json.dumps({"row": row, "blocking": median("blocking"), "async": median("async")}))
PY
    done
done
bench -p poolscope-peer-benches --bench wait_distribution
bench -p poolscope-peer-benches --bench overflow_and_timeout
bench -p poolscope-peer-benches-postgres --bench postgres_end_to_end
bench -p poolscope-peer-benches-postgres --bench adapters_end_to_end
# The chart needs matplotlib: a virtual environment under target/ if the system has none.
python=python3
if ! python3 -c 'import matplotlib' 2>/dev/null; then
    venv="${CARGO_TARGET_DIR:-target}/report-venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet matplotlib
    python="$venv/bin/python"
fi
"$python" peer-benches/report.py
