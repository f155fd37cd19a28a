#!/usr/bin/env python3
"""End-to-end tests of the allocation profile (MPSHIM_PROFILE) and `mpshim report`.

    test_profile.py --build DIR --shim LIB --fake-cuda DIR --scripts DIR [--logger=...,FILE]

Runs the programs of this folder under the shim with a profile, checks its figures exactly,
runs `mpshim report` (text and --html) on them, compares the top peak consumers of sqlite3
with heaptrack_print's, and opens the page in headless Chromium. The last argument's FILE
receives a JUnit report (one case per test).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

ARGS = None
MiB = 1 << 20


def run(argv, env=None, timeout=300, **kw):
    full = dict(os.environ)
    for k in list(full):
        if k.startswith("MPSHIM_") or k == "LD_PRELOAD":
            del full[k]
    full.update(env or {})
    return subprocess.run(argv, env=full, timeout=timeout, capture_output=True, text=True, **kw)


def profile_of(argv, tmp, extra_env=None, name="profile.json", stdin=None):
    """Runs argv under the shim with MPSHIM_PROFILE; returns (result, profile)."""
    path = os.path.join(tmp, name)
    env = {"LD_PRELOAD": ARGS.shim, "MPSHIM_PROFILE": path}
    env.update(extra_env or {})
    if stdin is not None:
        with open(stdin) as f:
            r = run(argv, env, stdin=f)
    else:
        r = run(argv, env)
    assert r.returncode == 0, f"{argv} failed: {r.returncode}\n{r.stderr[-3000:]}"
    with open(path, encoding="utf-8") as f:
        return r, json.load(f)


def innermost(data, site):
    """The function of a site's innermost frame."""
    return data["frames"][site["stack"][0]]["function"] if site["stack"] else None


FIGURES = ("allocations", "bytes_allocated", "temporary", "peak_bytes", "live_at_exit")


def sites_by_function(data, memory):
    """The figures of `memory`'s sites summed per innermost function (a function called
    from two lines has two stacks), each with the stack of its first site."""
    out = {}
    for s in data["sites"]:
        if s["memory"] == memory:
            fn = innermost(data, s)
            if fn not in out:
                out[fn] = dict(s)
            else:
                for k in FIGURES:
                    out[fn][k] += s[k]
    return out


def figures(site):
    return tuple(site[k] for k in FIGURES)


def report(*args):
    return run([os.path.join(ARGS.scripts, "mpshim"), "report", *args])


class ProgramProfile(unittest.TestCase):
    """The profile of one test program (PROG), made once for the class."""
    PROG = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mpshim-profile-")
        cls.result, cls.data = profile_of([os.path.join(ARGS.build, cls.PROG)], cls.tmp)
        cls.path = os.path.join(cls.tmp, "profile.json")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)


class HostProfile(ProgramProfile):
    PROG = "profile_host_peaks"

    def test_schema_and_nothing_printed(self):
        d = self.data
        self.assertEqual(d["mpshim_profile"], 1)
        self.assertTrue(d["exe"].endswith("profile_host_peaks"))
        self.assertEqual(d["timeline"]["columns"], ["time_ns", "host", "host_resident", "device",
                                                    "device_reserved"])
        self.assertEqual(self.result.stderr, "")
        self.assertEqual(self.result.stdout, "")

    WANT = {  # allocations, bytes, temporary, peak, exit
        "make_temporaries": (100, 100000, 100, 0, 0),
        "make_many": (1000, 16000, 0, 0, 0),
        "make_peak_part": (10, 1000000, 0, 1000000, 0),
        "make_kept": (1, 500000, 0, 500000, 500000),
        "make_after_peak": (2, 600000, 0, 0, 0),
        "make_grown": (1, 1000, 1, 0, 0),
        "grow": (2, 4100, 2, 0, 0),
    }

    def test_sites_exact(self):
        s = sites_by_function(self.data, "host")
        want = self.WANT
        for fn, want_figures in want.items():
            self.assertIn(fn, s)
            self.assertEqual(figures(s[fn]), want_figures, fn)
            frames = [self.data["frames"][i] for i in s[fn]["stack"]]
            self.assertEqual(frames[1]["function"], "main")
            self.assertTrue(frames[0]["module"].endswith("profile_host_peaks"))
        # Anything else came from the dynamic linker (the thread the allocator starts to
        # give memory back gets its TLS block there).
        for fn, site in s.items():
            if fn not in want:
                module = self.data["frames"][site["stack"][0]]["module"]
                self.assertIn("ld-linux", module, fn)

    def loader_figures(self):
        """Figures of the dynamic linker's blocks (their count depends on timing)."""
        out = [0] * len(FIGURES)
        for s in self.data["sites"]:
            if s["memory"] == "host" and "ld-linux" in (self.data["frames"][s["stack"][0]]["module"] or ""):
                out = [a + b for a, b in zip(out, figures(s))]
        return out

    def test_totals_exact(self):
        h = self.data["host"]
        ld = dict(zip(FIGURES, self.loader_figures()))
        self.assertEqual(h["peak_bytes"] - ld["peak_bytes"], 1500000)
        self.assertEqual(h["allocations"] - ld["allocations"], 1116)
        self.assertEqual(h["temporary"], 103)
        self.assertEqual(h["bytes_allocated"] - ld["bytes_allocated"],
                         100000 + 16000 + 1000000 + 500000 + 600000 + 1000 + 4100)
        self.assertEqual(h["live_at_exit"] - ld["live_at_exit"], 500000)
        self.assertEqual(sum(s["peak_bytes"] for s in self.data["sites"] if s["memory"] == "host"),
                         h["peak_bytes"])
        self.assertEqual(self.data["device"]["allocations"], 0)
        self.assertGreater(h["peak_resident"], h["peak_bytes"])

    def test_timeline_shows_the_peak(self):
        d = self.data
        samples = d["timeline"]["samples"]
        self.assertGreater(len(samples), 5)
        times = [s[0] for s in samples]
        self.assertEqual(times, sorted(times))
        peak = d["host"]["peak_bytes"]
        self.assertEqual(max(s[1] for s in samples), peak)
        # The peak lasted 30 ms, between two pauses of 30 ms; the last sample is at exit.
        at_peak = [s for s in samples if s[1] == peak]
        self.assertLess(abs(at_peak[0][0] - d["host"]["peak_time_ns"]), 5_000_000)
        self.assertEqual(samples[-1][1], d["host"]["live_at_exit"])
        self.assertLessEqual(samples[-1][0], d["duration_ns"])
        self.assertTrue(all(s[2] > 0 for s in samples))

    def test_same_under_the_checks(self):
        """The checks' own paths count as the tracker's: frees of blocks that wait in the
        quarantine, and blocks on guard pages (every sampled one at rate 1, in full mode
        those above 64 KiB)."""
        for env in ({"MPSHIM_CHECK": "sample", "MPSHIM_SAMPLE_RATE": "1"}, {"MPSHIM_CHECK": "light"},
                    {"MPSHIM_CHECK": "full"}):
            with self.subTest(**env):
                _, d = profile_of([os.path.join(ARGS.build, self.PROG)], self.tmp, env, name="checked.json")
                s = sites_by_function(d, "host")
                for fn, want_figures in self.WANT.items():
                    self.assertIn(fn, s)
                    self.assertEqual(figures(s[fn]), want_figures, fn)
                self.assertEqual(d["host"]["temporary"], 103)

    def test_without_the_leak_report(self):
        """MPSHIM_LEAKS=0 turns the leak report off, not the profile."""
        path = os.path.join(self.tmp, "no-leaks.json")
        r = run([os.path.join(ARGS.build, self.PROG), "lose"],
                {"LD_PRELOAD": ARGS.shim, "MPSHIM_PROFILE": path, "MPSHIM_LEAKS": "0",
                 "MPSHIM_LEAK_EXITCODE": "7"})
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        with open(path, encoding="utf-8") as f:
            s = sites_by_function(json.load(f), "host")
        for fn, want_figures in self.WANT.items():
            self.assertEqual(figures(s[fn]), want_figures, fn)

    def test_written_when_leaks_end_the_process(self):
        """MPSHIM_LEAK_EXITCODE ends the process after the leak report: the profile is
        written before it, with the same figures."""
        path = os.path.join(self.tmp, "leaky.json")
        r = run([os.path.join(ARGS.build, self.PROG), "lose"],
                {"LD_PRELOAD": ARGS.shim, "MPSHIM_PROFILE": path, "MPSHIM_LEAK_EXITCODE": "7"})
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertIn("500000 byte(s) leaked in 1 allocation(s)", r.stderr)
        with open(path, encoding="utf-8") as f:
            s = sites_by_function(json.load(f), "host")
        self.assertEqual(figures(s["make_kept"]), (1, 500000, 0, 500000, 500000))

    def test_report_text(self):
        r = report(self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn(f"host: peak {self.data['host']['peak_bytes']:,} bytes", out)
        sections = re.split(r"\n(?=[A-Z ()]+\((?:host|device)\)\n)", out)
        peak = next(x for x in sections if x.startswith("PEAK MEMORY CONSUMERS (host)"))
        lines = peak.splitlines()
        self.assertTrue(lines[1].startswith("1,000,000 bytes (976.56 KiB) live at the peak, from 10"))
        self.assertIn("#0 make_peak_part", lines[2])
        self.assertIn("host_peaks.c:", lines[2])
        self.assertIn("#1 main", lines[3])
        second = [l for l in lines if not l.startswith("    ")][2]
        self.assertTrue(second.startswith("500,000 bytes"), second)
        calls = next(x for x in sections if x.startswith("MOST CALLS TO ALLOCATION FUNCTIONS (host)"))
        self.assertTrue(calls.splitlines()[1].startswith("1,000 calls"))
        self.assertIn("make_many", calls.splitlines()[2])
        temps = next(x for x in sections if x.startswith("MOST TEMPORARY ALLOCATIONS (host)"))
        self.assertTrue(temps.splitlines()[1].startswith("100 temporary allocations of 100 (100.0%)"))
        self.assertIn("make_temporaries", temps.splitlines()[2])
        leaks = next(x for x in sections if x.startswith("MEMORY LIVE AT EXIT (LEAKED) (host)"))
        self.assertTrue(leaks.splitlines()[1].startswith("500,000 bytes"))
        self.assertIn("make_kept", leaks.splitlines()[2])

    def test_source_lines_added_by_report(self):
        # The profile names functions from the symbol tables; `mpshim report` adds files and
        # lines from the debug info of the modules whose build id still matches.
        self.assertIs(self.data["source_lines"], False)
        exe = next(m for m in self.data["modules"] if m["path"].endswith("profile_host_peaks"))
        self.assertRegex(exe["build_id"], r"^[0-9a-f]{16,}$")
        r = report("--json", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        full = json.loads(r.stdout)
        self.assertIs(full["source_lines"], True)
        site = sites_by_function(full, "host")["make_peak_part"]
        inner = full["frames"][site["stack"][0]]
        self.assertTrue(inner["file"].endswith("host_peaks.c"), inner)
        self.assertGreater(inner["line"], 0)
        self.assertEqual(figures(site), figures(sites_by_function(self.data, "host")["make_peak_part"]))

    def test_changed_module_keeps_no_lines(self):
        changed = json.loads(json.dumps(self.data))
        for m in changed["modules"]:
            if m["path"].endswith("profile_host_peaks"):
                m["build_id"] = "00" * 20
        path = os.path.join(self.tmp, "changed.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(changed, f)
        r = report(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("profile_host_peaks changed since the profile was written", r.stderr)
        self.assertIn("#0 make_peak_part in ", r.stdout)
        self.assertNotIn("host_peaks.c:", r.stdout)

    def test_report_top_and_kind(self):
        r = report("--top", "1", "--kind", "host", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("(device)", r.stdout)
        peak = r.stdout.split("PEAK MEMORY CONSUMERS (host)\n")[1].split("\n\n")[0]
        self.assertEqual(len([l for l in peak.splitlines() if not l.startswith("    ")]), 2)
        self.assertRegex(peak, r"\n\.\.\. and \d+ more \(--top\)$")
        r = report("--kind", "device", self.path)
        self.assertIn("PEAK MEMORY CONSUMERS (device)\n    (none)", r.stdout)
        self.assertNotIn("(host)\n", r.stdout)


class ThreadProfile(ProgramProfile):
    """Threads at the same sites, and more sites than a thread's table of counters holds."""
    PROG = "profile_thread_sites"

    def test_sites_exact(self):
        s = sites_by_function(self.data, "host")
        threads, rounds = 4, 20
        self.assertEqual(figures(s["keep_block"]), (4000, 256000, 0, 25600, 25600))
        self.assertEqual(figures(s["make_peak"]), (1, 16 << 20, 1, 16 << 20, 0))
        many = [fn for fn in s if fn and fn.startswith("site_")]
        self.assertEqual(len(many), 300)
        for fn in many:
            self.assertEqual(figures(s[fn]), (threads * rounds, 24 * threads * rounds, threads * rounds, 0, 0), fn)


class SmallHeapProfile(ProgramProfile):
    """A heap of 3,200 bytes at most, each event a 1% change of it."""
    PROG = "profile_small_heap"

    def test_sites_exact(self):
        s = sites_by_function(self.data, "host")
        self.assertEqual(figures(s["small_block"]), (2000000, 64000000, 0, 3200, 0))

    def test_timeline_keeps_the_interval(self):
        # A sample at every event filled the timeline (32,768 samples) and merged it; the
        # 10 ms samples of a run of well under 5 s are fewer than 500.
        samples = self.data["timeline"]["samples"]
        self.assertLess(len(samples), 500)
        self.assertGreater(len(samples), 1)
        self.assertLessEqual(max(s[1] for s in samples), self.data["host"]["peak_bytes"])
        self.assertEqual(samples[-1][1], self.data["host"]["live_at_exit"])


class DeviceProfile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mpshim-profile-")
        prog = os.path.join(ARGS.build, "profile_device_peaks")
        cls.data = {}
        # "light": the cache under MPSHIM_CHECK=light, whose frees (device and pinned) must
        # count as without it.
        for mode, cuda, check in (("on", "on", None), ("track", "track", None), ("light", "on", "light")):
            env = {"LD_LIBRARY_PATH": ARGS.fake_cuda, "MPSHIM_CUDA": cuda}
            if check:
                env["MPSHIM_CHECK"] = check
            _, cls.data[mode] = profile_of([prog], cls.tmp, env, f"{mode}.json")
        cls.path = os.path.join(cls.tmp, "on.json")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_device_sites_exact(self):
        for mode, d in self.data.items():
            s = sites_by_function(d, "device")
            want = {  # allocations, bytes, temporary, peak, exit
                "dev_temporary": (5, 5 * MiB, 5, 0, 0),
                "dev_peak_part": (2, 8 * MiB, 0, 8 * MiB, 0),
                "dev_kept": (1, 1000000, 0, 1000000, 1000000),
                "dev_after": (1, 2 * MiB, 1, 0, 0),
            }
            self.assertEqual(set(s), set(want), mode)
            for fn, w in want.items():
                got = figures(s[fn])
                if mode == "track":
                    # Without the cache the driver allocates host memory in cuMemFree before
                    # the free is recorded: by heaptrack's rule no block is temporary.
                    w = w[:2] + (0,) + w[3:]
                self.assertEqual(got, w, (mode, fn))
            dev = d["device"]
            self.assertEqual((dev["peak_bytes"], dev["allocations"], dev["live_at_exit"]),
                             (8 * MiB + 1000000, 9, 1000000), mode)
            self.assertEqual(dev["temporary"], 0 if mode == "track" else 6)
            pinned = sites_by_function(d, "host")["pinned_block"]
            self.assertEqual((pinned["allocations"], pinned["bytes_allocated"], pinned["live_at_exit"]),
                             (1, 4096, 0), mode)

    def test_reserved(self):
        cached, track = self.data["on"]["device"], self.data["track"]["device"]
        # The cache keeps whole segments (2 MiB small, 20 MiB large ones).
        self.assertGreaterEqual(cached["peak_reserved"], cached["peak_bytes"])
        self.assertEqual(cached["peak_reserved"] % (2 * MiB), 0)
        self.assertEqual(track["peak_reserved"], track["peak_bytes"])
        samples = self.data["on"]["timeline"]["samples"]
        self.assertEqual(max(s[3] for s in samples), 8 * MiB + 1000000)
        self.assertTrue(all(s[4] >= s[3] for s in samples))
        self.assertEqual(samples[-1][3], 1000000)

    def test_report_device(self):
        r = report("--kind", "device", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        peak = r.stdout.split("PEAK MEMORY CONSUMERS (device)\n")[1]
        self.assertTrue(peak.startswith(f"{8 * MiB:,} bytes (8.00 MiB) live at the peak, from 2 "
                                        "allocation(s) in all, 2 call stacks, the largest shown:"), peak)
        self.assertIn("#0 dev_peak_part", peak.splitlines()[1])
        self.assertIn("device: peak 9,388,608 bytes", r.stdout)


def consumer_key(function, module):
    """How both tools' innermost frames are compared: the function (glibc's internal alias
    prefix dropped), or the module's file name where the function is unknown."""
    if function and not function.startswith("0x") and function != "??":
        return function.replace("__GI_", "", 1)
    return os.path.basename(module or "?")


def heaptrack_top(prog_argv, tmp, stdin):
    """heaptrack_print's peak consumers (merged by innermost frame): [(key, bytes)]."""
    base = os.path.join(tmp, "ht")
    with open(stdin) as f:
        r = run(["heaptrack", "-o", base, *prog_argv], timeout=600, stdin=f)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    data = next(os.path.join(tmp, p) for p in os.listdir(tmp) if p.startswith("ht."))
    r = run(["heaptrack_print", "--print-peaks", "1", "--print-allocators", "0",
             "--print-temporary", "0", "--print-leaks", "0", "--peak-limit", "10", data], timeout=600)
    section = r.stdout.split("PEAK MEMORY CONSUMERS")[1]
    tops = []
    for m in re.finditer(r"^([\d.]+)([KMGT]?) peak memory consumed over \d+ calls from\n(\S.*)\n(?:  at .*\n)?  in (.*)$",
                         section, re.M):
        scale = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]
        tops.append((consumer_key(m.group(3), m.group(4)), float(m.group(1)) * scale))
    return tops


class RealProgram(unittest.TestCase):
    """The top peak consumers of sqlite3 agree with heaptrack_print's on the same run."""

    def test_sqlite3_peak_consumers_agree_with_heaptrack(self):
        sqlite = shutil.which("sqlite3")
        if not (sqlite and shutil.which("heaptrack") and shutil.which("heaptrack_print")):
            self.skipTest("sqlite3 or heaptrack not installed")
        with tempfile.TemporaryDirectory(prefix="mpshim-profile-") as tmp:
            sql = os.path.join(tmp, "w.sql")
            with open(sql, "w") as f:
                f.write("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);\nBEGIN;\n")
                for i in range(20000):
                    f.write(f"INSERT INTO t(b) VALUES ('{'x' * (i % 200)}');\n")
                f.write("COMMIT;\nSELECT count(*), sum(length(b)) FROM t;\n"
                        "CREATE INDEX i ON t(b);\nSELECT b FROM t ORDER BY b LIMIT 3;\n")
            db = os.path.join(tmp, "db")
            profile_of([sqlite, db], tmp, stdin=sql)
            # As `mpshim report` shows them: with inlined calls from the debug info.
            r = report("--json", os.path.join(tmp, "profile.json"))
            self.assertEqual(r.returncode, 0, r.stderr)
            data = json.loads(r.stdout)
            os.remove(db)
            ht = heaptrack_top([sqlite, db], tmp, sql)
        ours = {}
        for s in data["sites"]:
            if s["memory"] == "host" and s["peak_bytes"] > 0 and s["stack"]:
                fr = data["frames"][s["stack"][0]]
                key = consumer_key(fr["function"], fr["module"])
                ours[key] = ours.get(key, 0) + s["peak_bytes"]
        ranked = sorted(ours.items(), key=lambda kv: -kv[1])
        self.assertTrue(ht, "heaptrack_print listed no peak consumer")
        # heaptrack's top consumer is ours, with the same bytes (heaptrack prints 3 digits).
        top_key, top_bytes = ht[0]
        self.assertEqual(ranked[0][0], top_key, f"heaptrack {ht[:3]}, mpshim {ranked[:3]}")
        self.assertAlmostEqual(ranked[0][1], top_bytes, delta=0.01 * top_bytes)
        self.assertGreater(top_bytes, 1e6)
        # Our next consumers are in heaptrack's list with the same figures; heaptrack's own
        # list also holds its own libstdc++ pool, which the program never allocated.
        theirs = dict(ht)
        for key, bytes_ in ranked[1:3]:
            self.assertIn(key, theirs, f"heaptrack {ht}, mpshim {ranked[:3]}")
            self.assertAlmostEqual(theirs[key], bytes_, delta=0.01 * bytes_ + 10)


class SharedPath(unittest.TestCase):
    """A path without %p is the started program's profile; the processes it starts and
    follows write PATH.PID beside it instead of over it, and those it does not follow none."""

    def test_children_write_beside_the_program(self):
        with tempfile.TemporaryDirectory(prefix="mpshim-profile-") as tmp:
            path = os.path.join(tmp, "p.json")
            env = {"LD_PRELOAD": ARGS.shim, "MPSHIM_PROFILE": path, "MPSHIM_CHILDREN": "all"}
            r = run(["bash", "-c", "ls / > /dev/null; echo $$"], env)  # dash ends with _exit
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(path, encoding="utf-8") as f:
                self.assertEqual(json.load(f)["pid"], int(r.stdout.split()[-1]))
            others = [n for n in os.listdir(tmp) if n.startswith("p.json.")]
            self.assertEqual(len(others), 1, os.listdir(tmp))
            with open(os.path.join(tmp, others[0]), encoding="utf-8") as f:
                child = json.load(f)
            self.assertEqual(others[0], f"p.json.{child['pid']}")
            self.assertTrue(child["exe"].endswith("/ls"), child["exe"])

    def test_programs_not_followed_write_none(self):
        with tempfile.TemporaryDirectory(prefix="mpshim-profile-") as tmp:
            path = os.path.join(tmp, "p-%p.json")
            env = {"LD_PRELOAD": ARGS.shim, "MPSHIM_PROFILE": path}
            r = run(["bash", "-c", "ls / > /dev/null; /bin/true; echo $$"], env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(os.listdir(tmp), [f"p-{r.stdout.split()[-1]}.json"])


class HtmlPage(unittest.TestCase):
    """The page of `mpshim report --html` in headless Chromium: no console error, the
    timeline and both flame graphs drawn, a click on a frame zooms, a screenshot saved."""

    @classmethod
    def setUpClass(cls):
        cls.chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        cls.tmp = os.path.abspath(os.path.join(ARGS.build, "profile-page"))
        os.makedirs(cls.tmp, exist_ok=True)
        env = {"LD_LIBRARY_PATH": ARGS.fake_cuda}
        _, data = profile_of([os.path.join(ARGS.build, "profile_device_peaks")], cls.tmp, env)
        cls.json = os.path.join(cls.tmp, "profile.json")
        cls.page = os.path.join(cls.tmp, "profile.html")
        r = report("--html", cls.json, "-o", cls.page)
        assert r.returncode == 0, r.stderr

    def chromium_args(self):
        if self.chromium is None:
            self.skipTest("chromium not installed")
        profile_dir = tempfile.mkdtemp(prefix="mpshim-chromium-")
        self.addCleanup(shutil.rmtree, profile_dir, True)
        return [self.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--user-data-dir=" + profile_dir, "--window-size=1200,1700",
                "--virtual-time-budget=10000"]

    def test_self_contained(self):
        with open(self.page, encoding="utf-8") as f:
            html = f.read()
        self.assertIsNone(re.search(r"""<(script|link)[^>]+(src|href)=["']?(https?:)?//""", html))
        self.assertIn("d3.layout.partition", html)
        self.assertIn("new Dygraph", html)

    def test_self_test_in_chromium(self):
        args = self.chromium_args()
        r = run(args + ["--enable-logging=stderr", "--v=0", "--dump-dom",
                        "file://" + self.page + "#selftest"], timeout=180)
        m = re.search(r'<pre id="selftest"[^>]*>(.*?)</pre>', r.stdout, re.S)
        self.assertIsNotNone(m, r.stdout[-2000:] + r.stderr[-3000:])
        result = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&")
                            .replace("&lt;", "<").replace("&gt;", ">"))
        self.assertEqual(result["errors"], [])
        self.assertTrue(result["timeline"], result)
        self.assertGreater(result["flame_peak_frames"], 3)
        self.assertGreater(result["flame_count_frames"], 3)
        self.assertTrue(result["zoomed"], result)
        self.assertTrue(result["search"], result)
        self.assertGreaterEqual(result["leak_rows"], 1)
        self.assertTrue(result["done"])
        console_errors = [l for l in r.stderr.splitlines()
                          if "CONSOLE" in l and re.search(r"Uncaught|Error", l)]
        self.assertEqual(console_errors, [])

    def test_screenshot(self):
        args = self.chromium_args()
        shot = os.path.join(self.tmp, "profile.png")
        if os.path.exists(shot):
            os.remove(shot)
        r = run(args + ["--screenshot=" + shot, "file://" + self.page], timeout=180, cwd=self.tmp)
        self.assertTrue(os.path.exists(shot), r.stderr[-2000:])
        with open(shot, "rb") as f:
            head = f.read(24)
        self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        self.assertEqual((width, height), (1200, 1700))
        self.assertGreater(os.path.getsize(shot), 20000)  # more than a blank page


def write_junit(path, result, cases):
    suite = ET.Element("testsuite", name="e2e_profile", tests=str(len(cases)))
    failed = {t.id(): tb for t, tb in result.failures + result.errors}
    skipped = {t.id(): why for t, why in result.skipped}
    for case in cases:
        el = ET.SubElement(suite, "testcase", classname=case.id().rsplit(".", 1)[0],
                           name=case.id().rsplit(".", 1)[1])
        if case.id() in failed:
            ET.SubElement(el, "failure", message="failed").text = failed[case.id()]
        elif case.id() in skipped:
            ET.SubElement(el, "skipped", message=skipped[case.id()])
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--shim", required=True)
    ap.add_argument("--fake-cuda", required=True)
    ap.add_argument("--scripts", required=True)
    ap.add_argument("--logger", default="")
    ap.add_argument("tests", nargs="*")
    ARGS = ap.parse_args()
    loader = unittest.defaultTestLoader
    suite = loader.loadTestsFromNames(ARGS.tests, sys.modules[__name__]) if ARGS.tests else \
        loader.loadTestsFromModule(sys.modules[__name__])
    cases = []

    def flatten(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                flatten(t)
            else:
                cases.append(t)
    flatten(suite)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    if ARGS.logger:
        write_junit(ARGS.logger.split(",")[-1], result, cases)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
