#!/usr/bin/env python3
"""Device-memory benchmark: bench-cuda's workloads on the fake CUDA driver, with and without mpshim.

Every workload runs under four configurations, interleaved (run 1 of each, then run 2, ...,
the order rotated each run): the driver alone, mpshim with MPSHIM_STACK_DEPTH=0, mpshim with
default tracking, and mpshim with MPSHIM_CUDA=track (no cache). The driver gets a realistic
latency (FAKECUDA_ALLOC_LATENCY_US, FAKECUDA_FREE_LATENCY_US; its cuMemFree also synchronises
the device). Prints per workload the median ns per alloc+free pair, driver calls, peak
allocated and peak reserved, then the targets (pass/fail, not asserted) and a run of the
trace on a device of 1.25 x its peak. See docs/benchmarks.md.
"""
import argparse
import json
import os
import subprocess
import sys

SRC = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SRC)
from run import Table, fmt, median, print_results, ratio  # noqa: E402  (the allocator benchmark's helpers)

CONFIGS = [("driver", {}), ("shim-depth0", {"MPSHIM_STACK_DEPTH": "0"}), ("shim", {}),
           ("shim-track", {"MPSHIM_CUDA": "track"})]
WORKLOADS = [("fixed", "one 4 KiB block allocated and freed in a loop"),
             ("mixed", "512 B - 64 MiB log-uniform, a window of 16 live blocks"),
             ("threads", "8 threads, each a loop on one 4 KiB block"),
             ("trace", "training-like: 12 layers, activations, gradients, workspaces, "
                       "sequence length 64-1024 per step"),
             ("hostpair", "malloc + free of 4 KiB in a loop (the host pair)")]
LOOPS = ["fixed", "mixed", "threads"]
MIB = 1 << 20


def run_one(ctx, mode, config, extra_env=None):
    """Runs bench-cuda once; returns (dict of its results or None, stderr tail)."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith(("MPSHIM_", "FAKECUDA_"))}
    env["LD_LIBRARY_PATH"] = ctx.driver_dir + (":" + env["LD_LIBRARY_PATH"]
                                               if env.get("LD_LIBRARY_PATH") else "")
    env["FAKECUDA_ALLOC_LATENCY_US"] = str(ctx.alloc_latency)
    env["FAKECUDA_FREE_LATENCY_US"] = str(ctx.free_latency)
    env["FAKECUDA_MEMORY"] = ctx.memory
    name, settings = config
    if name != "driver":
        env["LD_PRELOAD"] = ctx.lib
        env.update(settings)
    env.update(extra_env or {})
    argv = [ctx.bench, mode] + (["--smoke"] if ctx.smoke else [])
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if p.returncode == 0 and line.startswith("cuda "):
            return {k: float(v) if k != "mode" else v
                    for k, v in (f.split("=", 1) for f in line.split()[1:])}, ""
    why = "exit status %d" % p.returncode if p.returncode >= 0 else "signal %d" % -p.returncode
    # The program's and the cache's own lines, not a leak report of the blocks it left.
    said = [x for x in p.stderr.splitlines()
            if x.startswith("bench-cuda:") or x.startswith("mpshim: CUDA")]
    return None, "; ".join([why] + said[-3:])


def measure(ctx, modes):
    """Interleaved runs; returns {(mode, config): [results]} and the failures."""
    results = {(m, c[0]): [] for m in modes for c in CONFIGS}
    failures = []
    for run in range(ctx.runs):
        order = CONFIGS[run % len(CONFIGS):] + CONFIGS[:run % len(CONFIGS)]
        for mode in modes:
            for config in order:
                res, why = run_one(ctx, mode, config)
                if res is None:
                    failures.append("FAILED %s under %s (run %d): %s" % (mode, config[0], run + 1,
                                                                       why))
                    print(failures[-1], file=sys.stderr)
                else:
                    results[(mode, config[0])].append(res)
        print("run %d/%d done" % (run + 1, ctx.runs), file=sys.stderr, flush=True)
    return results, failures


def med(results, mode, config, key):
    return median([r[key] for r in results[(mode, config)] if key in r])


def size_text(n):
    if not n:
        return "n/a"
    return "%.1f KiB" % (n / 1024) if n < MIB else "%.1f MiB" % (n / MIB)


def tables_of(results, modes):
    tables = []
    for mode, about in WORKLOADS:
        if mode not in modes:
            continue
        rows = []
        base_ns = med(results, mode, "driver", "ns_pair")
        base_mem = med(results, mode, "driver", "driver_mem_calls")
        base_calls = med(results, mode, "driver", "driver_calls")
        for name, _ in CONFIGS:
            ns = med(results, mode, name, "ns_pair")
            mem = med(results, mode, name, "driver_mem_calls")
            calls = med(results, mode, name, "driver_calls")
            alloc = med(results, mode, name, "peak_allocated")
            reserved = med(results, mode, name, "peak_reserved")
            rows.append([name, fmt(ns, 1), fmt(ratio(ns, base_ns), 4),
                         fmt(mem, 0) if mem is not None else "n/a",
                         fmt(ratio(base_mem, mem), 0),
                         fmt(calls, 0) if calls is not None else "n/a",
                         fmt(ratio(base_calls, calls), 0),
                         size_text(alloc), size_text(reserved),
                         fmt(ratio(reserved, alloc), 2)])
        tables.append(Table("%s: %s" % (mode, about),
                            ["config", "ns/pair", "x driver", "alloc+free calls", "driver / this",
                             "all calls", "driver / this",
                             "peak allocated", "peak reserved", "reserved / alloc"], rows))
    return tables


def targets(results, modes, capacity):
    """(target, measured, pass) rows; a target whose workload was not run is left out."""
    rows, notes = [], []

    def check(what, value, limit, text):  # passes when value <= limit
        ok = value is not None and limit is not None and value <= limit
        rows.append([what, text, "pass" if ok else "FAIL"])

    if "fixed" in modes:
        ns0 = med(results, "fixed", "shim-depth0", "ns_pair")
        check("cached pair, MPSHIM_STACK_DEPTH=0 <= 100 ns", ns0, 100, "%s ns" % fmt(ns0, 1))
        if "hostpair" in modes:
            ns = med(results, "fixed", "shim", "ns_pair")
            host = med(results, "hostpair", "shim", "ns_pair")
            check("cached pair, tracked <= tracked host pair + 100 ns", ns,
                  host + 100 if host is not None else None,
                  "%s ns vs %s + 100 ns" % (fmt(ns, 1), fmt(host, 1)))
    for key, what in (("driver_mem_calls", "cuMemAlloc+cuMemFree calls"),
                      ("driver_calls", "all driver calls")):
        for mode in LOOPS:
            if mode not in modes:
                continue
            base = med(results, mode, "driver", key)
            worst = max((med(results, mode, c, key) or 0) for c in ("shim-depth0", "shim"))
            red = ratio(base, worst)
            check("%s: %s reduced >= 100 x" % (mode, what), 100, red,
                  "%s x (%s -> %s)" % (fmt(red, 0), fmt(base, 0), fmt(worst, 0)))
    if "trace" in modes:
        worst = max((ratio(med(results, "trace", c, "peak_reserved"),
                           med(results, "trace", c, "peak_allocated")) or 0)
                    for c in ("shim-depth0", "shim"))
        check("trace: peak reserved <= 1.3 x peak allocated", worst, 1.3, "%s x" % fmt(worst, 3))
    if capacity is not None:
        mem, res, why = capacity
        ok = res is not None
        rows.append(["trace completes on a device of 1.25 x its peak allocated",
                     "%.1f MiB: %s" % (mem / MIB, "completed, peak reserved %.1f MiB" % (
                         res["peak_reserved"] / MIB) if ok else "failed"),
                     "pass" if ok else "FAIL"])
        if not ok:
            notes.append("the trace on %.1f MiB: %s" % (mem / MIB, why))
    return Table("targets", ["target", "measured", "result"], rows, notes)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="very short runs, 1 each (test suite)")
    ap.add_argument("--runs", type=int, help="runs per workload and configuration (default 3)")
    ap.add_argument("--only", help="comma-separated workloads: " + ",".join(m for m, _ in WORKLOADS))
    ap.add_argument("--lib", default=os.path.join("build", "preload", "libmpshim.so"),
                    help="libmpshim.so (default build/preload/libmpshim.so)")
    ap.add_argument("--bench", help="the bench-cuda program (default: ../bench next to --lib)")
    ap.add_argument("--driver-dir", help="folder of the fake libcuda.so.1 "
                    "(default: ../tests/cuda next to --lib)")
    ap.add_argument("--alloc-latency", type=int, default=20, help="us per cuMemAlloc (20)")
    ap.add_argument("--free-latency", type=int, default=20,
                    help="us per cuMemFree, before its device sync (20)")
    ap.add_argument("--memory", help="device capacity of the fake (default 2G, 256M with --smoke)")
    ap.add_argument("--out", help="also write the results to this .json or .md file")
    ctx = ap.parse_args()
    ctx.runs = ctx.runs or (1 if ctx.smoke else 3)
    # The fake's device memory is host memory that the leak check at exit reads: no bigger
    # than needed.
    ctx.memory = ctx.memory or ("256M" if ctx.smoke else "2G")
    ctx.lib = os.path.abspath(ctx.lib)
    build = os.path.dirname(os.path.dirname(ctx.lib))
    ctx.bench = os.path.abspath(ctx.bench or os.path.join(build, "bench", "bench-cuda"))
    ctx.driver_dir = os.path.abspath(ctx.driver_dir or os.path.join(build, "tests", "cuda"))
    for path, what in ((ctx.lib, "--lib"), (ctx.bench, "--bench"),
                       (os.path.join(ctx.driver_dir, "libcuda.so.1"), "--driver-dir")):
        if not os.path.exists(path):
            sys.exit("cuda.py: %s not found (build with -Dtests=true, or pass %s)" % (path, what))
    modes = [m for m, _ in WORKLOADS]
    if ctx.only:
        modes = [m for m in modes if m in ctx.only.split(",")]
        if set(ctx.only.split(",")) - set(modes):
            sys.exit("cuda.py: unknown workload in --only " + ctx.only)

    results, failures = measure(ctx, modes)
    capacity = None
    if "trace" in modes and results[("trace", "driver")]:
        # The trace again, under the shim, on a device of 1.25 x its peak.
        mem = int(1.25 * med(results, "trace", "driver", "peak_allocated"))
        saved, ctx.memory = ctx.memory, str(mem)
        res, why = run_one(ctx, "trace", CONFIGS[2])
        ctx.memory = saved
        capacity = (mem, res, why)  # a target: printed, not a failure of the benchmark

    header = ("cuda: %d run(s) each, interleaved; medians; cuMemAlloc %d us, cuMemFree %d us + "
              "device sync" % (ctx.runs, ctx.alloc_latency, ctx.free_latency))
    tables = tables_of(results, modes) + [targets(results, modes, capacity)]
    print_results(header, tables, failures)
    if ctx.out:
        with open(ctx.out, "w") as f:
            if ctx.out.endswith(".json"):
                json.dump({"runs": ctx.runs, "results": {"%s/%s" % k: v for k, v in results.items()},
                           "failures": failures}, f, indent=1)
            else:
                f.write("## " + header + "\n\n" + "\n\n".join(t.markdown() for t in tables) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
