#!/usr/bin/env python3
"""Memory-error checks side by side: time and peak RSS of mpshim's MPSHIM_CHECK=sample,
light and full against tracking alone, valgrind memcheck and the same workload built with
-fsanitize=address, on the workloads of run.py that have an AddressSanitizer build.

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

WORKLOADS = [
    ("churn", "single thread, small objects 8-256 B: window, LIFO, FIFO", ["bench-churn"]),
    ("leaky-work", "4 threads x 1M allocations, each block then read in 12 passes",
     ["bench-leaky", "--work=12"]),
]


def tools(ctx):
    def shim(check, lib=None):
        def wrap(argv, env):
            env.update(LD_PRELOAD=lib or ctx.lib, MPSHIM_LEAKS="1", MPSHIM_REPORT="/dev/null")
            if check:
                env["MPSHIM_CHECK"] = check
            return argv
        return wrap

    def valgrind(argv, env):
        return ["valgrind", "--tool=memcheck", "--leak-check=full", "--quiet",
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
    ctx = ap.parse_args()
    ctx.also = [(a.split("=", 1)[0], os.path.abspath(a.split("=", 1)[1])) for a in ctx.also]
    ctx.lib = os.path.abspath(ctx.lib)
    ctx.bindir = os.path.abspath(ctx.bindir or os.path.join(os.path.dirname(ctx.lib), "..", "bench"))
    ctx.launcher = os.path.join(ctx.bindir, "bench-launch")
    ts = [t for t in tools(ctx) if not (ctx.no_valgrind and t[0] == "valgrind")
          and not (ctx.no_asan and t[0] == "asan")]
    runs = 1 if ctx.smoke else ctx.runs
    results, failures = {}, []
    with tempfile.TemporaryDirectory(prefix="mpshim-memcheck-") as tmp:
        for r in range(runs):
            for name, about, argv in WORKLOADS:
                base = [os.path.join(ctx.bindir, argv[0])] + argv[1:] + (["--smoke"] if ctx.smoke else [])
                for tool, wrap in ts:
                    env = bench.clean_env()
                    cmd = wrap(list(base), env)
                    res = bench.run_child(ctx, cmd, env, tmp)
                    if res.code != 0:
                        failures.append(bench.describe_failure("%s under %s" % (name, tool), res))
                        continue
                    results.setdefault((name, tool), []).append(res)
            print("run %d/%d done" % (r + 1, runs), file=sys.stderr, flush=True)
    print("memory-error checks, %d run(s) each, interleaved; medians" % runs)
    for name, about, _ in WORKLOADS:
        ref = results.get((name, "tracking"))
        ref_c, ref_w, ref_m = bench.medians(ref, "cpu", "wall", "rss") if ref else (None,) * 3
        rows = []
        for tool, _ in ts:
            rs = results.get((name, tool))
            if not rs:
                rows.append([tool, "failed", "", "", "", "", ""])
                continue
            c, w, m = bench.medians(rs, "cpu", "wall", "rss")
            rows.append([tool, bench.fmt(c, 3), bench.fmt(bench.ratio(c, ref_c)), bench.fmt(w, 3),
                         bench.fmt(bench.ratio(w, ref_w)), bench.fmt(m, 1), bench.fmt(bench.ratio(m, ref_m))])
        t = bench.Table("%s: %s" % (name, about),
                        ["tool", "cpu s", "x tracking", "wall s", "x tracking", "peak RSS MiB",
                         "x tracking"], rows)
        print()
        print(t.text())
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
