#!/usr/bin/env python3
"""Runs the parity programs under mpshim, valgrind (memcheck) and LeakSanitizer and prints
their leak figures side by side, then every allocation site (first frame in the program's
own source, file:line) whose class, bytes, blocks or program frames differ between the
tools.

  compare.py BUILD [NAME...] [--opt O0,O2] [--tools mpshim,valgrind,lsan] [--stacks N]
             [--system-debug]

BUILD is the meson build directory; NAME defaults to every program of this folder.
LeakSanitizer runs as LD_PRELOAD=$(gcc -print-file-name=liblsan.so.0) with full stacks.
--stacks N prints N frames of each site per tool; --system-debug runs mpshim with
MPSHIM_SYSTEM_DEBUG=1."""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = ["hashtable", "ring", "strings", "tree", "owners", "shared_cycle", "pool",
            "blocked", "growth", "intrusive", "global_overwrite", "libc_leaks", "libc_quiet",
            "forker", "thread_exit", "matrix", "hundredk", "main_locals", "statics",
            "lib_statics"]
SOURCES = {os.path.basename(p) for p in glob.glob(os.path.join(HERE, "*.c*"))}
SOURCES.add("leakprog.h")


class Result:
    """One process's figures: totals per class and (class, site) -> [bytes, blocks]."""

    def __init__(self):
        self.totals = defaultdict(lambda: [0, 0])
        self.sites = defaultdict(lambda: [0, 0])
        self.stacks = defaultdict(list)  # (class, site) -> frames of each group

    def add(self, cls, site, nbytes, blocks, frames=()):
        self.stacks[(cls, site)].append([f for f in frames if not allocator_frame(f)])
        self.totals[cls][0] += nbytes
        self.totals[cls][1] += blocks
        self.sites[(cls, site)][0] += nbytes
        self.sites[(cls, site)][1] += blocks


def allocator_frame(frame):
    """The allocation function itself, as valgrind and LeakSanitizer show it."""
    fn, path, _ = frame
    return bool(path and ("vg_replace_malloc" in path or "lsan_interceptors" in path))


def frame_text(frame):
    fn, path, line = frame
    return f"{fn or '??'}" + (f" {os.path.basename(path)}:{line}" if path else "")


def own_site(frames):
    """First frame (function, file, line) in this folder's sources, as 'file:line'."""
    for fn, path, line in frames:
        if path and os.path.basename(path) in SOURCES:
            return f"{os.path.basename(path)}:{line}"
    return "(no own frame) " + " < ".join((f[0] or "??") for f in frames[:3])


def run(cmd, env, cwd):
    full = dict(os.environ)
    for k in list(full):
        if k.startswith(("MPSHIM_", "LSAN_", "ASAN_")) or k == "LD_PRELOAD":
            del full[k]
    full.update(env)
    p = subprocess.run(cmd, env=full, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=600)
    return p.returncode


def run_mpshim(exe, shim, tmp, extra_env=None):
    env = {"LD_PRELOAD": shim, "MPSHIM_REPORT_FORMAT": "json",
           "MPSHIM_REPORT": os.path.join(tmp, "m.%p.json"), "MPSHIM_REPORT_REACHABLE": "1"}
    env.update(extra_env or {})
    rc = run([exe], env, tmp)
    out = {}
    for path in glob.glob(os.path.join(tmp, "m.*.json")):
        doc = json.load(open(path))
        r = Result()
        for g in doc["leaks"]:
            frames = [(f["function"], f["file"], f["line"]) for f in g["stack"]]
            cls = {"direct": "direct", "indirect": "indirect"}.get(g["class"], "reachable")
            r.add(cls, own_site(frames), g["bytes"], g["count"], frames)
        out[doc["pid"]] = r
    return rc, out


VG_KINDS = {"Leak_DefinitelyLost": "direct", "Leak_IndirectlyLost": "indirect",
            "Leak_PossiblyLost": "possibly", "Leak_StillReachable": "reachable"}


def run_valgrind(exe, tmp):
    cmd = ["valgrind", "--leak-check=full", "--show-leak-kinds=all", "--num-callers=30",
           "--xml=yes", "--xml-file=" + os.path.join(tmp, "v.%p.xml"), exe]
    rc = run(cmd, {}, tmp)
    out = {}
    for path in glob.glob(os.path.join(tmp, "v.*.xml")):
        root = ET.parse(path).getroot()
        r = Result()
        for e in root.iter("error"):
            cls = VG_KINDS.get(e.findtext("kind"))
            if cls is None:
                continue
            nbytes = int(e.find("xwhat/leakedbytes").text)
            # A definitely lost record's bytes include those of its indirect blocks.
            split = re.search(r"\(([\d,]+) direct, [\d,]+ indirect\)", e.findtext("xwhat/text"))
            if split:
                nbytes = int(split.group(1).replace(",", ""))
            blocks = int(e.find("xwhat/leakedblocks").text)
            frames = [(f.findtext("fn"), f.findtext("file"), f.findtext("line"))
                      for f in e.find("stack").iter("frame")]
            r.add(cls, own_site(frames), nbytes, blocks, frames)
        out[int(root.findtext("pid"))] = r
    return rc, out


LSAN_HEAD = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\)")
# "#1 0x55e1 in make_matrix(unsigned long) ../matrix.cc:41", "... in _start (module+0x10d0)"
# or, unnamed, "#2 0x7f12 (/lib/x86_64-linux-gnu/libstdc++.so.6+0xd44a3)"
LSAN_FRAME = re.compile(r"^\s+#\d+ 0x[0-9a-f]+ (?:in (.+?))?(?: ?(\S+):(\d+)(?::\d+)?| ?\(\S+\))?$")


def run_lsan(exe, tmp):
    lib = subprocess.run(["gcc", "-print-file-name=liblsan.so.0"], stdout=subprocess.PIPE,
                         text=True).stdout.strip()
    env = {"LD_PRELOAD": lib,
           "LSAN_OPTIONS": "fast_unwind_on_malloc=0:malloc_context_size=30:exitcode=0:"
                           "log_path=" + os.path.join(tmp, "l")}
    rc = run([exe], env, tmp)
    out = {}
    for path in glob.glob(os.path.join(tmp, "l.*")):
        r = Result()
        cur = None
        for line in open(path, errors="replace"):
            m = LSAN_HEAD.match(line)
            if m:
                cur = [m.group(1).lower(), int(m.group(2)), int(m.group(3)), []]
                continue
            f = LSAN_FRAME.match(line.rstrip("\n"))
            if cur and f:
                cur[3].append((f.group(1), f.group(2), f.group(3)))
            elif cur and not line.strip():
                r.add(cur[0], own_site(cur[3]), cur[1], cur[2], cur[3])
                cur = None
        if cur:
            r.add(cur[0], own_site(cur[3]), cur[1], cur[2], cur[3])
        out[int(path.rsplit(".", 1)[1])] = r
    return rc, out


def fmt(t):
    return f"{t[0]:,} / {t[1]:,}" if t[1] else "0"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("names", nargs="*")
    ap.add_argument("--opt", default="O0,O2")
    ap.add_argument("--tools", default="mpshim,valgrind,lsan")
    ap.add_argument("--stacks", type=int, default=0, help="also print N frames of each site")
    ap.add_argument("--system-debug", action="store_true",
                    help="MPSHIM_SYSTEM_DEBUG=1: libc frames with file:line and inlined calls")
    a = ap.parse_args()
    bindir = os.path.join(a.build, "tests/e2e/parity")
    shim = os.path.abspath(os.path.join(a.build, "preload/libmpshim.so"))
    tools = a.tools.split(",")
    print("| program | tool | exit | direct B / blocks | indirect | possibly lost | reachable |")
    print("|---|---|---|---|---|---|---|")
    diffs = []
    for name in a.names or PROGRAMS:
        for opt in a.opt.split(","):
            exe = os.path.abspath(os.path.join(bindir, f"leak_{name}_{opt}"))
            results = {}
            for tool in tools:
                with tempfile.TemporaryDirectory() as tmp:
                    if tool == "mpshim":
                        rc, res = run_mpshim(exe, shim, tmp, {"MPSHIM_SYSTEM_DEBUG": "1"}
                                             if a.system_debug else None)
                    elif tool == "valgrind":
                        rc, res = run_valgrind(exe, tmp)
                    else:
                        rc, res = run_lsan(exe, tmp)
                results[tool] = res
                # Processes with the most leaked bytes first (fork gives several).
                for pid, r in sorted(res.items(), key=lambda kv: -kv[1].totals["direct"][0]):
                    reach = "-" if tool == "lsan" else fmt(r.totals["reachable"])
                    poss = fmt(r.totals["possibly"]) if tool == "valgrind" else "-"
                    label = f"{name} {opt}" + (f" (pid {pid})" if len(res) > 1 else "")
                    print(f"| {label} | {tool} | {rc} | {fmt(r.totals['direct'])} | "
                          f"{fmt(r.totals['indirect'])} | {poss} | {reach} |")
                if not res:
                    print(f"| {name} {opt} | {tool} | {rc} | no report | | | |")
            # Sites compared on the leaked classes, summed over processes.
            merged = {}
            for tool, res in results.items():
                sites = defaultdict(lambda: [0, 0])
                for r in res.values():
                    for (cls, site), v in r.sites.items():
                        if cls in ("direct", "indirect"):
                            sites[(cls, site)][0] += v[0]
                            sites[(cls, site)][1] += v[1]
                merged[tool] = sites
            keys = sorted(set().union(*(s.keys() for s in merged.values())))
            for k in keys if a.stacks else []:
                print(f"  {name} {opt} {k[0]} {k[1]}")
                for tool, res in results.items():
                    st = next((r.stacks[k][0] for r in res.values() if k in r.stacks), None)
                    if st is not None:
                        print(f"    {tool:8} " + " < ".join(frame_text(f) for f in st[:a.stacks]))
            for k in keys:
                # The program's own frames (file:line, innermost 4) of every group of the
                # site, as a set per tool.
                own = {}
                for tool, res in results.items():
                    stacks = [st for r in res.values() for st in r.stacks.get(k, [])]
                    if stacks:
                        own[tool] = sorted({tuple(f"{os.path.basename(p)}:{ln}" for _, p, ln in st
                                                  if p and os.path.basename(p) in SOURCES)[:4]
                                            for st in stacks})
                for tool, frames in own.items():
                    if "mpshim" in own and tool != "mpshim" and frames != own["mpshim"]:
                        diffs.append(f"{name} {opt} {k[0]:8} {k[1]}: own frames mpshim "
                                     f"{own['mpshim']}, {tool} {frames}")
                vals = {t: tuple(merged[t].get(k, (0, 0))) for t in merged}
                if len(set(vals.values())) > 1:
                    diffs.append(f"{name} {opt} {k[0]:8} {k[1]}: " +
                                 ", ".join(f"{t} {fmt(v)}" for t, v in vals.items()))
    print("\nSites that differ (class, first own frame: bytes / blocks per tool):")
    for d in diffs:
        print("  " + d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
