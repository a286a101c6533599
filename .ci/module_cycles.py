"""Fails if two modules of src/ depend on each other, directly or through others.

A module depends on another when it names it in a `use` or in a `crate::` / `super::` path
outside comments (an item re-exported by a parent counts as its defining child). A parent and
its own children are not counted: that is how Rust modules are declared.
Run from the repository root: python3 .ci/module_cycles.py [SRC_DIR] (default: src).
"""
import os,re,sys
root=sys.argv[1].rstrip("/") if len(sys.argv)>1 else "src"; mods={}
for dp,dn,fn in os.walk(root):
    for f in fn:
        if f.endswith(".rs"):
            p=os.path.join(dp,f); rel=p[len(root)+1:-3].split("/")
            if rel[-1] in("mod","lib"): rel=rel[:-1]
            mods["::".join(rel)]=p
def text(p): return "\n".join(l for l in open(p).read().splitlines() if not l.strip().startswith("//"))
reexp={}
for m,p in mods.items():
    for g in re.finditer(r"pub(?:\(crate\)|\(super\))?\s+use\s+(?:self::)?(\w+)::(\{[^}]*\}|\w+)", text(p)):
        child=(m+"::" if m else "")+g.group(1)
        if child in mods:
            for n in re.findall(r"\w+", g.group(2)): reexp[(m,n)]=child
def resolve(cur,segs):
    if segs[0]=="crate": base=[]; segs=segs[1:]
    elif segs[0]=="super":
        base=cur.split("::")[:-1]; segs=segs[1:]
        while segs and segs[0]=="super": base=base[:-1]; segs=segs[1:]
    elif segs[0]=="self": base=cur.split("::") if cur else []; segs=segs[1:]
    else: return None
    for i in range(len(segs),-1,-1):
        m="::".join(base+segs[:i])
        if m in mods: return m, segs[i:]
    return None
edges=set()
def add(m,segs):
    r=resolve(m,segs)
    if not r: return
    t,rest=r
    if rest and (t,rest[0]) in reexp: t=reexp[(t,rest[0])]
    if t!=m and t and not m.startswith(t+"::") and not t.startswith(m+"::"): edges.add((m,t))
for m,p in mods.items():
    s=text(p)
    for u in re.finditer(r"\buse\s+((?:crate|super|self)(?:::\w+)*)(?:::\{([^;]*?)\})?\s*;", s, re.S):
        base=u.group(1).split("::")
        if u.group(2):
            for it in re.split(r",", u.group(2)):
                it=re.sub(r"\s+as\s+\w+","",it).strip().replace("{","").replace("}","")
                add(m, base+([] if not it or it=="self" else it.split("::")))
        else: add(m, base)
    for u in re.finditer(r"\b((?:crate|super)(?:::\w+)+)", s): add(m,u.group(1).split("::"))
adj={}
for a,b in edges: adj.setdefault(a,set()).add(b)
sys.setrecursionlimit(10000)
index={};low={};st=[];on=set();sccs=[];c=[0]
def sc(v):
    index[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
    for w in adj.get(v,()):
        if w not in index: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v: break
        if len(comp)>1: sccs.append(sorted(comp))
for n in sorted(mods):
    if n not in index: sc(n)
for comp in sccs:
    print("SCC:",comp)
    for a in comp:
        for b in sorted(adj.get(a,())):
            if b in comp: print("   ",a,"->",b)
print(root+":",len(edges),"edges,",len(sccs),"cycles")
sys.exit(1 if sccs else 0)
