#!/usr/bin/env python3
"""Instructions per checkout + return, counted with callgrind (deterministic: a busy shared
machine does not move it), for poolscope and its peers, in the working tree and in base
commits built beside it (target/ab/<rev>, as ab.py does).

    python3 peer-benches/instructions.py 3cf5f9c 73c3c06

Each pool runs `cycles` (peer-benches/examples/cycles.rs) twice, LOW and HIGH cycles, under
`valgrind --tool=callgrind`; (instructions(HIGH) - instructions(LOW)) / (HIGH - LOW) is one
cycle's cost, setup and exit cancelled out. A second table counts checkouts that wait
(examples/waits.rs: a pool of 1, two tasks on one thread), per checkout. A base commit that predates the example gets the
tree's copy (peers.rs has kept its API). The peers are counted in the tree's build only (their
code is the same in every build: one Cargo.lock).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = ("cycles", "waits")
LOW, HIGH = 20_000, 120_000
OURS = [("poolscope", ""), ("poolscope", "recorder"),
        ("poolscope_async", ""), ("poolscope_async", "recorder")]
PEERS = [("r2d2", ""), ("bb8", ""), ("deadpool", "")]


def build(tree, target_dir):
    """Builds both examples in `tree`; the directory holding them."""
    for name in EXAMPLES:
        example = os.path.join("peer-benches", "examples", name + ".rs")
        if tree != ROOT:
            os.makedirs(os.path.join(tree, "peer-benches", "examples"), exist_ok=True)
            shutil.copy(os.path.join(ROOT, example), os.path.join(tree, example))
        env = dict(os.environ, CARGO_TARGET_DIR=target_dir, CARGO_INCREMENTAL="0")
        subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p",
                        "poolscope-peer-benches", "--example", name],
                       cwd=tree, env=env, check=True)
    return os.path.join(target_dir, "release", "examples")


def instructions(exe, pool, extra, cycles):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                              exe, pool, str(cycles), *filter(None, [extra])],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            sys.exit(run.stderr)
        m = re.search(r"Collected : (\d+)", run.stderr)
        return int(m.group(1))


def per_cycle(examples, pool, extra, example="cycles", per=1):
    exe = os.path.join(examples, example)
    low, high = LOW // 4, HIGH // 4
    if example == "cycles":
        low, high = LOW, HIGH
    spent = instructions(exe, pool, extra, high) - instructions(exe, pool, extra, low)
    return spent / ((high - low) * per)


def main():
    bases = sys.argv[1:]
    if any(b in ("-h", "--help") for b in bases):
        sys.exit(__doc__)
    sides = {}
    for rev in bases:
        tree = os.path.join(ROOT, "target", "ab", rev)
        if not os.path.isdir(tree):
            subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, rev], check=True)
        sides[rev] = build(tree, os.path.join(tree, "target"))
    sides["tree"] = build(ROOT, os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")))
    peers = {pool: per_cycle(sides["tree"], pool, "") for pool, _ in PEERS}
    print("instructions per cycle: " + ", ".join(f"{p} {v:.0f}" for p, v in peers.items()))
    print("| pool | " + " | ".join(sides) + " |")
    print("|---|" + "---|" * len(sides))
    for pool, extra in OURS:
        peer = peers["r2d2"] if pool == "poolscope" else min(peers["bb8"], peers["deadpool"])
        peer_name = "r2d2" if pool == "poolscope" else "faster async peer"
        cells = []
        for exe in sides.values():
            n = per_cycle(exe, pool, extra)
            cells.append(f"{n:.0f} ({n / peer:.2f}× {peer_name})")
        print(f"| {pool} {extra or 'quiet'} | " + " | ".join(cells) + " |")
    waiting = {pool: per_cycle(sides["tree"], pool, "", "waits", 2) for pool in ("bb8", "deadpool")}
    print()
    print("checkouts that wait (pool of 1, two tasks, one thread), instructions per checkout: "
          + ", ".join(f"{p} {v:.0f}" for p, v in waiting.items()))
    print("| pool | " + " | ".join(sides) + " |")
    print("|---|" + "---|" * len(sides))
    peer = min(waiting.values())
    cells = []
    for examples in sides.values():
        n = per_cycle(examples, "poolscope_async", "", "waits", 2)
        cells.append(f"{n:.0f} ({n / peer:.2f}× faster async peer)")
    print("| poolscope_async waiting | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
