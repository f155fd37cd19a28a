#!/usr/bin/env python3
"""Memory-error checks side by side: time and peak RSS of mpshim's MPSHIM_CHECK=sample,
light and full against tracking alone, valgrind memcheck and the same workload built with
-fsanitize=address: the microbenchmarks of run.py that have an AddressSanitizer build, and
real programs (python3, g++, sqlite3 when installed), which have none.

  bench/memcheck.py [--runs N] [--smoke] [--lib build/preload/libmpshim.so] [--also NAME=LIB]

--also runs tracking and the three modes of another libmpshim.so too (e.g. a build before a
change), in the same interleaved runs, as rows NAME-tracking, NAME-sample, ...
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402


class Workload:
    """`argv(ctx, tmp)` builds the command line; `stdin(ctx, tmp)` the input file (or None);
    `asan`: a build with -fsanitize=address exists (bench-NAME-asan)."""

    def __init__(self, name, about, argv, asan=False, stdin=None):
        self.name, self.about, self.argv, self.asan, self.stdin = name, about, argv, asan, stdin


def micro(*argv):
    return lambda c, tmp: [os.path.join(c.bindir, argv[0])] + list(argv[1:]) + \
        (["--smoke"] if c.smoke else [])


def sqlite_input(c, tmp):
    path = os.path.join(tmp, "sqlite-input.sql")
    if not os.path.exists(path):
        bench.sqlite_script(path, c.smoke)
    return path


WORKLOADS = [
    Workload("churn", "single thread, small objects 8-256 B: window, LIFO, FIFO",
             micro("bench-churn"), asan=True),
    Workload("leaky-work", "4 threads x 1M allocations, each block then read in 12 passes",
             micro("bench-leaky", "--work=12"), asan=True),
    Workload("realloc", "64 buffers grown by appends: exact (strings) and doubling (vectors)",
             micro("bench-realloc"), asan=True),
    Workload("mixed", "sizes 16 B - 2 MiB log-uniform, random frees, every page written",
             micro("bench-mixed"), asan=True),
    Workload("python", "python3 running bench/pyalloc.py (dicts, lists, strings, json)",
             lambda c, tmp: [sys.executable, os.path.join(bench.SRC, "pyalloc.py")] +
             (["--smoke"] if c.smoke else [])),
    Workload("g++", "g++ -O1 compiling bench/compile_input.cc (syntax only with --smoke)",
             lambda c, tmp: ["g++", "-std=c++20", "-O1", "-c",
                             os.path.join(bench.SRC, "compile_input.cc"), "-o",
                             os.path.join(tmp, "compile_input.o")] +
             (["-fsyntax-only"] if c.smoke else [])),
    Workload("sqlite3", "sqlite3 :memory: fed 200,000 inserts into an indexed table, then "
             "queries (2,000 with --smoke)",
             lambda c, tmp: ["sqlite3", ":memory:"], stdin=sqlite_input),
]


def tools(ctx):
    def shim(check, lib=None):
        def wrap(argv, env):
            # MPSHIM_CHILDREN: g++'s cc1plus and as are checked too.
            env.update(LD_PRELOAD=lib or ctx.lib, MPSHIM_LEAKS="1", MPSHIM_REPORT="/dev/null",
                       MPSHIM_CHILDREN="all")
            if check:
                env["MPSHIM_CHECK"] = check
            return argv
        return wrap

    def valgrind(argv, env):
        # g++ runs cc1plus and as: every process is measured, as under the shim.
        return ["valgrind", "--tool=memcheck", "--leak-check=full", "--quiet", "--trace-children=yes",
                "--log-file=/dev/null", "--error-exitcode=0"] + argv

    def asan(argv, env):
        env["ASAN_OPTIONS"] = "detect_leaks=1:exitcode=0:log_path=/dev/null"
        return [argv[0] + "-asan"] + argv[1:]

    out = [("glibc", lambda a, e: a), ("tracking", shim(None)), ("sample", shim("sample")),
           ("light", shim("light")), ("full", shim("full"))]
    for name, lib in ctx.also:
        out += [("%s-%s" % (name, m or "tracking"), shim(m, lib)) for m in (None, "sample", "light", "full")]
    if shutil.which("valgrind"):
        out.append(("valgrind", valgrind))
    out.append(("asan", asan))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--lib", default=os.path.join(bench.ROOT, "build", "preload", "libmpshim.so"))
    ap.add_argument("--bindir")
    ap.add_argument("--no-valgrind", action="store_true")
    ap.add_argument("--no-asan", action="store_true")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=LIB")
    ap.add_argument("--only", help="comma-separated workloads (default: all)")
    ctx = ap.parse_args()
    ctx.also = [(a.split("=", 1)[0], os.path.abspath(a.split("=", 1)[1])) for a in ctx.also]
    ctx.lib = os.path.abspath(ctx.lib)
    ctx.bindir = os.path.abspath(ctx.bindir or os.path.join(os.path.dirname(ctx.lib), "..", "bench"))
    ctx.launcher = os.path.join(ctx.bindir, "bench-launch")
    ts = [t for t in tools(ctx) if not (ctx.no_valgrind and t[0] == "valgrind")
          and not (ctx.no_asan and t[0] == "asan")]
    runs = 1 if ctx.smoke else ctx.runs
    results, failures = {}, []
    only = set(ctx.only.split(",")) if ctx.only else None
    unknown = (only or set()) - {w.name for w in WORKLOADS}
    if unknown:
        ap.error("unknown workload(s): " + ", ".join(sorted(unknown)))
    workloads = [w for w in WORKLOADS if (w.name != "sqlite3" or shutil.which("sqlite3"))
                 and (only is None or w.name in only)]
    with tempfile.TemporaryDirectory(prefix="mpshim-memcheck-") as tmp:
        for r in range(runs):
            for w in workloads:
                name = w.name
                base = w.argv(ctx, tmp)
                stdin = w.stdin(ctx, tmp) if w.stdin else None
                for tool, wrap in ts:
                    if tool == "asan" and not w.asan:
                        continue
                    env = bench.clean_env()
                    cmd = wrap(list(base), env)
                    res = bench.run_child(ctx, cmd, env, tmp, stdin=stdin)
                    if res.code != 0:
                        failures.append(bench.describe_failure("%s under %s" % (name, tool), res))
                        continue
                    results.setdefault((name, tool), []).append(res)
            print("run %d/%d done" % (r + 1, runs), file=sys.stderr, flush=True)
    print("memory-error checks, %d run(s) each, interleaved; medians" % runs)
    for wl in workloads:
        name, about = wl.name, wl.about
        ref = results.get((name, "tracking"))
        ref_c, ref_w, ref_m = bench.medians(ref, "cpu", "wall", "rss") if ref else (None,) * 3
        rows = []
        for tool, _ in ts:
            rs = results.get((name, tool))
            if tool == "asan" and not wl.asan:
                rows.append([tool, "", "", "", "", "", ""])  # no such build of a real program
                continue
            if not rs:
                rows.append([tool, "failed", "", "", "", "", ""])
                continue
            c, w, m = bench.medians(rs, "cpu", "wall", "rss")
            rows.append([tool, bench.fmt(c, 3), bench.fmt(bench.ratio(c, ref_c)), bench.fmt(w, 3),
                         bench.fmt(bench.ratio(w, ref_w)), bench.fmt(m, 1), bench.fmt(bench.ratio(m, ref_m))])
        t = bench.Table("%s: %s" % (name, about),
                        ["tool", "cpu s", "x tracking", "wall s", "x tracking", "peak RSS MiB",
                         "x tracking"], rows)
        vg, full = results.get((name, "valgrind")), results.get((name, "full"))
        if vg and full:
            (vg_c, vg_w), (full_c, full_w) = bench.medians(vg, "cpu", "wall"), bench.medians(full, "cpu", "wall")
            t.notes.append("full takes %s x less CPU time than valgrind, %s x less wall time"
                           % (bench.fmt(bench.ratio(vg_c, full_c)), bench.fmt(bench.ratio(vg_w, full_w))))
        print()
        print(t.text())
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
