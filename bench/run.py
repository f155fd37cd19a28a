#!/usr/bin/env python3
"""Allocation benchmarks of mpshim against glibc, jemalloc, mimalloc and tcmalloc.

Every workload runs under every allocator (LD_PRELOAD), interleaved: run 1 of each
allocator, then run 2, ..., so drift on a noisy machine hits all of them alike. Per workload
the table shows the median wall time, CPU time and peak RSS (from wait4's rusage) and the
ratios to glibc; then the geometric means. `--tracking` compares mpshim's leak tracking with
heaptrack, valgrind memcheck and LeakSanitizer instead; `--startup` measures what each allocator
adds to the start and exit of a process that does almost nothing (`/bin/true`). See
docs/benchmarks.md.
"""
import argparse
import glob
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(SRC)
LIBDIR = "/usr/lib/x86_64-linux-gnu"
OTHER_ALLOCATORS = [("jemalloc", LIBDIR + "/libjemalloc.so.2"),
                    ("mimalloc", LIBDIR + "/libmimalloc.so.2"),
                    ("tcmalloc", LIBDIR + "/libtcmalloc_minimal.so.4")]


class Workload:
    """A program to measure; `argv(ctx)` builds its command line."""

    def __init__(self, name, about, argv, in_means=True):
        self.name, self.about, self.argv, self.in_means = name, about, argv, in_means


def prog(name, *extra):
    """Command line of a workload program built in the bench build folder."""
    return lambda c: [os.path.join(c.bindir, "bench-" + name)] + \
        (["--smoke"] if c.smoke else []) + list(extra)


WORKLOADS = [
    Workload("churn", "single thread, small objects 8-256 B: window, LIFO, FIFO", prog("churn")),
    Workload("mixed", "sizes 16 B - 2 MiB log-uniform, random frees, every page written",
             prog("mixed")),
    Workload("realloc", "64 buffers grown by appends: exact (strings) and doubling (vectors)",
             prog("realloc")),
    Workload("threads", "8 threads in 4 waves, short-lived strings, map nodes, buffers",
             prog("threads")),
    Workload("prodcons", "2 producer/consumer pairs, every block freed by another thread",
             prog("prodcons")),
    Workload("larson", "4 threads replace random slots of a shared array (larson)",
             prog("larson")),
    Workload("large", "blocks of 5-25 MiB allocated, every page written, freed",
             prog("large")),
    Workload("python", "python3 running bench/pyalloc.py (dicts, lists, strings, json)",
             lambda c: [sys.executable, os.path.join(SRC, "pyalloc.py")] +
             (["--smoke"] if c.smoke else [])),
    Workload("g++", "g++ -O1 compiling bench/compile_input.cc (syntax only with --smoke)",
             lambda c: ["g++", "-std=c++20", "-O1", "-c",
                        os.path.join(SRC, "compile_input.cc"), "-o",
                        os.path.join(c.tmp, "compile_input.o")] +
             (["-fsyntax-only"] if c.smoke else [])),
    Workload("peak", "RSS after freeing a 1 GiB peak of small blocks (32 MiB stay live)",
             prog("peak"), in_means=False),
]


# ---------------------------------------------------------------- running one child


class Result:
    def __init__(self, wall, cpu, rss_mib, code, out, err):
        self.wall, self.cpu, self.rss, self.code, self.out, self.err = \
            wall, cpu, rss_mib, code, out, err


def clean_env():
    """The caller's environment without preloads or allocator settings of its own."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith(("MPSHIM_", "LSAN_", "MIMALLOC_"))}
    return env


def run_child(ctx, argv, env, tmp, stdin=None, cwd=None):
    """Runs argv through bench-launch (input from the file `stdin`, in folder `cwd`); returns
    its wall time, CPU time (user+sys, children included) and peak RSS. Output goes to
    files: a pipe could fill up and stall the child."""
    paths = [os.path.join(tmp, n) for n in ("stdout", "stderr", "usage")]
    if "LD_PRELOAD" in env:
        env["BENCH_PRELOAD"] = env.pop("LD_PRELOAD")
    with open(paths[0], "wb") as out, open(paths[1], "wb") as err, \
            open(stdin or os.devnull, "rb") as inp:
        code = subprocess.call([ctx.launcher, paths[2]] + argv, env=env, stdout=out, stderr=err,
                               stdin=inp, cwd=cwd)
    out_text, err_text, usage = (read_file(p) for p in paths)
    fields = usage.split()
    if code != 0 or len(fields) != 5:
        return Result(0, 0, 0, 127, out_text, err_text)
    status, user, system, maxrss, wall = fields
    return Result(float(wall), float(user) + float(system), int(maxrss) / 1024.0, int(status),
                  out_text, err_text)


def describe_failure(label, res):
    why = "signal %d" % -res.code if res.code < 0 else "exit status %d" % res.code
    tail = "\n".join(res.err.strip().splitlines()[-5:])
    tail = ("\n    " + tail.replace("\n", "\n    ")) if tail else ""
    return "FAILED %s: %s%s" % (label, why, tail)


# ---------------------------------------------------------------- tables


def fmt(x, digits=2):
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    return "%.*f" % (digits, x)


class Table:
    def __init__(self, title, header, rows, notes=()):
        self.title, self.header, self.rows, self.notes = title, header, rows, list(notes)

    def text(self):
        cells = [self.header] + [[str(c) for c in r] for r in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.header))]
        lines = ["== " + self.title]
        for r in cells:
            lines.append("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                          for i, (c, w) in enumerate(zip(r, widths))))
        lines += ["  " + n for n in self.notes]
        return "\n".join(lines)

    def markdown(self):
        lines = ["### " + self.title, "", "| " + " | ".join(self.header) + " |",
                 "|" + "|".join(["---"] + ["---:"] * (len(self.header) - 1)) + "|"]
        lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in self.rows]
        return "\n".join(lines + ([""] + self.notes if self.notes else []))


def diff(a, b):
    return a - b if a is not None and b is not None else None


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def median(values):
    return statistics.median(values) if values else None


def medians(results, *fields):
    """Median of each named Result field (None when there are no results)."""
    return tuple(median([getattr(r, f) for r in results]) for f in fields)


def ratio(a, b):
    return a / b if a is not None and b else None


# ---------------------------------------------------------------- allocator comparison


def peak_fields(text):
    m = re.search(r"peak: start_mib=([\d.]+) peak_mib=([\d.]+) after_mib=([\d.]+) "
                  r"back_ms=(-?\d+)", text)
    return tuple(float(g) for g in m.groups()) if m else None


def compare_allocators(ctx, allocators, workloads):
    """Runs the interleaved comparison; returns (tables, data, failures)."""
    results = {(w.name, a): [] for w in workloads for a, _ in allocators}
    failures = []
    for run in range(ctx.runs):
        # Rotate the order too, so no allocator always follows the same neighbour.
        order = allocators[run % len(allocators):] + allocators[:run % len(allocators)]
        for w in workloads:
            for name, lib in order:
                env = clean_env()
                if lib:
                    env["LD_PRELOAD"] = lib
                if name == "mpshim":
                    env["MPSHIM_LEAKS"] = "0"
                res = run_child(ctx, w.argv(ctx), env, ctx.tmp)
                if res.code != 0:
                    label = "%s under %s (run %d)" % (w.name, name, run + 1)
                    failures.append(describe_failure(label, res))
                    print(failures[-1], file=sys.stderr)
                    continue
                if w.name == "peak" and not peak_fields(res.out):
                    failures.append("FAILED peak under %s: no summary line" % name)
                    continue
                results[(w.name, name)].append(res)
        print("run %d/%d done" % (run + 1, ctx.runs), file=sys.stderr, flush=True)

    tables, data = [], {"workloads": {}, "means": {}}
    names = [a for a, _ in allocators]
    ratios = {a: {"time": [], "cpu": [], "rss": []} for a in names}
    for w in workloads:
        rows, wdata = [], {}
        if w.name == "peak":
            table, data["peak"] = peak_table(w, names, results)
            tables.append(table)
            continue
        base = results.get((w.name, "glibc"), [])
        base_t, base_c, base_m = medians(base, "wall", "cpu", "rss")
        for a in names:
            rs = results[(w.name, a)]
            t, c, m = medians(rs, "wall", "cpu", "rss")
            tr, cr, mr = ratio(t, base_t), ratio(c, base_c), ratio(m, base_m)
            complete = len(rs) == ctx.runs
            if w.in_means and complete:
                ratios[a]["time"].append(tr)
                ratios[a]["cpu"].append(cr)
                ratios[a]["rss"].append(mr)
            rows.append([a if complete else a + " (failed runs)", fmt(t, 3), fmt(tr), fmt(c, 3),
                         fmt(cr), fmt(m, 1), fmt(mr)])
            wdata[a] = {"time_s": t, "time_x_glibc": tr, "cpu_s": c, "cpu_x_glibc": cr,
                        "rss_mib": m, "rss_x_glibc": mr,
                        "runs": [[r.wall, r.cpu, r.rss] for r in rs]}
        data["workloads"][w.name] = wdata
        tables.append(Table("%s: %s" % (w.name, w.about),
                            ["allocator", "time s", "x glibc", "cpu s", "x glibc", "peak RSS MiB",
                             "x glibc"], rows))

    mean_rows = []
    for a in names:
        gt, gc, gm = (geomean(ratios[a][k]) for k in ("time", "cpu", "rss"))
        data["means"][a] = {"time_x_glibc": gt, "cpu_x_glibc": gc, "rss_x_glibc": gm}
        mean_rows.append([a, fmt(gt), fmt(gc), fmt(gm)])
    counted = [w.name for w in workloads if w.in_means]
    notes = []
    means = data["means"]
    if "mpshim" in means and "mimalloc" in means:
        notes.append("mpshim / mimalloc: time %s, cpu %s, peak RSS %s" % tuple(
            fmt(ratio(means["mpshim"][k], means["mimalloc"][k]))
            for k in ("time_x_glibc", "cpu_x_glibc", "rss_x_glibc")))
    if "mpshim" in means:
        slower = [w for w in counted
                  if (data["workloads"][w]["mpshim"]["time_x_glibc"] or 0) > 1.0]
        notes.append("mpshim slower than glibc on: " + (", ".join(slower) if slower else "none"))
    title = ("geometric means of the ratios to glibc over %d workloads (%s; workloads with "
             "failed runs are left out)" % (len(counted), ", ".join(counted)))
    tables.append(Table(title, ["allocator", "time", "cpu", "peak RSS"], mean_rows, notes))
    return tables, data, failures


def peak_table(w, names, results):
    rows, data = [], {}
    for a in names:
        fields = [peak_fields(r.out) for r in results[(w.name, a)]]
        if not fields:
            rows.append([a, "n/a", "n/a", "n/a", "n/a", "n/a"])
            continue
        start, top, after = (median([f[i] for f in fields]) for i in range(3))
        back = median([f[3] if f[3] >= 0 else math.inf for f in fields])
        data[a] = {"start_mib": start, "peak_mib": top, "after_mib": after,
                   "back_ms": None if back == math.inf else back}
        rows.append([a, fmt(start, 1), fmt(top, 1), fmt(after, 1), fmt(after - start, 1),
                     "never" if back == math.inf else "%d ms" % back])
    return Table("%s: %s" % (w.name, w.about),
                 ["allocator", "start MiB", "peak MiB", "after MiB", "after - start",
                  "back within 20%"], rows,
                 ["medians; after: RSS 2 s after the frees (0.5 s with --smoke); back within "
                  "20%: first 100 ms sample with RSS <= 1.2 x start"]), data


# ---------------------------------------------------------------- tracking comparison


def lsan_library():
    """liblsan.so.0 from GCC, else LLVM's runtime."""
    try:
        path = subprocess.run(["gcc", "-print-file-name=liblsan.so.0"], capture_output=True,
                              text=True).stdout.strip()
        if os.path.isabs(path) and os.path.exists(path):
            return os.path.realpath(path)
    except OSError:
        pass
    found = glob.glob("/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.lsan-x86_64.so")
    return found[0] if found else None


def read_file(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def first(folder, pattern):
    found = sorted(glob.glob(os.path.join(folder, pattern)))
    return found[0] if found else None


def num(s):
    return int(s.replace(",", ""))


def parse_expect(text):
    m = re.search(r"direct_bytes=(\d+) direct_blocks=(\d+) indirect_bytes=(\d+) indirect_blocks=(\d+)", text)
    return {"direct": (int(m[1]), int(m[2])), "indirect": (int(m[3]), int(m[4]))} if m else None


def parse_valgrind(text):
    d = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", text)
    i = re.search(r"indirectly lost: ([\d,]+) bytes in ([\d,]+) blocks", text)
    if not d and "All heap blocks were freed" in text:
        return {"direct": (0, 0), "indirect": (0, 0)}
    if not d:
        return None
    return {"direct": (num(d[1]), num(d[2])), "indirect": (num(i[1]), num(i[2])) if i else (0, 0)}


def parse_lsan(text):
    found = {"direct": [0, 0], "indirect": [0, 0]}
    for kind, b, n in re.findall(r"(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object", text):
        f = found[kind.lower()]
        f[0] += int(b)
        f[1] += int(n)
    if "SUMMARY: LeakSanitizer" not in text and found["direct"] == [0, 0]:
        # LSan prints nothing at all when it finds no leak.
        return {"direct": (0, 0), "indirect": (0, 0)} if "LeakSanitizer" not in text else None
    out = {k: tuple(v) for k, v in found.items()}
    if "Too many leaks" in text:
        out["note"] = "truncated by LSan"
    return out


def parse_heaptrack(stdout_text, data_file):
    """heaptrack has no direct/indirect classes: returns the total of unfreed blocks."""
    n = re.search(r"leaked allocations:\s*(\d+)", stdout_text)
    if not data_file:
        return None
    out = subprocess.run(["heaptrack_print", "-f", data_file, "-p", "0", "-a", "0", "-T", "0",
                          "-l", "0"], capture_output=True, text=True).stdout
    b = re.search(r"total memory leaked: ([\d.]+)([KMG]?)", out)
    if not b or not n:
        return None
    scale = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9}[b[2]]
    return {"total": (int(round(float(b[1]) * scale)), int(n[1])), "note": "total only, bytes rounded"}


def parse_mpshim(report_files):
    """mpshim's JSON report (summary.direct/indirect) or the text report's SUMMARY line."""
    for path in report_files:
        with open(path, errors="replace") as f:
            text = f.read()
        try:
            s = json.loads(text)["summary"]
            return {k: (int(s[k]["bytes"]), int(s[k]["blocks"])) for k in ("direct", "indirect")}
        except (ValueError, KeyError, TypeError):
            pass
        m = re.search(r"^SUMMARY: mpshim:.*?([\d,]+) byte.*?([\d,]+) (?:allocation|block|object)",
                      text, re.M)
        if m:
            return {"total": (num(m[1]), num(m[2])), "note": "total only"}
    return None


def leak_cell(found):
    if not found:
        return ["n/a", "n/a"]
    if "total" in found:
        return ["total %d B / %d" % found["total"], "-"]
    return ["%d B / %d" % found["direct"], "%d B / %d" % found["indirect"]]


def same_leaks(found, ref):
    if not found or not ref:
        return "n/a"
    if "total" in found:
        want = (ref["direct"][0] + ref["indirect"][0], ref["direct"][1] + ref["indirect"][1])
        extra = found["total"][1] - want[1]
        verdict = "yes" if extra == 0 else "no (%+d blocks)" % extra
    else:
        same = (found["direct"], found["indirect"]) == (ref["direct"], ref["indirect"])
        verdict = "yes" if same else "no"
    return verdict + (" - " + found["note"] if found.get("note") else "")


def tracking_tools(ctx):
    """(name, wrap(argv, env, tmp) -> argv, parse(result, tmp) -> leaks or None)."""
    tools = [("glibc", lambda a, e, t: a, lambda r, t: None)]

    def mpshim_wrap(argv, env, tmp):
        env.update(LD_PRELOAD=ctx.lib, MPSHIM_LEAKS="1", MPSHIM_STACK_DEPTH="16",
                   MPSHIM_REPORT=os.path.join(tmp, "mpshim.%p.report"), MPSHIM_REPORT_FORMAT="json",
                   MPSHIM_LEAK_EXITCODE="0")
        return argv
    tools.append(("mpshim", mpshim_wrap,
                  lambda r, t: parse_mpshim(sorted(glob.glob(os.path.join(t, "mpshim.*.report"))))))

    def profile_wrap(argv, env, tmp):  # tracking plus the allocation profile (MPSHIM_PROFILE)
        env.update(MPSHIM_PROFILE=os.path.join(tmp, "profile.%p.json"))
        return mpshim_wrap(argv, env, tmp)
    tools.append(("mpshim-profile", profile_wrap,
                  lambda r, t: parse_mpshim(sorted(glob.glob(os.path.join(t, "mpshim.*.report"))))))

    if shutil.which("heaptrack") and shutil.which("heaptrack_print"):
        tools.append(("heaptrack", lambda a, e, t: ["heaptrack", "-o", os.path.join(t, "ht")] + a,
                      lambda r, t: parse_heaptrack(r.out + r.err, first(t, "ht.*"))))
    else:
        ctx.notes.append("heaptrack not installed: skipped")
    if shutil.which("valgrind"):
        tools.append(("valgrind", lambda a, e, t: ["valgrind", "--leak-check=full",
                                                   "--log-file=" + os.path.join(t, "vg.log")] + a,
                      lambda r, t: parse_valgrind(read_file(os.path.join(t, "vg.log")))))
    else:
        ctx.notes.append("valgrind not installed: skipped")
    lsan = lsan_library()
    if lsan:
        for name, opts in (("lsan", "exitcode=0"), ("lsan-full", "exitcode=0:fast_unwind_on_malloc=0")):
            def wrap(argv, env, tmp, opts=opts):
                env.update(LD_PRELOAD=lsan, LSAN_OPTIONS=opts)
                return argv
            tools.append((name, wrap, lambda r, t: parse_lsan(r.err)))
    else:
        ctx.notes.append("liblsan.so.0 not found: LeakSanitizer skipped")
    return tools


def sqlite_script(path, smoke):
    """An in-memory database fed on stdin: inserts in one transaction with an index kept up
    to date, then queries that sort, group and join."""
    n = 2000 if smoke else 200000
    with open(path, "w") as f:
        f.write("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL);\n"
                "CREATE INDEX t_name ON t(name);\nBEGIN;\n")
        for i in range(n):
            f.write("INSERT INTO t(name, grp, val) VALUES('name-%d-%x', %d, %d.5);\n"
                    % (i, i * 2654435761 % 2**32, i % 97, i % 1013))
        f.write("COMMIT;\n"
                "SELECT grp, count(*), sum(val) FROM t GROUP BY grp ORDER BY 3 DESC LIMIT 3;\n"
                "SELECT count(*) FROM t WHERE name BETWEEN 'name-1' AND 'name-3';\n"
                "SELECT a.grp, count(*) FROM t a JOIN t b ON a.id = b.id + 1 AND a.grp = b.grp + 1 "
                "GROUP BY a.grp ORDER BY a.grp LIMIT 3;\n"
                "SELECT name FROM t ORDER BY val DESC, name LIMIT 3;\n")


def compare_tracking(ctx, only):
    leaky = os.path.join(ctx.bindir, "bench-leaky")
    sites = os.path.join(ctx.bindir, "bench-sites")
    smoke = ["--smoke"] if ctx.smoke else []
    cases = [("leaky", "4 threads x 1M allocations from 4 call paths, leaks at 3 sites",
              [leaky] + smoke, leaky),
             ("leaky-work", "leaky, each new block then read in 12 passes: allocation is a "
              "smaller share of the work, as in most programs",
              [leaky, "--work=12"] + smoke, leaky),
             ("python", "python3 running bench/pyalloc.py 1",
              [sys.executable, os.path.join(SRC, "pyalloc.py"), "--smoke" if ctx.smoke else "1"], None),
             ("sites", "10,000 distinct leak sites, one block each (report size and speed)",
              [sites], sites)]
    if shutil.which("sqlite3"):
        cases.append(("sqlite3", "sqlite3 :memory: fed 200,000 inserts into an indexed table, "
                      "then queries", ["sqlite3", ":memory:"], None))
    cases = [c for c in cases if not only or c[0] in only]
    stdin = {}
    if any(c[0] == "sqlite3" for c in cases):
        stdin["sqlite3"] = os.path.join(ctx.tmp, "sqlite-input.sql")
        sqlite_script(stdin["sqlite3"], ctx.smoke)
    tools = [t for t in tracking_tools(ctx)
             if t[0] == "glibc" or not ctx.wanted or t[0] in ctx.wanted]
    results = {(c[0], t[0]): [] for c in cases for t in tools}
    failures = []
    for run in range(ctx.runs):
        for case, _, argv, _ in cases:
            for name, wrap, parse in tools:
                tmp = tempfile.mkdtemp(dir=ctx.tmp)
                env = clean_env()
                res = run_child(ctx, wrap(list(argv), env, tmp), env, tmp, stdin=stdin.get(case))
                if res.code != 0:
                    failures.append(describe_failure("%s under %s" % (case, name), res))
                    print(failures[-1], file=sys.stderr)
                else:
                    res.leaks = parse(res, tmp)
                    results[(case, name)].append(res)
                shutil.rmtree(tmp, ignore_errors=True)
        print("run %d/%d done" % (run + 1, ctx.runs), file=sys.stderr, flush=True)

    tables, data = [], {}
    for case, about, _, expect_prog in cases:
        ref, ref_name = None, "valgrind"
        if expect_prog:
            ref = parse_expect(subprocess.run([expect_prog, "--expect"], capture_output=True,
                                              text=True).stdout)
            ref_name = "expected"
        else:
            vg = results.get((case, "valgrind"))
            ref = vg[-1].leaks if vg else None
        base = results[(case, "glibc")]
        base_c, base_w, base_m = medians(base, "cpu", "wall", "rss")
        rows, cdata = [], {}
        for name, _, _ in tools:
            rs = results[(case, name)]
            c, w, m = medians(rs, "cpu", "wall", "rss")
            leaks = rs[-1].leaks if rs else None
            row = [name, fmt(c, 3), fmt(ratio(c, base_c)), fmt(w, 3), fmt(ratio(w, base_w)),
                   fmt(m, 1), fmt(ratio(m, base_m))]
            row += ["-", "-", "-"] if name == "glibc" else leak_cell(leaks) + [same_leaks(leaks, ref)]
            rows.append(row)
            cdata[name] = {"cpu_s": c, "wall_s": w, "rss_mib": m, "leaks": leaks}
        title = "tracking %s: %s" % (case, about)
        if ref:
            title += "; %s: direct %d B / %d, indirect %d B / %d" % (
                (ref_name,) + ref["direct"] + ref["indirect"])
        tables.append(Table(title, ["tool", "cpu s", "x glibc", "wall s", "x glibc", "peak RSS MiB",
                                    "x glibc", "direct B / blocks", "indirect B / blocks",
                                    "same as " + ref_name], rows))
        data[case] = cdata
        if case == "sites":
            tables.append(sites_table(results, tools))
    if ctx.notes:
        tables[-1].notes += ctx.notes
    return tables, data, failures


def sites_table(results, tools):
    """Time of the 10,000-site report: the run's wall time minus the same run under glibc."""
    base = median([r.wall for r in results[("sites", "glibc")]])
    base_c = median([r.cpu for r in results[("sites", "glibc")]])
    rows = []
    for name, _, _ in tools[1:]:
        rs = results[("sites", name)]
        w = median([r.wall for r in rs])
        leaks = rs[-1].leaks if rs else None
        groups = None
        if leaks:
            groups = leaks["direct"][1] if "direct" in leaks else leaks["total"][1]
        c = median([r.cpu for r in rs])
        rows.append([name, fmt(w, 3), fmt(diff(w, base), 3), fmt(c, 3), fmt(diff(c, base_c), 3),
                     str(groups) if groups is not None else "n/a"])
    return Table("sites: cost of reporting 10,000 leak sites (glibc run: %s s wall, %s s cpu)" % (
        fmt(base, 3), fmt(base_c, 3)), ["tool", "wall s", "minus glibc", "cpu s", "minus glibc",
                                         "blocks reported"], rows)


# ---------------------------------------------------------------- start-up


STARTUP_BATCH = 20


def compare_startup(ctx):
    """Batches of STARTUP_BATCH runs of /bin/true per configuration, interleaved; returns
    (tables, data, failures) with the median over batches of the time per process."""
    configs = [("glibc", None, {})]
    mimalloc = dict(OTHER_ALLOCATORS)["mimalloc"]
    if os.path.exists(mimalloc):
        configs.append(("mimalloc", mimalloc, {}))
    else:
        ctx.notes.append("mimalloc skipped: %s not installed" % mimalloc)
    configs += [("mpshim", ctx.lib, {}), ("mpshim MPSHIM_LEAKS=0", ctx.lib, {"MPSHIM_LEAKS": "0"})]
    argv = [os.path.join(ctx.bindir, "bench-startup"), str(STARTUP_BATCH), ctx.startup_program]
    results = {name: [] for name, _, _ in configs}
    failures = []
    for run in range(ctx.runs):
        order = configs[run % len(configs):] + configs[:run % len(configs)]
        for name, lib, extra in order:
            env = clean_env()
            env.update(extra)
            if lib:
                env["BENCH_PRELOAD"] = lib
            res = subprocess.run(argv, env=env, capture_output=True, text=True)
            fields = res.stdout.split()
            if res.returncode != 0 or len(fields) != 2:
                failures.append("FAILED %s under %s: %s" % (ctx.startup_program, name,
                                                            res.stderr.strip()[-200:]))
                print(failures[-1], file=sys.stderr)
                continue
            results[name].append((float(fields[0]), float(fields[1])))
        print("run %d/%d done" % (run + 1, ctx.runs), file=sys.stderr, flush=True)

    def med(name, i):
        return median([r[i] for r in results[name]])
    base_w, base_c = med("glibc", 0), med("glibc", 1)
    mi_w = med("mimalloc", 0) if results.get("mimalloc") else None
    rows, data = [], {}
    for name, _, _ in configs:
        w, c = med(name, 0), med(name, 1)
        rows.append([name, fmt(w, 3), fmt(diff(w, base_w), 3), fmt(ratio(w, base_w)), fmt(c, 3),
                     fmt(diff(c, base_c), 3)])
        data[name] = {"wall_ms": w, "added_wall_ms": diff(w, base_w), "cpu_ms": c,
                      "added_cpu_ms": diff(c, base_c)}
    notes = []
    if mi_w is not None:
        for name in ("mpshim", "mpshim MPSHIM_LEAKS=0"):
            notes.append("%s adds %s ms per process more than mimalloc" % (
                name, fmt(diff(data[name]["added_wall_ms"], data["mimalloc"]["added_wall_ms"]), 3)))
    title = "start-up: %s, %d x %d runs per configuration (ms per process; added: minus glibc)" % (
        ctx.startup_program, ctx.runs, STARTUP_BATCH)
    tables = [Table(title, ["configuration", "wall ms", "added", "x glibc", "cpu ms", "added"],
                    rows, notes + ctx.notes)]
    return tables, data, failures


# ---------------------------------------------------------------- main



def print_results(header, tables, failures):
    """The header line, each table after a blank line, then the failures (every runner)."""
    print(header)
    for t in tables:
        print()
        print(t.text())
    for f in failures:
        print(f)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="very short runs, 1 run each, only glibc "
                    "and mpshim unless --allocators is given (for the test suite)")
    ap.add_argument("--runs", type=int, help="runs per workload and allocator (default 5, 3 with "
                    "--tracking, 15 batches of 20 with --startup, 1 with --smoke)")
    ap.add_argument("--only", help="comma-separated workloads (see docs/benchmarks.md)")
    ap.add_argument("--allocators", help="comma-separated subset of glibc,jemalloc,mimalloc,"
                    "tcmalloc,mpshim; with --tracking of mpshim,heaptrack,valgrind,lsan,lsan-full "
                    "(default: all)")
    ap.add_argument("--lib", default=os.path.join("build", "preload", "libmpshim.so"),
                    help="libmpshim.so to measure (default build/preload/libmpshim.so)")
    ap.add_argument("--bindir", help="folder of the built workload programs "
                    "(default: ../bench next to --lib)")
    ap.add_argument("--tracking", action="store_true", help="compare leak tracking tools instead")
    ap.add_argument("--startup", nargs="?", const="/bin/true", metavar="PROGRAM",
                    help="measure the start-up and exit of PROGRAM (default /bin/true) instead")
    ap.add_argument("--out", help="also write the results to this .json or .md file")
    ctx = ap.parse_args()
    ctx.notes = []
    ctx.startup_program = ctx.startup
    ctx.runs = ctx.runs or (1 if ctx.smoke else 3 if ctx.tracking else 15 if ctx.startup else 5)
    only = set(ctx.only.split(",")) if ctx.only else None
    wanted = ctx.wanted = set(ctx.allocators.split(",")) if ctx.allocators else None

    lib = ctx.lib if os.path.exists(ctx.lib) else os.path.join(ROOT, ctx.lib)
    need_lib = not wanted or "mpshim" in wanted
    if need_lib and not os.path.exists(lib):
        sys.exit("run.py: %s not found (build it first, or pass --lib)" % ctx.lib)
    ctx.lib = os.path.abspath(lib)
    ctx.bindir = os.path.abspath(ctx.bindir or os.path.join(os.path.dirname(ctx.lib), "..", "bench"))
    ctx.launcher = os.path.join(ctx.bindir, "bench-launch")
    if not os.path.exists(ctx.launcher):
        sys.exit("run.py: workload programs not found in %s (pass --bindir)" % ctx.bindir)

    with tempfile.TemporaryDirectory(prefix="mpshim-bench-") as tmp:
        ctx.tmp = tmp
        if ctx.startup:
            tables, data, failures = compare_startup(ctx)
        elif ctx.tracking:
            tables, data, failures = compare_tracking(ctx, only)
        else:
            allocators = [("glibc", None)]
            for name, path in OTHER_ALLOCATORS:
                # The smoke run checks the workloads under mpshim; the others only by request.
                if (wanted and name not in wanted) or (ctx.smoke and not wanted):
                    continue
                if os.path.exists(path):
                    allocators.append((name, path))
                else:
                    ctx.notes.append("%s skipped: %s not installed" % (name, path))
            if not wanted or "mpshim" in wanted:
                allocators.append(("mpshim", ctx.lib))
            workloads = [w for w in WORKLOADS if not only or w.name in only]
            unknown = (only or set()) - {w.name for w in WORKLOADS}
            if unknown:
                sys.exit("run.py: unknown workload(s): " + ", ".join(sorted(unknown)))
            tables, data, failures = compare_allocators(ctx, allocators, workloads)
            tables[-1].notes += ctx.notes

    header = "%s, %d run(s) each, interleaved; medians" % (
        "start-up" if ctx.startup else "leak tracking" if ctx.tracking else "allocators", ctx.runs)
    print_results(header, tables, failures)
    if ctx.out:
        with open(ctx.out, "w") as f:
            if ctx.out.endswith(".json"):
                json.dump({"runs": ctx.runs, "smoke": ctx.smoke, "results": data,
                           "failures": failures}, f, indent=1)
            else:
                f.write("## " + header + "\n\n" + "\n\n".join(t.markdown() for t in tables) + "\n")
                f.write("".join("\n" + x + "\n" for x in failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
