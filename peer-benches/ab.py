#!/usr/bin/env python3
"""A/B of a peer bench: the working tree against a base commit, built beside it and run
alternately in one sitting, so that a regression is measured against where the work started
and not only against the last commit (small steps add up).

    python3 peer-benches/ab.py 73c3c06 --rounds 5 -p poolscope-peer-benches --bench uncontended \\
        -- --warm-up-time 1 --measurement-time 2

The base is checked out (detached) in target/ab/<rev> and built with its own target directory
there; both binaries are run `--rounds` times, alternating which goes first. From criterion's
output, every group's poolscope rows are divided by each peer row of the same group (ratios are
what survive a noisy shared machine); the table gives each ratio's median over the rounds for
the base and for the tree, its change, and the rounds' spread.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}


def bench_binary(tree, target_dir, cargo_args):
    """Builds the bench in `tree` and returns its executable."""
    env = dict(os.environ, CARGO_TARGET_DIR=target_dir, CARGO_INCREMENTAL="0")
    out = subprocess.run(
        ["cargo", "bench", "--locked", "--no-run", "--message-format=json", *cargo_args],
        cwd=tree, env=env, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    exes = [
        msg["executable"]
        for msg in map(json.loads, filter(None, out.splitlines()))
        if msg.get("reason") == "compiler-artifact" and msg.get("executable")
        and msg.get("target", {}).get("kind") == ["bench"]
    ]
    if len(exes) != 1:
        sys.exit(f"expected one bench executable in {tree}, found {exes}")
    return exes[0]


def medians(output):
    """criterion's `<id> time: [lo median hi]` lines: {id: median in ns}."""
    found, last_id = {}, None
    for line in output.splitlines():
        m = re.match(r"^(\S.*?)\s+time:\s+\[(.*)\]", line)
        if m:
            last_id = m.group(1).strip()
            values = m.group(2).split()
        else:
            m = re.match(r"^\s+time:\s+\[(.*)\]", line)
            if not m or last_id is None:
                if line and not line.startswith(" "):
                    last_id = line.strip()
                continue
            values = m.group(1).split()
        # values: lo unit median unit hi unit; criterion's `change:` block repeats `time:`
        # with percentages (against its saved baseline), which is not a time.
        if values[0].endswith("%"):
            continue
        found[last_id] = float(values[2]) * UNITS[values[3]]
    return found


def ratios(found):
    """{(group, peer): poolscope / peer} for every poolscope row and peer row of a group."""
    groups = {}
    for ident, ns in found.items():
        group, _, row = ident.rpartition("/")
        groups.setdefault(group, {})[row] = ns
    out = {}
    for group, rows in groups.items():
        ours = {r: v for r, v in rows.items() if r.startswith("poolscope")}
        for mine, mine_ns in ours.items():
            for peer, peer_ns in rows.items():
                if peer not in ours:
                    out[(group, f"{mine} / {peer}")] = mine_ns / peer_ns
    return out


def main():
    argv = sys.argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        sys.exit(__doc__)
    base, rest = argv[0], argv[1:]
    rounds = 5
    if rest[:1] == ["--rounds"]:
        rounds, rest = int(rest[1]), rest[2:]
    cargo, bench_args = rest, []
    if "--" in rest:
        cut = rest.index("--")
        cargo, bench_args = rest[:cut], rest[cut + 1:]
    args = argparse.Namespace(base=base, rounds=rounds)
    base_tree = os.path.join(ROOT, "target", "ab", args.base)
    if not os.path.isdir(base_tree):
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", base_tree, args.base],
                       check=True)
    sides = {
        "base": bench_binary(base_tree, os.path.join(base_tree, "target"), cargo),
        "tree": bench_binary(ROOT, os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), cargo),
    }
    runs = {"base": [], "tree": []}
    for round_ in range(args.rounds):
        order = ["base", "tree"] if round_ % 2 == 0 else ["tree", "base"]
        for side in order:
            out = subprocess.run([sides[side], "--bench", *bench_args], check=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
            runs[side].append(ratios(medians(out)))
            print(f"round {round_ + 1}: {side} done", file=sys.stderr)
    keys = sorted(set().union(*runs["base"], *runs["tree"]))
    print(f"| group | ratio | {args.base} | tree | change | spread {args.base} | spread tree |")
    print("|---|---|---|---|---|---|---|")
    for key in keys:
        b = [r[key] for r in runs["base"] if key in r]
        t = [r[key] for r in runs["tree"] if key in r]
        if not b or not t:
            continue
        mb, mt = statistics.median(b), statistics.median(t)
        print(f"| {key[0]} | {key[1]} | {mb:.3f} | {mt:.3f} | {100 * (mt / mb - 1):+.1f}% "
              f"| {min(b):.2f}–{max(b):.2f} | {min(t):.2f}–{max(t):.2f} |")


if __name__ == "__main__":
    main()
