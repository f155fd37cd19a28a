#!/usr/bin/env python3
"""Size of the allocation profile (MPSHIM_PROFILE) of a long-running program.

    profile_size.py [--lib build/preload/libmpshim.so] SECONDS...

Runs python3 under the shim for each duration, with a workload of many distinct allocation
stacks (bench/pyalloc.py's records, JSON, text and sorting, plus compiling and running
varied generated code) whose live size rises and falls; prints the profile's size split into
timeline, frames and sites, and extrapolates to 10 minutes from the growth between the
shortest and the longest run. See docs/profile-format.md.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKLOAD = r"""
import sys, time
sys.path.insert(0, %(bench)r)
import pyalloc
end = time.monotonic() + %(seconds)f
held, rnd = [], 0
while time.monotonic() < end:
    rnd += 1
    rows = pyalloc.records(4000, rnd)
    text, index = pyalloc.round_trip(rows)
    pyalloc.text_work(text)
    # New code every round: new code objects, names and constants.
    ns = {}
    exec(compile("def f%%d(x):\n    return [str(x + i) * %%d for i in range(%%d)]" %% (rnd, rnd %% 7 + 1, rnd %% 50 + 1), "gen", "exec"), ns)
    ns["f%%d" %% rnd](rnd)
    # Live size rises for 40 rounds, then falls back.
    if rnd %% 80 < 40:
        held.append(rows)
    elif held:
        held.pop()
"""


def measure(lib, seconds, tmp):
    path = os.path.join(tmp, "profile.json")
    env = dict(os.environ, LD_PRELOAD=lib, MPSHIM_LEAKS="1", MPSHIM_PROFILE=path,
               MPSHIM_REPORT=os.path.join(tmp, "report"), MPSHIM_LEAK_EXITCODE="0")
    code = WORKLOAD % {"bench": os.path.join(ROOT, "bench"), "seconds": seconds}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    size = os.path.getsize(path)
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    part = {k: len(json.dumps(d[k], separators=(",", ":"))) for k in ("timeline", "frames", "sites")}
    return size, d, part


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", default=os.path.join(ROOT, "build", "preload", "libmpshim.so"))
    ap.add_argument("seconds", type=float, nargs="+")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in sorted(a.seconds):
            size, d, part = measure(a.lib, s, tmp)
            rows.append((s, size, part, len(d["timeline"]["samples"])))
            print(f"{s:6.0f} s: {size / 2**20:6.2f} MiB; timeline {part['timeline'] / 2**20:.2f} MiB "
                  f"({len(d['timeline']['samples'])} samples, interval {d['timeline']['interval_ns'] // 10**6} ms), "
                  f"frames {part['frames'] / 2**20:.2f} MiB ({len(d['frames'])}), "
                  f"sites {part['sites'] / 2**20:.2f} MiB ({len(d['sites'])})", flush=True)
    if len(rows) >= 2:
        (s0, _, p0, _), (s1, _, p1, n1) = rows[0], rows[-1]
        per_min = (p1["frames"] + p1["sites"] - p0["frames"] - p0["sites"]) / ((s1 - s0) / 60)
        # The timeline holds at most 32,768 samples (merged pairwise when full).
        timeline_max = 32768 * p1["timeline"] / max(n1, 1)
        at_10 = p1["frames"] + p1["sites"] + per_min * (10 - s1 / 60) + timeline_max
        print(f"frames+sites grow {per_min / 2**20:.3f} MiB/min; timeline at most ~{timeline_max / 2**20:.1f} MiB; "
              f"10 minutes: ~{at_10 / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
