#!/usr/bin/env bash
# Runs every peer bench, then writes BENCHMARKS.md and peer-benches/contended.png.
# Set POOLSCOPE_PG_URL for the PostgreSQL end-to-end run (skipped without it).
set -euo pipefail
cd "$(dirname "$0")/.."
bench() { cargo bench --locked "$@"; }
bench -p poolscope-peer-benches --bench uncontended
bench -p poolscope-peer-benches --bench contended
bench -p poolscope-peer-benches --bench instrumentation_matrix
bench -p poolscope-peer-benches --no-default-features --bench instrumentation_matrix
bench -p poolscope-peer-benches --bench wait_distribution
bench -p poolscope-peer-benches --bench overflow_and_timeout
bench -p poolscope-peer-benches-postgres --bench postgres_end_to_end
# The chart needs matplotlib: a virtual environment under target/ if the system has none.
python=python3
if ! python3 -c 'import matplotlib' 2>/dev/null; then
    venv="${CARGO_TARGET_DIR:-target}/report-venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet matplotlib
    python="$venv/bin/python"
fi
"$python" peer-benches/report.py
