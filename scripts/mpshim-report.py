#!/usr/bin/env python3
"""Summarises an mpshim allocation profile (MPSHIM_PROFILE, docs/profile-format.md).

    mpshim report [--top N] [--kind host|device] PROFILE.json
    mpshim report --html PROFILE.json -o page.html
    mpshim report --json PROFILE.json [-o FILE]

The text summary follows heaptrack_print: the top peak consumers, the top allocators by
count, the top temporary allocators and the memory live at exit, each with its stack.
--html writes one self-contained page (timeline, flame graphs, leak table) that works
offline: the plotting libraries are inlined when it is built. --json writes the profile
with its source lines added.

The profile names each frame's function from the symbol tables; files, lines and inlined
calls are read here from the modules' debug info with binutils' addr2line, for modules whose
build id still matches the profile's.
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys

SCHEMA = 1


def human(n):
    """Bytes in binary units, as heaptrack_print prints them (1.50M, 976.56K)."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TiB"


def load(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if data.get("mpshim_profile") != SCHEMA:
        raise SystemExit(f"mpshim report: {path} is not an mpshim profile of schema {SCHEMA}")
    return data


# ---- source lines ------------------------------------------------------------------------

def elf_build_id(path):
    """The GNU build id (hex) among the ELF file's notes; None when none or unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 52 or head[:4] != b"\x7fELF":
                return None
            wide, end = head[4] == 2, "<" if head[5] == 1 else ">"
            if wide:
                phoff, = struct.unpack_from(end + "Q", head, 32)
                phentsize, phnum = struct.unpack_from(end + "HH", head, 54)
            else:
                phoff, = struct.unpack_from(end + "I", head, 28)
                phentsize, phnum = struct.unpack_from(end + "HH", head, 42)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
            for i in range(phnum):
                ph = table[i * phentsize:(i + 1) * phentsize]
                if struct.unpack_from(end + "I", ph, 0)[0] != 4:  # PT_NOTE
                    continue
                # p_offset and p_filesz
                if wide:
                    off, size = struct.unpack_from(end + "Q", ph, 8)[0], struct.unpack_from(end + "Q", ph, 32)[0]
                else:
                    off, size = struct.unpack_from(end + "I", ph, 4)[0], struct.unpack_from(end + "I", ph, 16)[0]
                f.seek(off)
                notes, p = f.read(size), 0
                while p + 12 <= len(notes):
                    namesz, descsz, ntype = struct.unpack_from(end + "III", notes, p)
                    desc = p + 12 + ((namesz + 3) & ~3)
                    if ntype == 3 and notes[p + 12:p + 12 + namesz] == b"GNU\0":
                        return notes[desc:desc + descsz].hex()
                    p = desc + ((descsz + 3) & ~3)
    except (OSError, struct.error):
        return None
    return None


DISCRIMINATOR = re.compile(r" \(discriminator \d+\)$")


def addr2line(tool, path, offsets):
    """For each return address offset in the module at `path`, the source frames of the
    call before it, innermost first: [(function, file, line)]; None when addr2line fails."""
    text = "".join(f"{o - 1:#x}\n" for o in offsets)
    try:
        r = subprocess.run([tool, "-a", "-f", "-i", "-C", "-e", path], input=text,
                           capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError):
        return None
    groups = []
    lines = r.stdout.splitlines()
    i = 0
    while i < len(lines):
        if not re.fullmatch(r"0x[0-9a-f]+", lines[i]):
            return None
        chain, i = [], i + 1
        while i + 1 < len(lines) and not re.fullmatch(r"0x[0-9a-f]+", lines[i]):
            fn, where = lines[i], DISCRIMINATOR.sub("", lines[i + 1])
            file, _, line = where.rpartition(":")
            chain.append((None if fn == "??" else fn, None if file in ("", "??") else file,
                          int(line) if line.isdigit() and int(line) > 0 else None))
            i += 2
        groups.append(chain)
    return groups if r.returncode == 0 and len(groups) == len(offsets) else None


def add_source_lines(data, warn):
    """Files, lines and inlined calls for the frames of a profile that has none yet: each
    frame becomes the chain of source frames at its address (innermost first), the sites'
    stacks follow. Modules that changed since the profile was written are left as they are."""
    if data.get("source_lines", True):
        return
    frames = data["frames"]
    tool = shutil.which("addr2line")
    by_module = {}
    for i, fr in enumerate(frames):
        if fr.get("module") and fr.get("offset"):
            by_module.setdefault(fr["module"], []).append(i)
    if by_module and tool is None:
        warn("addr2line (Debian's binutils) not found: stacks are shown without source lines")
    ids = {m["path"]: m.get("build_id") for m in data.get("modules", [])}
    chains = {}
    for path, idx in sorted(by_module.items()) if tool else ():
        if not os.path.isfile(path):
            continue
        want = ids.get(path)
        if want and elf_build_id(path) != want:
            warn(f"{path} changed since the profile was written (its build id): "
                 "its frames are shown without source lines")
            continue
        got = addr2line(tool, path, [int(frames[i]["offset"], 16) for i in idx])
        if got is not None:
            chains.update(zip(idx, got))
    out, where = [], []
    for i, fr in enumerate(frames):
        chain = chains.get(i)
        # Without debug info addr2line names the nearest symbol before the address, which
        # need not hold it: the profile's own name stands.
        if not chain or not any(file for _, file, _ in chain):
            chain = [(fr.get("function"), fr.get("file"), fr.get("line"))]
        first = len(out)
        for k, (fn, file, line) in enumerate(chain):
            outer = k == len(chain) - 1
            new = dict(fr, file=file, line=line)
            # The symbol table's name of the function itself (with parameter types in C++).
            new["function"] = (fr.get("function") or fn) if outer else fn
            if not outer:
                new["inlined"] = True
            out.append(new)
        where.append(range(first, len(out)))
    for s in data["sites"]:
        s["stack"] = [j for i in s["stack"] for j in where[i]]
    data["frames"] = out
    data["source_lines"] = True


def frame_label(fr):
    """A frame as heaptrack_print names it: the function, else module+offset, else pc."""
    if fr.get("function"):
        return fr["function"]
    if fr.get("module"):
        return f"{os.path.basename(fr['module'])}+{fr['offset']}"
    return fr["pc"]


def frame_line(fr):
    where = ""
    if fr.get("file"):
        where = f" {fr['file']}" + (f":{fr['line']}" if fr.get("line") else "")
    module = f" in {fr['module']}" if fr.get("module") else ""
    return f"{frame_label(fr)}{where}{module}"


# What each section ranks by and how a row reads (g: a group of sites, merged by their
# innermost frame as heaptrack_print merges backtraces).
SECTIONS = [
    ("PEAK MEMORY CONSUMERS", "peak_bytes",
     lambda g: f"{g['peak_bytes']:,} bytes ({human(g['peak_bytes'])}) live at the peak, from "
               f"{g['allocations']:,} allocation(s) in all{stacks(g)}:"),
    ("MOST CALLS TO ALLOCATION FUNCTIONS", "allocations",
     lambda g: f"{g['allocations']:,} calls to allocation functions, {human(g['bytes_allocated'])} "
               f"allocated, {human(g['peak_bytes'])} at the peak{stacks(g)}:"),
    ("MOST TEMPORARY ALLOCATIONS", "temporary",
     lambda g: f"{g['temporary']:,} temporary allocations of {g['allocations']:,} "
               f"({100.0 * g['temporary'] / max(g['allocations'], 1):.1f}%){stacks(g)}:"),
    ("MEMORY LIVE AT EXIT (LEAKED)", "live_at_exit",
     lambda g: f"{g['live_at_exit']:,} bytes ({human(g['live_at_exit'])}) never freed, from "
               f"{g['allocations']:,} allocation(s) in all{stacks(g)}:"),
]
FIGURES = ("allocations", "bytes_allocated", "temporary", "peak_bytes", "live_at_exit")


def stacks(g):
    return f", {len(g['sites'])} call stacks, the largest shown" if len(g["sites"]) > 1 else ""


def merge_sites(data, kind, key):
    """Sites of `kind` with key > 0, grouped by innermost frame; each group lists its sites
    largest first and sums their figures."""
    frames = data["frames"]
    groups = {}
    for s in data["sites"]:
        if s["memory"] != kind or s[key] <= 0:
            continue
        inner = frame_line(frames[s["stack"][0]]) if s["stack"] else "(no stack recorded)"
        g = groups.setdefault(inner, {"sites": [], **{k: 0 for k in FIGURES}})
        g["sites"].append(s)
        for k in FIGURES:
            g[k] += s[k]
    for g in groups.values():
        g["sites"].sort(key=lambda s: (-s[key], s["stack"]))
    return sorted(groups.values(), key=lambda g: (-g[key], g["sites"][0]["stack"]))


def text_report(data, top, kinds, out):
    frames = data["frames"]
    w = out.write
    secs = data["duration_ns"] / 1e9
    w(f"mpshim profile of {data['exe']} (pid {data['pid']}), {secs:.3f} s\n")
    for kind in ("host", "device"):
        t = data[kind]
        extra = (f"peak resident {human(t['peak_resident'])}" if kind == "host"
                 else f"peak reserved {human(t['peak_reserved'])}")
        w(f"{kind}: peak {t['peak_bytes']:,} bytes ({human(t['peak_bytes'])}) at "
          f"{t['peak_time_ns'] / 1e9:.3f} s; {t['allocations']:,} allocations "
          f"({t['temporary']:,} temporary), {human(t['bytes_allocated'])} allocated in all; "
          f"{human(t['live_at_exit'])} live at exit; {extra}\n")
    for kind in kinds:
        for title, key, head in SECTIONS:
            ranked = merge_sites(data, kind, key)
            w(f"\n{title} ({kind})\n")
            if not ranked:
                w("    (none)\n")
            for g in ranked[:top]:
                w(head(g) + "\n")
                stack = g["sites"][0]["stack"]
                if not stack:
                    w("    (no stack recorded)\n")
                for k, i in enumerate(stack):
                    w(f"    #{k} {frame_line(frames[i])}\n")
            if len(ranked) > top:
                w(f"... and {len(ranked) - top} more (--top)\n")


# ---- HTML ------------------------------------------------------------------------------

# Debian's libjs-d3 (d3 3.x: the partition layout) and libjs-dygraphs.
LIBRARIES = {
    "d3": ["/usr/share/javascript/d3/d3.min.js", "/usr/share/javascript/d3/d3.js"],
    "dygraph": ["/usr/share/javascript/dygraphs/dygraph.min.js",
                "/usr/share/javascript/dygraphs/dygraph.js"],
}
DYGRAPH_CSS = ["/usr/share/javascript/dygraphs/dygraph.min.css",
               "/usr/share/javascript/dygraphs/dygraph.css"]


def read_first(paths, what):
    for p in paths:
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                return f.read()
    raise SystemExit(f"mpshim report: {what} not found (install Debian's package: "
                     f"scripts/install-deps.sh); looked for {', '.join(paths)}")


def flame_tree(data, kind, key):
    """The sites of `kind` as a tree of frames, outermost first, weighted by `key`."""
    frames = data["frames"]
    root = {"name": "all", "value": 0, "children": {}}
    for s in data["sites"]:
        if s["memory"] != kind or s[key] <= 0:
            continue
        node = root
        node["value"] += s[key]
        for i in reversed(s["stack"] or []):
            name = frame_label(frames[i])
            child = node["children"].get(name)
            if child is None:
                child = node["children"][name] = {"name": name, "value": 0, "children": {}}
            child["value"] += s[key]
            node = child

    def plain(n):
        return {"name": n["name"], "value": n["value"],
                "children": [plain(c) for c in sorted(n["children"].values(), key=lambda c: -c["value"])]}
    return plain(root)


def leak_rows(data):
    frames = data["frames"]
    rows = []
    for s in sorted(data["sites"], key=lambda s: -s["live_at_exit"]):
        if s["live_at_exit"] <= 0:
            continue
        rows.append({"memory": s["memory"], "bytes": s["live_at_exit"],
                     "allocations": s["allocations"],
                     "stack": [frame_line(frames[i]) for i in s["stack"]]})
    return rows


def html_report(data, out_path, template_path):
    with open(template_path, encoding="utf-8") as f:
        page = f.read()
    tl = data["timeline"]
    model = {
        "exe": data["exe"], "pid": data["pid"], "duration_ns": data["duration_ns"],
        "host": data["host"], "device": data["device"],
        "columns": tl["columns"], "samples": tl["samples"],
        "flame": {
            "host_peak": flame_tree(data, "host", "peak_bytes"),
            "device_peak": flame_tree(data, "device", "peak_bytes"),
            "host_count": flame_tree(data, "host", "allocations"),
            "device_count": flame_tree(data, "device", "allocations"),
        },
        "leaks": leak_rows(data),
    }
    # "</" cannot appear inside a <script> element.
    blob = json.dumps(model, separators=(",", ":")).replace("</", "<\\/")
    parts = {
        "/*D3*/": read_first(LIBRARIES["d3"], "d3 (libjs-d3)"),
        "/*DYGRAPH*/": read_first(LIBRARIES["dygraph"], "dygraphs (libjs-dygraphs)"),
        "/*DYGRAPH_CSS*/": read_first(DYGRAPH_CSS, "dygraphs' stylesheet (libjs-dygraphs)"),
        "/*PROFILE*/": blob,
    }
    for marker, text in parts.items():
        page = page.replace(marker, text.replace("</script", "<\\/script"), 1)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(page)


def main(argv):
    ap = argparse.ArgumentParser(prog="mpshim report", description=__doc__.split("\n")[0])
    ap.add_argument("profile", help="the JSON file MPSHIM_PROFILE (mpshim --profile) wrote")
    ap.add_argument("--top", type=int, default=10, help="sites listed per section (default 10)")
    ap.add_argument("--kind", choices=["host", "device"], help="only host or only device memory")
    ap.add_argument("--html", action="store_true", help="write an HTML page instead of text")
    ap.add_argument("--json", action="store_true",
                    help="write the profile with its source lines added instead of text")
    ap.add_argument("-o", "--output", help="where the page (or the text) goes (default: stdout "
                    "for text, PROFILE.html for --html)")
    args = ap.parse_args(argv)
    data = load(args.profile)
    add_source_lines(data, lambda m: print(f"mpshim report: {m}", file=sys.stderr))
    if args.json:
        with open(args.output, "w", encoding="utf-8") if args.output else sys.stdout as f:
            json.dump(data, f, separators=(",", ":"))
            f.write("\n")
        return 0
    if args.html:
        here = os.path.dirname(os.path.realpath(__file__))
        template = next((p for p in (os.path.join(here, "mpshim-report.html"),
                                     os.path.join(here, "..", "share", "mpshim", "mpshim-report.html"))
                         if os.path.exists(p)), None)
        if template is None:
            raise SystemExit("mpshim report: the page template mpshim-report.html is missing")
        out = args.output or os.path.splitext(args.profile)[0] + ".html"
        html_report(data, out, template)
        return 0
    kinds = [args.kind] if args.kind else ["host", "device"]
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            text_report(data, args.top, kinds, f)
    else:
        text_report(data, args.top, kinds, sys.stdout)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(0)
