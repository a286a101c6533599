#!/usr/bin/env python3
"""The dependency half of the MSRV check CI can make with one toolchain (clippy's
`incompatible_msrv`, denied in CI, is the other: no std API newer than `rust-version` in
our own code).

It resolves the published crates' dependencies as a user on the MSRV would get them (a
copy of the workspace without the unpublished benches, `cargo generate-lockfile` with the
MSRV-aware resolver, then the pins README.md tells such a user to make) and fails if any
package they build with (normal and build dependencies, all features on) declares a
`rust-version` above the crate's own.

What it does not prove: that the code compiles with that toolchain. Syntax and language
features newer than the MSRV, a dependency that needs a newer compiler without declaring it
(the count of those that declare none is printed), and compiler bugs are only found by
building with it, which this machine cannot (one toolchain, no downloads).
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRATES = ["poolscope", "poolscope-diesel", "poolscope-sea-orm"]
# Pins an MSRV user needs (README.md, "Add it to your app"): scheduled-thread-pool 0.2.8 (via
# r2d2) takes parking_lot 0.13, which needs Rust 1.95; 0.2.7 takes parking_lot 0.12.
PINS = {"scheduled-thread-pool": "0.2.7"}


def version(text):
    parts = [int(p) for p in re.findall(r"\d+", text or "0")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def resolve_as_an_msrv_user(scratch):
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if name.startswith("peer-benches/"):
            continue
        (scratch / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, scratch / name)
    manifest = scratch / "Cargo.toml"
    text = manifest.read_text()
    text = re.sub(r'members = \[[^\]]*\]', 'members = [".", "adapters/diesel", "adapters/sea-orm"]', text, count=1)
    manifest.write_text(text)
    def run(*args, env=None):
        return subprocess.run(args, cwd=scratch, check=True, capture_output=True, text=True,
                              env={**os.environ, **(env or {})})

    run("cargo", "generate-lockfile", env={"CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS": "fallback"})
    for package, precise in PINS.items():
        run("cargo", "update", "-p", package, "--precise", precise)
    return json.loads(run(
        "cargo", "metadata", "--format-version", "1", "--locked", "--all-features",
        "--filter-platform", "x86_64-unknown-linux-gnu").stdout)


def main():
    with tempfile.TemporaryDirectory() as scratch:
        meta = resolve_as_an_msrv_user(pathlib.Path(scratch))
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    failed = False
    for crate in CRATES:
        root = next(p for p in meta["packages"] if p["name"] == crate and p["source"] is None)
        msrv = version(root["rust_version"])
        seen, todo = set(), [root["id"]]
        while todo:
            for dep in nodes[todo.pop()]["deps"]:
                kinds = {k["kind"] for k in dep["dep_kinds"]}
                if kinds & {None, "build"} and dep["pkg"] not in seen:
                    seen.add(dep["pkg"])
                    todo.append(dep["pkg"])
        above = sorted(
            f'{packages[i]["name"]} {packages[i]["version"]} (rust-version {packages[i]["rust_version"]})'
            for i in seen if version(packages[i]["rust_version"]) > msrv
        )
        undeclared = sum(1 for i in seen if not packages[i]["rust_version"])
        print(f"{crate} (rust-version {root['rust_version']}): {len(seen)} dependencies, "
              f"{undeclared} declare no rust-version, {len(above)} declare one above ours")
        for line in above:
            print("   ", line)
        failed |= bool(above)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
