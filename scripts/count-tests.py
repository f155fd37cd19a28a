#!/usr/bin/env python3
"""Counts every test case of every suite after `meson test` runs and prints the failures,
then one last line `N passed, M failed`.

    scripts/count-tests.py BUILDDIR

Reads each BUILDDIR/meson-logs/testlog*.json (one per test setup: plain, valgrind, ...).
A GoogleTest program counts its cases (Meson merges them into testlog*.junit.xml); a Boost.Test
program counts the cases of the JUnit file named in its `--logger=...JUNIT,...,FILE` argument;
any other test counts as one case. A unit test case counts once in each variant it runs in
(plain, AddressSanitizer, valgrind); the counts per variant are printed above the total. A program that failed although all its cases passed
(crash, timeout, leak report) adds one failed case. Exit status 1 when anything failed or
nothing ran.
"""
import glob
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

PASSING = {"OK", "EXPECTEDFAIL"}
DETAIL_LINES = 25  # of each failure, printed under its name (the CI log keeps its tail)


def failure_text(case):
    """The first lines of what a failed testcase says (its failure and error elements)."""
    lines = []
    for tag in ("failure", "error"):
        for e in case.findall(tag):
            for part in (e.get("message"), e.text):
                if part:
                    lines += [l for l in part.strip().splitlines() if l.strip()]
    return lines[:DETAIL_LINES]


def junit_cases(root):
    """(name, status, detail) of every testcase under `root`; status is pass, fail or skip."""
    for case in root.iter("testcase"):
        name = case.get("name", "?")
        classname = case.get("classname")
        full = f"{classname}.{name}" if classname else name
        if case.find("failure") is not None or case.find("error") is not None:
            yield full, "fail", failure_text(case)
        elif case.find("skipped") is not None or case.get("status") == "notrun":
            yield full, "skip", []
        else:
            yield full, "pass", []


def parse_xml(path):
    """Parses a JUnit file, dropping characters XML forbids (test output may hold any)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = re.sub(r"[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]", "", f.read())
    return ET.fromstring(text)


def boost_junit_path(command):
    for arg in command:
        if arg.startswith("--logger=") and "JUNIT" in arg:
            for logger in arg[len("--logger="):].split(":"):
                parts = logger.split(",")
                if parts[0] == "JUNIT" and len(parts) >= 3:
                    return parts[-1]
    return None


def gtest_suites(junit_file):
    """Meson names merged GoogleTest suites PROJECT.TEST.SUITE: map TEST.SUITE -> element."""
    if not os.path.exists(junit_file):
        return {}
    suites = {}
    for suite in parse_xml(junit_file).iter("testsuite"):
        name = suite.get("name", "")
        if suite.find("testcase") is not None and name.count(".") >= 2:
            suites[name.split(".", 1)[1]] = suite
    return suites


def variant(setup, name):
    """Which build or runner a test ran under: plain, asan or valgrind."""
    if setup == "valgrind" or name.endswith("-valgrind"):
        return "valgrind"
    return "asan" if name.endswith("-asan") else "plain"


def count_log(json_file, setup):
    junit = gtest_suites(json_file[: -len(".json")] + ".junit.xml")
    results = []  # (label, status, variant, detail)
    with open(json_file) as f:
        tests = [json.loads(line) for line in f if line.strip()]
    for t in tests:
        name, result = t["name"], t["result"]
        label = f"[{setup}] {name}" if setup else name
        kind = variant(setup, name)
        cases = []
        boost = boost_junit_path(t.get("command", []))
        if boost:
            # A file older than this run belongs to an earlier one: ignore it.
            if os.path.exists(boost) and os.path.getmtime(boost) >= t["starttime"] - 1:
                cases = list(junit_cases(parse_xml(boost)))
        else:
            for key, suite in junit.items():
                if key.startswith(name + "."):
                    cases += junit_cases(suite)
        cases = [(f"{label}: {c}", s, d) for c, s, d in cases]
        if not cases:
            status = "pass" if result in PASSING else "skip" if result == "SKIP" else "fail"
            cases = [(label, status, [])]
        elif result not in PASSING and result != "SKIP" and all(s != "fail" for _, s, _ in cases):
            cases.append((f"{label} (program {result.lower()}, "
                          f"exit status {t.get('returncode')})", "fail", []))
        results += [(c, s, kind, d) for c, s, d in cases]
    return results


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    logs = sorted(glob.glob(os.path.join(build, "meson-logs", "testlog*.json")))
    results = []
    for log in logs:
        setup = os.path.basename(log)[len("testlog"):-len(".json")].lstrip("-")
        results += count_log(log, setup)
    failed = [(c, d) for c, s, _, d in results if s == "fail"]
    skipped = [c for c, s, _, _ in results if s == "skip"]
    passed = sum(1 for _, s, _, _ in results if s == "pass")
    for c in skipped:
        print(f"SKIPPED {c}")
    for c, detail in failed:
        print(f"FAILED  {c}")
        for line in detail:
            print(f"    {line[:300]}")
    if skipped:
        print(f"{len(skipped)} skipped")
    # A unit test case counts once per variant it ran in: say how many of each.
    for kind, what in (("plain", "plain builds (unit and end-to-end)"),
                       ("asan", "AddressSanitizer builds of the unit tests"),
                       ("valgrind", "unit tests under valgrind memcheck")):
        mine = [s for _, s, k, _ in results if k == kind]
        if mine:
            print(f"  {what}: {mine.count('pass')} passed, {mine.count('fail')} failed")
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
