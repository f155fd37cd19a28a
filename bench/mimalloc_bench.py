#!/usr/bin/env python3
"""mimalloc-bench's programs under glibc, jemalloc, mimalloc, tcmalloc and mpshim.

mimalloc-bench (github.com/daanx/mimalloc-bench) is the suite allocator authors compare on.
This runs its self-contained benchmarks from a checkout the user built (docs/benchmarks.md
gives the commands) with the same command lines as its bench.sh, every allocator preloaded in
turn and interleaved (run 1 of each allocator, then run 2, ...), mpshim with tracking off
(and, with --tracking, also in its default mode: leak tracking on, the report to a file;
with --modes, also with a profile or a memory check on top of tracking).
Per benchmark: the median time (the program's own figure where bench.sh uses one: larson,
rptest, xmalloc-test and glibc-thread run for a fixed time and report a rate) and peak RSS,
both as ratios to glibc; then the geometric means; with --modes, each mode's time and peak
RSS as ratios to tracking alone. Without a checkout it says so and exits 77
(a skipped test).
"""
import argparse
import math
import os
import re
import sys
import tempfile

import run as bench

SKIP = 77


def rate(pattern, scale):
    """A parser turning the program's reported rate into a relative time (as bench.sh does)."""
    def parse(out):
        m = re.search(pattern, out)
        return scale / float(m[1]) if m and float(m[1]) > 0 else None
    return parse


def reported(pattern):
    def parse(out):
        m = re.search(pattern, out)
        return float(m[1]) if m else None
    return parse


LARSON = reported(r"relative time: ([\d.]+)s")


class Bench:
    """A benchmark: its argv (bench.sh's, {P} for the thread count), a shorter one for
    --smoke, and how to read its time (None: wall time)."""

    def __init__(self, name, argv, smoke, parse=None, stdin=None):
        self.name, self.argv, self.smoke, self.parse, self.stdin = name, argv, smoke, parse, stdin


BENCHES = [
    Bench("cfrac", "cfrac 17545186520507317056371138836327483792789528",
          "cfrac 175451865205073170563711388363"),
    Bench("espresso", "espresso {B}/espresso/largest.espresso",
          "espresso {B}/espresso/largest.espresso"),
    Bench("barnes", "barnes", "barnes", stdin="barnes/input"),
    Bench("larsonN", "larson 5 8 1000 5000 100 4141 {P}", "larson 1 8 1000 500 10 4141 {P}",
          LARSON),
    Bench("larsonN-sized", "larson-sized 5 8 1000 5000 100 4141 {P}",
          "larson-sized 1 8 1000 500 10 4141 {P}", LARSON),
    Bench("mstressN", "mstress {P} 50 25", "mstress {P} 5 5"),
    Bench("rptestN", "rptest {P} 0 1 2 500 1000 100 8 16000", "rptest {P} 0 1 2 20 100 100 8 16000",
          rate(r"(\d+) memory ops", 2e6)),
    Bench("alloc-test1", "alloc-test 1", "alloc-test 1"),
    Bench("alloc-testN", "alloc-test {P}", "alloc-test {P}"),
    Bench("xmalloc-testN", "xmalloc-test -w {P} -t 5 -s 64", "xmalloc-test -w {P} -t 0.2 -s 64",
          reported(r"rtime: ([\d.]+)")),
    Bench("cache-scratch1", "cache-scratch 1 1000 1 2000000 {P}", "cache-scratch 1 100 1 20000 {P}"),
    Bench("cache-scratchN", "cache-scratch {P} 1000 1 2000000 {P}",
          "cache-scratch {P} 100 1 20000 {P}"),
    Bench("cache-thrash1", "cache-thrash 1 1000 1 2000000 {P}", "cache-thrash 1 100 1 20000 {P}"),
    Bench("cache-thrashN", "cache-thrash {P} 1000 1 2000000 {P}",
          "cache-thrash {P} 100 1 20000 {P}"),
    Bench("glibc-simple", "glibc-simple", "glibc-simple"),
    Bench("glibc-thread", "glibc-thread {P}", "glibc-thread {P}",
          rate(r"(\d+) iterations", 1e9)),
    Bench("malloc-large", "malloc-large", "malloc-large"),
    Bench("mleak10", "mleak 5", "mleak 1"),
    Bench("mleak100", "mleak 50", "mleak 1"),
]

# Shorter than the smoke arguments are not possible for these: left out of --smoke.
SLOW_IN_SMOKE = {"espresso", "barnes", "alloc-test1", "alloc-testN", "glibc-simple", "glibc-thread", "malloc-large"}


# Modes measured against tracking alone: the settings each adds to the default mode. The
# checks report and go on (cache-scratch frees a new[] block with delete).
MODES = {
    "profile": {"MPSHIM_PROFILE": "{T}/profile.json"},
    "sample": {"MPSHIM_CHECK": "sample", "MPSHIM_ON_ERROR": "report"},
    "light": {"MPSHIM_CHECK": "light", "MPSHIM_ON_ERROR": "report"},
    "full": {"MPSHIM_CHECK": "full", "MPSHIM_ON_ERROR": "report"},
}


def find_bin(root):
    """The folder holding the built programs: out/bench of the checkout, or root itself."""
    for d in (os.path.join(root, "out", "bench"), root):
        if os.path.exists(os.path.join(d, "cfrac")):
            return d
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", nargs="?", default=os.environ.get("MIMALLOC_BENCH"),
                    help="mimalloc-bench checkout with its benchmarks built in out/bench "
                    "(default: $MIMALLOC_BENCH)")
    ap.add_argument("--runs", type=int, help="runs per benchmark and allocator (default 5, 1 "
                    "with --smoke)")
    ap.add_argument("--procs", type=int, default=os.cpu_count(),
                    help="threads of the N benchmarks (default: the CPU count, as bench.sh)")
    ap.add_argument("--only", help="comma-separated benchmarks (default: all built ones)")
    ap.add_argument("--allocators", help="comma-separated subset of glibc,jemalloc,mimalloc,"
                    "tcmalloc,mpshim (default: all; glibc always runs, as the reference)")
    ap.add_argument("--smoke", action="store_true",
                    help="short arguments, 1 run, glibc and mpshim unless --allocators")
    ap.add_argument("--lib", default=os.path.join("build", "preload", "libmpshim.so"),
                    help="libmpshim.so to measure (default build/preload/libmpshim.so)")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=LIB",
                    help="another libmpshim.so to run beside --lib (e.g. a build before a "
                    "change), tracking off too; may be repeated")
    ap.add_argument("--tracking", action="store_true",
                    help="also run mpshim in its default mode (leak tracking on), as a user "
                    "who preloads it without settings does")
    ap.add_argument("--modes", help="comma-separated subset of %s: also run mpshim with "
                    "tracking and each of these on (implies --tracking), and compare them "
                    "with tracking alone" % ",".join(MODES))
    ap.add_argument("--bindir", help="folder of bench-launch (default: ../bench next to --lib)")
    ap.add_argument("--out", help="also write the tables to this .md file")
    ctx = ap.parse_args()
    if not ctx.checkout or not find_bin(ctx.checkout):
        print("mimalloc_bench.py: no built mimalloc-bench checkout given (argument or "
              "$MIMALLOC_BENCH; see docs/benchmarks.md): skipped")
        return SKIP
    bindir = find_bin(ctx.checkout)
    src = os.path.join(os.path.dirname(os.path.abspath(bindir.rstrip("/"))), "..", "bench")
    src = os.path.abspath(src if os.path.isdir(src) else os.path.join(ctx.checkout, "bench"))
    ctx.runs = ctx.runs or (1 if ctx.smoke else 5)
    lib = ctx.lib if os.path.exists(ctx.lib) else os.path.join(bench.ROOT, ctx.lib)
    if not os.path.exists(lib):
        sys.exit("mimalloc_bench.py: %s not found (build it first, or pass --lib)" % ctx.lib)
    ctx.lib = os.path.abspath(lib)
    ctx.bindir = os.path.abspath(ctx.bindir or os.path.join(os.path.dirname(ctx.lib), "..", "bench"))
    ctx.launcher = os.path.join(ctx.bindir, "bench-launch")
    if not os.path.exists(ctx.launcher):
        sys.exit("mimalloc_bench.py: bench-launch not found in %s (pass --bindir)" % ctx.bindir)

    wanted = set(ctx.allocators.split(",")) if ctx.allocators else None
    allocators, notes = [("glibc", None)], []
    for name, path in bench.OTHER_ALLOCATORS:
        if (wanted and name not in wanted) or (ctx.smoke and not wanted):
            continue
        if os.path.exists(path):
            allocators.append((name, path))
        else:
            notes.append("%s skipped: %s not installed" % (name, path))
    if not wanted or "mpshim" in wanted:
        allocators.append(("mpshim", ctx.lib))
    modes = ctx.modes.split(",") if ctx.modes else []
    unknown = set(modes) - set(MODES)
    if unknown:
        sys.exit("mimalloc_bench.py: unknown mode(s): " + ", ".join(sorted(unknown)))
    tracked = {"mpshim tracking": {}} if ctx.tracking or modes else {}
    tracked.update(("mpshim " + m, MODES[m]) for m in modes)
    allocators += [(name, ctx.lib) for name in tracked]
    for extra in ctx.also:
        name, _, path = extra.partition("=")
        allocators.append((name, os.path.abspath(path)))
    only = set(ctx.only.split(",")) if ctx.only else None
    unknown = (only or set()) - {b.name for b in BENCHES}
    if unknown:
        sys.exit("mimalloc_bench.py: unknown benchmark(s): " + ", ".join(sorted(unknown)))
    benches = []
    for b in BENCHES:
        if (only and b.name not in only) or (ctx.smoke and not only and b.name in SLOW_IN_SMOKE):
            continue
        if not os.path.exists(os.path.join(bindir, b.argv.split()[0])):
            notes.append("%s skipped: not built" % b.name)
            continue
        benches.append(b)

    results = {(b.name, a): [] for b in benches for a, _ in allocators}
    failures = []
    with tempfile.TemporaryDirectory(prefix="mpshim-mibench-") as tmp:
        ctx.tmp = tmp
        for run in range(ctx.runs):
            order = allocators[run % len(allocators):] + allocators[:run % len(allocators)]
            for b in benches:
                words = (b.smoke if ctx.smoke else b.argv).replace("{P}", str(ctx.procs)) \
                    .replace("{B}", src).split()
                argv = [os.path.join(bindir, words[0])] + words[1:]
                for name, path in order:
                    env = bench.clean_env()
                    if path:
                        env["LD_PRELOAD"] = path
                    if name in tracked:
                        env["MPSHIM_REPORT"] = os.path.join(tmp, "leaks.txt")
                        env.update((k, v.replace("{T}", tmp)) for k, v in tracked[name].items())
                    elif path and (path == ctx.lib or name not in dict(bench.OTHER_ALLOCATORS)):
                        env["MPSHIM_LEAKS"] = "0"
                    stdin = os.path.join(src, b.stdin) if b.stdin else None
                    # rptest writes a file into its working folder.
                    res = bench.run_child(ctx, argv, env, tmp, stdin=stdin, cwd=tmp)
                    t = b.parse(res.out) if b.parse and res.code == 0 else res.wall
                    if res.code != 0 or t is None:
                        label = "%s under %s (run %d)" % (b.name, name, run + 1)
                        failures.append(bench.describe_failure(label, res) if res.code != 0
                                        else "FAILED %s: no time in its output" % label)
                        print(failures[-1], file=sys.stderr)
                        continue
                    res.time = t
                    results[(b.name, name)].append(res)
            print("run %d/%d done" % (run + 1, ctx.runs), file=sys.stderr, flush=True)

    names = [a for a, _ in allocators]
    time_rows, rss_rows = [], []
    ratios = {a: {"time": [], "rss": []} for a in names}
    slower = []
    for b in benches:
        base_t, base_m = bench.medians(results[(b.name, "glibc")], "time", "rss")
        trow, mrow = [b.name, bench.fmt(base_t, 3)], [b.name, bench.fmt(base_m, 1)]
        for a in names[1:]:
            rs = results[(b.name, a)]
            t, m = bench.medians(rs, "time", "rss")
            tr, mr = bench.ratio(t, base_t), bench.ratio(m, base_m)
            if len(rs) == ctx.runs and len(results[(b.name, "glibc")]) == ctx.runs:
                ratios[a]["time"].append(tr)
                ratios[a]["rss"].append(mr)
            if a == "mpshim" and tr and tr > 1.0:
                slower.append(b.name)
            trow.append(bench.fmt(tr))
            mrow.append(bench.fmt(mr))
        time_rows.append(trow)
        rss_rows.append(mrow)
    means = {a: (bench.geomean(ratios[a]["time"]), bench.geomean(ratios[a]["rss"])) for a in names}
    time_rows.append(["geometric mean", "1.00"] + [bench.fmt(means[a][0]) for a in names[1:]])
    rss_rows.append(["geometric mean", "1.00"] + [bench.fmt(means[a][1]) for a in names[1:]])
    if "mpshim" in means and "mimalloc" in means and means["mimalloc"][0]:
        notes.append("mpshim / mimalloc: time %s, peak RSS %s" % (
            bench.fmt(bench.ratio(means["mpshim"][0], means["mimalloc"][0])),
            bench.fmt(bench.ratio(means["mpshim"][1], means["mimalloc"][1]))))
    if "mpshim" in means:
        notes.append("mpshim slower than glibc on: " + (", ".join(slower) or "none"))
    others = ["x glibc " + a for a in names[1:]]
    tables = [
        bench.Table("time (glibc: seconds, or bench.sh's relative time for the rate benchmarks)",
                    ["benchmark", "glibc"] + others, time_rows),
        bench.Table("peak RSS (glibc: MiB)", ["benchmark", "glibc"] + others, rss_rows, notes)]
    header = ("mimalloc-bench, %d thread(s) for the N benchmarks, %d run(s) each, interleaved; "
              "medians" % (ctx.procs, ctx.runs))
    if modes:
        tables.append(against_tracking(benches, results, ["mpshim " + m for m in modes], ctx.runs))
    bench.print_results(header, tables, failures)
    if ctx.out:
        with open(ctx.out, "w") as f:
            f.write("## " + header + "\n\n" + "\n\n".join(t.markdown() for t in tables) + "\n")
    return 1 if failures else 0


def against_tracking(benches, results, names, runs):
    """Time and peak RSS of each mode as ratios to tracking alone, per benchmark and as
    geometric means."""
    rows, means = [], {a: ([], []) for a in names}
    for b in benches:
        base = results[(b.name, "mpshim tracking")]
        base_t, base_m = bench.medians(base, "time", "rss")
        row = [b.name]
        for a in names:
            t, m = bench.medians(results[(b.name, a)], "time", "rss")
            tr, mr = bench.ratio(t, base_t), bench.ratio(m, base_m)
            if len(results[(b.name, a)]) == runs and len(base) == runs:
                means[a][0].append(tr)
                means[a][1].append(mr)
            row += [bench.fmt(tr), bench.fmt(mr)]
        rows.append(row)
    rows.append(["geometric mean"] + [bench.fmt(bench.geomean(v)) for a in names for v in means[a]])
    header = ["benchmark"] + [c % a.split()[1] for a in names for c in ("%s time", "%s RSS")]
    return bench.Table("against mpshim tracking alone (time, peak RSS)", header, rows)


if __name__ == "__main__":
    sys.exit(main())
