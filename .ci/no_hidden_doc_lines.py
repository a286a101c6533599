#!/usr/bin/env python3
"""The Markdown guides are read rendered (GitHub, crates.io), where rustdoc's hidden lines
(`# fn main() {`, `# Ok(())`) show literally: no Rust code block of a tracked *.md file (or
of the files named on the command line) may have one. Attributes (`#[..]`, `#![..]`) are not
hidden lines."""
import re
import subprocess
import sys

HIDDEN = re.compile(r"^\s*#(\s|$)")
FENCE = re.compile(r"^\s*```(.*)$")
# rustdoc compiles an untagged block, and one whose first tag is one of these, as Rust.
RUST_TAGS = {"rust", "no_run", "ignore", "should_panic", "compile_fail"}


def hidden_lines(path):
    block = None  # None outside a code block; inside, whether it is Rust
    for number, line in enumerate(open(path, encoding="utf-8"), 1):
        fence = FENCE.match(line)
        if fence:
            if block is None:
                tags = [t.strip() for t in fence.group(1).split(",") if t.strip()]
                block = not tags or tags[0] in RUST_TAGS or tags[0].startswith("edition")
            else:
                block = None
        elif block and HIDDEN.match(line):
            yield f"{path}:{number}: {line.rstrip()}"


files = sys.argv[1:] or subprocess.run(
    ["git", "ls-files", "*.md"], capture_output=True, text=True, check=True
).stdout.split()
bad = [hit for path in files for hit in hidden_lines(path)]
if bad:
    print("rustdoc hidden lines show literally in rendered Markdown:", *bad, sep="\n")
    sys.exit(1)
print(f"{len(files)} Markdown files, no hidden doctest lines")
