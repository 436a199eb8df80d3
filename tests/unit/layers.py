#!/usr/bin/env python3
"""layers.py - no circle between the files of libvdispatch.

Reads the library's static archive (.libs/libvdispatch.a in the build
directory, where make check runs it: its members are exactly the
library's objects) with nm: a file that uses a vd_ symbol another file defines
depends on that file. The dependencies must form no circle, so that each
file can be read, and tested, with only the files under it. Prints the
dependencies, and the circles found."""

import os
import re
import subprocess
import sys

ARCHIVE = ".libs/libvdispatch.a"
if not os.path.exists(ARCHIVE):
    print("no %s (build the library first)" % ARCHIVE)
    sys.exit(99)
out = subprocess.run(["nm", "-A", ARCHIVE], capture_output=True, text=True,
                     check=True).stdout
defined, used = {}, {}
for line in out.splitlines():
    # ARCHIVE:libvdispatch_la-NAME.o:[ADDRESS] TYPE SYMBOL
    where, _, rest = line.rpartition(".o:")
    name = re.sub(r".*libvdispatch_la-", "", where) + ".c"
    f = rest.split()
    if len(f) == 3 and f[1] in "TDBR" and f[2].startswith("vd_"):
        defined[f[2]] = name
    elif len(f) == 2 and f[0] == "U" and f[1].startswith("vd_"):
        used.setdefault(name, set()).add(f[1])
deps = {f: sorted({defined[s] for s in syms if s in defined} - {f})
        for f, syms in used.items()}
for f in sorted(deps):
    print("%s -> %s" % (f, " ".join(deps[f])))

circles, state = [], {}


def visit(f, path):
    state[f] = "open"
    for g in deps.get(f, []):
        if state.get(g) == "open":
            circles.append(path[path.index(g):] + [g])
        elif g not in state:
            visit(g, path + [g])
    state[f] = "done"


for f in sorted(deps):
    if f not in state:
        visit(f, [f])
for c in circles:
    print("circle: " + " -> ".join(c))
sys.exit(1 if circles else 0)
