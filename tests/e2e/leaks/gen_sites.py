#!/usr/bin/env python3
"""Writes a C file with N distinct never-inlined leak sites site_00000 .. site_<N-1> and a
table of them (used by many.c)."""
import sys

out, count = sys.argv[1], int(sys.argv[2])
with open(out, "w") as f:
    f.write('#include <stdlib.h>\n#include "leakprog.h"\n#include "many.h"\n\n')
    for i in range(count):
        f.write(f"LEAK_FN void site_{i:05d}(void) {{ keep_alloc(malloc(SITE_BYTES({i}))); }}\n")
    f.write("\nvoid (*const leak_sites[])(void) = {\n")
    for i in range(count):
        f.write(f"  site_{i:05d},\n")
    f.write("};\n")
