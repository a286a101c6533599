#!/usr/bin/env python3
"""The public API of a crate of this workspace, one item a line, from rustdoc's JSON output:
what `api/<crate>.txt` holds, and what CI compares it with (`--check`), so that a change to
the API shows in the diff that makes it.

    python3 tools/public_api.py            # rewrite api/*.txt
    python3 tools/public_api.py --check    # fail, with the diff, if they differ

Each line is an item reachable from the crate root by a public path (modules, structs with
their public fields, enums with their variants, traits with their items, functions with
their signatures, type aliases, constants, re-exports), an inherent method, or a trait
implemented for a public type (derived and auto traits included; blanket implementations,
`impl<T> From<T> for T` and the like, left out). rustdoc's JSON is unstable: on a stable
toolchain it needs `RUSTC_BOOTSTRAP=1` (what this script sets), and its format changes with
the toolchain, so the script checks the format version it reads. What it does not show:
doc text, default generic arguments' values, items hidden from docs (`#[doc(hidden)]`), and
anything a macro would expand to at the user's site.
"""
import difflib
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
FORMAT_VERSIONS = {57}
# Marker traits rustdoc lists that a user cannot name on stable (they change with the
# toolchain, not with the API).
HIDDEN_TRAITS = {"core::marker::Freeze", "core::marker::UnsafeUnpin", "core::marker::StructuralPartialEq"}
# The crate, and the features its API is rendered with (docs.rs builds with all of them;
# poolscope-diesel's `mysql` links libmysqlclient and adds no public item, so `full`).
CRATES = {
    "poolscope": ["--all-features"],
    "poolscope-diesel": ["--features", "full"],
    "poolscope-sea-orm": ["--all-features"],
}


def rustdoc_json(crate, features):
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    subprocess.run(
        ["cargo", "rustdoc", "-q", "--locked", "-p", crate, "--lib", *features, "--",
         "-Z", "unstable-options", "--output-format", "json"],
        cwd=ROOT, env=env, check=True,
    )
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    doc = json.loads((target / "doc" / f"{crate.replace('-', '_')}.json").read_text())
    if doc["format_version"] not in FORMAT_VERSIONS:
        sys.exit(f"rustdoc JSON format {doc['format_version']}: this script reads {FORMAT_VERSIONS}")
    return doc


class Render:
    def __init__(self, doc):
        self.doc = doc
        self.index = doc["index"]
        self.lines = set()
        self.seen = set()

    # Types, generics, bounds.
    def path(self, p):
        return self.name_of(p) + self.args(p.get("args"))

    def name_of(self, p):
        """A path as the docs name it: this crate's items by their name (their modules are
        private), other crates' by their full path, whatever the source wrote."""
        known = self.doc["paths"].get(str(p.get("id")))
        if known is None:
            return p["path"]
        if known["crate_id"] == 0:
            return known["path"][-1]
        return "::".join(known["path"])

    def args(self, a):
        if not a:
            return ""
        if "angle_bracketed" in a:
            ab = a["angle_bracketed"]
            parts = [self.arg(x) for x in ab["args"]]
            for c in ab["constraints"]:
                b = c["binding"]
                if "equality" in b:
                    term = b["equality"]
                    value = self.ty(term["type"]) if "type" in term else str(term.get("constant"))
                    parts.append(f"{c['name']}{self.args(c.get('args'))} = {value}")
                else:
                    parts.append(f"{c['name']}: {self.bounds(b['constraint'])}")
            return f"<{', '.join(parts)}>" if parts else ""
        if "parenthesized" in a:
            p = a["parenthesized"]
            out = f" -> {self.ty(p['output'])}" if p.get("output") else ""
            return f"({', '.join(self.ty(t) for t in p['inputs'])}){out}"
        return "(..)"

    def arg(self, x):
        if x == "infer":
            return "_"
        if "type" in x:
            return self.ty(x["type"])
        if "lifetime" in x:
            return x["lifetime"]
        return str(x.get("const", x))

    def bound(self, b):
        if "trait_bound" in b:
            t = b["trait_bound"]
            modifier = {"maybe": "?", "maybe_const": "~const "}.get(t.get("modifier"), "")
            hr = self.hrtb(t.get("generic_params"))
            return f"{hr}{modifier}{self.path(t['trait'])}"
        if "outlives" in b:
            return b["outlives"]
        return "use<..>"

    def bounds(self, bs):
        return " + ".join(self.bound(b) for b in bs)

    def hrtb(self, params):
        return f"for<{', '.join(p['name'] for p in params)}> " if params else ""

    def ty(self, t):
        if t is None:
            return "()"
        (kind, v), = t.items()
        if kind == "resolved_path":
            return self.path(v)
        if kind == "generic" or kind == "primitive":
            return v
        if kind == "borrowed_ref":
            lt = f"{v['lifetime']} " if v["lifetime"] else ""
            return f"&{lt}{'mut ' if v['is_mutable'] else ''}{self.ty(v['type'])}"
        if kind == "raw_pointer":
            return f"*{'mut' if v['is_mutable'] else 'const'} {self.ty(v['type'])}"
        if kind == "tuple":
            return f"({', '.join(self.ty(x) for x in v)}{',' if len(v) == 1 else ''})"
        if kind == "slice":
            return f"[{self.ty(v)}]"
        if kind == "array":
            return f"[{self.ty(v['type'])}; {v['len']}]"
        if kind == "impl_trait":
            return f"impl {self.bounds(v)}"
        if kind == "dyn_trait":
            traits = [f"{self.hrtb(x.get('generic_params'))}{self.path(x['trait'])}" for x in v["traits"]]
            if v.get("lifetime"):
                traits.append(v["lifetime"])
            return f"dyn {' + '.join(traits)}"
        if kind == "qualified_path":
            trait = f" as {self.path(v['trait'])}" if v.get("trait") else ""
            return f"<{self.ty(v['self_type'])}{trait}>::{v['name']}{self.args(v.get('args'))}"
        if kind == "function_pointer":
            sig = v["sig"]
            out = f" -> {self.ty(sig['output'])}" if sig["output"] else ""
            return f"fn({', '.join(self.ty(x[1]) for x in sig['inputs'])}){out}"
        if kind == "infer":
            return "_"
        return kind

    def generics(self, g):
        params = []
        for p in g["params"]:
            k = p["kind"]
            if "lifetime" in k:
                out = k["lifetime"]["outlives"]
                params.append(p["name"] + (f": {' + '.join(out)}" if out else ""))
            elif "type" in k:
                if k["type"].get("is_synthetic"):
                    continue
                bs = k["type"]["bounds"]
                params.append(p["name"] + (f": {self.bounds(bs)}" if bs else ""))
            else:
                params.append(f"const {p['name']}: {self.ty(k['const']['type'])}")
        return f"<{', '.join(params)}>" if params else ""

    def where(self, g):
        preds = []
        for w in g["where_predicates"]:
            if "bound_predicate" in w:
                b = w["bound_predicate"]
                preds.append(f"{self.hrtb(b.get('generic_params'))}{self.ty(b['type'])}: {self.bounds(b['bounds'])}")
            elif "lifetime_predicate" in w:
                lp = w["lifetime_predicate"]
                preds.append(f"{lp['lifetime']}: {' + '.join(lp['outlives'])}")
            else:
                preds.append("..")
        return f" where {', '.join(preds)}" if preds else ""

    def fn(self, name, f):
        h = f["header"]
        quals = "".join(q for q, on in (("const ", h["is_const"]), ("async ", h["is_async"]), ("unsafe ", h["is_unsafe"])) if on)
        ins = []
        for arg, t in f["sig"]["inputs"]:
            ins.append(self.self_arg(t) if arg == "self" else f"{arg}: {self.ty(t)}")
        out = f" -> {self.ty(f['sig']['output'])}" if f["sig"]["output"] else ""
        return f"{quals}fn {name}{self.generics(f['generics'])}({', '.join(ins)}){out}{self.where(f['generics'])}"

    def self_arg(self, t):
        if t == {"generic": "Self"}:
            return "self"
        if "borrowed_ref" in t and t["borrowed_ref"]["type"] == {"generic": "Self"}:
            r = t["borrowed_ref"]
            lt = f"{r['lifetime']} " if r["lifetime"] else ""
            return f"&{lt}{'mut ' if r['is_mutable'] else ''}self"
        return f"self: {self.ty(t)}"

    # Items.
    def attrs(self, item):
        names = [a if isinstance(a, str) else next(iter(a)) for a in item.get("attrs", [])]
        shown = [a for a in names if a in ("non_exhaustive", "must_use")]
        dep = " #[deprecated]" if item.get("deprecation") else ""
        return "".join(f" #[{a}]" for a in shown) + dep

    def emit(self, line):
        self.lines.add(line)

    def item(self, path, id_):
        item = self.index.get(str(id_))
        if item is None:
            return
        key = (path, id_)
        if key in self.seen:
            return
        self.seen.add(key)
        (kind, v), = item["inner"].items()
        attrs = self.attrs(item)
        if kind == "module":
            self.emit(f"pub mod {path}")
            for child in v["items"]:
                self.child(path, child)
        elif kind == "use":
            if v["id"] is not None and str(v["id"]) in self.index and not v["is_glob"]:
                self.item(path, v["id"])
            else:
                glob = "::*" if v["is_glob"] else ""
                self.emit(f"pub use {path} = {v['source']}{glob}")
        elif kind == "struct":
            g = v["generics"]
            self.emit(f"pub struct {path}{self.generics(g)}{self.where(g)}{attrs}")
            sk = v["kind"]
            if isinstance(sk, dict) and "plain" in sk:
                for f in sk["plain"]["fields"]:
                    field = self.index[str(f)]
                    self.emit(f"pub {path}::{field['name']}: {self.ty(field['inner']['struct_field'])}")
            elif isinstance(sk, dict) and "tuple" in sk:
                for n, f in enumerate(sk["tuple"]):
                    if f is not None:
                        self.emit(f"pub {path}::{n}: {self.ty(self.index[str(f)]['inner']['struct_field'])}")
            self.impls(path, v["impls"])
        elif kind == "enum":
            g = v["generics"]
            self.emit(f"pub enum {path}{self.generics(g)}{self.where(g)}{attrs}")
            for var in v["variants"]:
                self.variant(path, self.index[str(var)])
            self.impls(path, v["impls"])
        elif kind == "trait":
            g = v["generics"]
            supers = f": {self.bounds(v['bounds'])}" if v["bounds"] else ""
            unsafe = "unsafe " if v["is_unsafe"] else ""
            self.emit(f"pub {unsafe}trait {path}{self.generics(g)}{supers}{self.where(g)}{attrs}")
            for member in v["items"]:
                self.member(path, self.index[str(member)], "trait")
        elif kind == "function":
            self.emit(f"pub {self.fn(path, v)}{attrs}")
        elif kind == "type_alias":
            g = v["generics"]
            self.emit(f"pub type {path}{self.generics(g)} = {self.ty(v['type'])}{self.where(g)}")
        elif kind == "constant":
            self.emit(f"pub const {path}: {self.ty(v['type'])}")
        elif kind == "static":
            self.emit(f"pub static {path}: {self.ty(v['type'])}")
        elif kind in ("macro", "proc_macro"):
            self.emit(f"pub macro {path}!")
        else:
            self.emit(f"pub {kind} {path}")

    def child(self, path, id_):
        item = self.index.get(str(id_))
        if item is None:
            return
        name = item["name"]
        if "use" in item["inner"]:
            name = item["inner"]["use"]["name"]
        self.item(f"{path}::{name}", id_)

    def variant(self, path, var):
        vk = var["inner"]["variant"]["kind"]
        name = f"{path}::{var['name']}"
        if vk == "plain":
            self.emit(f"pub variant {name}")
        elif "tuple" in vk:
            fields = [self.ty(self.index[str(f)]["inner"]["struct_field"]) if f is not None else "_" for f in vk["tuple"]]
            self.emit(f"pub variant {name}({', '.join(fields)})")
        else:
            self.emit(f"pub variant {name} {{..}}")
            for f in vk["struct"]["fields"]:
                field = self.index[str(f)]
                self.emit(f"pub variant field {name}::{field['name']}: {self.ty(field['inner']['struct_field'])}")

    def member(self, owner, item, where):
        (kind, v), = item["inner"].items()
        if where == "inherent" and item["visibility"] != "public":
            return
        name = f"{owner}::{item['name']}"
        if kind == "function":
            default = " {..}" if where == "trait" and v["has_body"] else ""
            self.emit(f"pub {self.fn(name, v)}{default}{self.attrs(item)}")
        elif kind == "assoc_type":
            bs = f": {self.bounds(v['bounds'])}" if v["bounds"] else ""
            ty = f" = {self.ty(v['type'])}" if v.get("type") else ""
            self.emit(f"pub type {name}{bs}{ty}")
        elif kind == "assoc_const":
            self.emit(f"pub const {name}: {self.ty(v['type'])}")

    def impls(self, path, ids):
        for i in ids:
            impl = self.index[str(i)]["inner"]["impl"]
            if impl["blanket_impl"] is not None:
                continue
            if impl["trait"] is not None and self.name_of(impl["trait"]) in HIDDEN_TRAITS:
                continue
            if impl["trait"] is None:
                for m in impl["items"]:
                    self.member(path, self.index[str(m)], "inherent")
                continue
            neg = "!" if impl["is_negative"] else ""
            g = impl["generics"]
            unsafe = "unsafe " if impl["is_unsafe"] else ""
            self.emit(f"{path}: {unsafe}impl{self.generics(g)} {neg}{self.path(impl['trait'])} for {self.ty(impl['for'])}{self.where(g)}")

    def render(self):
        root = self.index[str(self.doc["root"])]
        for child in root["inner"]["module"]["items"]:
            self.child(root["name"], child)
        return "".join(f"{line}\n" for line in sorted(self.lines))


def main():
    check = "--check" in sys.argv[1:]
    api = ROOT / "api"
    api.mkdir(exist_ok=True)
    changed = False
    for crate, features in CRATES.items():
        text = Render(rustdoc_json(crate, features)).render()
        file = api / f"{crate}.txt"
        old = file.read_text() if file.exists() else ""
        if check:
            if text != old:
                changed = True
                sys.stdout.writelines(difflib.unified_diff(
                    old.splitlines(True), text.splitlines(True), f"api/{crate}.txt (committed)", f"api/{crate}.txt (this tree)"))
        else:
            file.write_text(text)
        print(f"api/{crate}.txt: {text.count(chr(10))} lines{' (differs)' if text != old else ''}", file=sys.stderr)
    if changed:
        sys.exit("the public API differs from api/*.txt: if that is meant, run python3 tools/public_api.py and commit the change")


if __name__ == "__main__":
    main()
