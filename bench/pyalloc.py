#!/usr/bin/env python3
"""Allocation-heavy pure-Python workload: dicts, lists, strings, JSON and a sort, with
results checked. Usage: pyalloc.py [--smoke] [SCALE]: SCALE rounds of 20,000 records
(5,000 with --smoke)."""
import json
import sys


def records(n, seed):
    """n small dicts with nested lists and formatted strings."""
    out = []
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append({
            "id": i,
            "name": "user-%d-%x" % (i, x),
            "tags": [str(x % (k + 7)) for k in range(x % 8)],
            "score": (x % 10007) / 7.0,
            "meta": {"parent": i // 3, "ok": x & 1 == 0},
        })
    return out


def round_trip(rows):
    """Serialises and parses the rows, then indexes them by name."""
    text = json.dumps(rows, sort_keys=True)
    back = json.loads(text)
    if back != rows:
        raise SystemExit("json round trip changed the data")
    index = {r["name"]: r for r in back}
    return text, index


def text_work(text):
    """Word counting on a long string: many short-lived strings and dict entries."""
    counts = {}
    for word in text.replace(",", " ").replace(":", " ").split():
        counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]


def main():
    smoke = "--smoke" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--smoke"]
    scale = int(args[0]) if args else 1
    total = 0
    for rnd in range(scale):
        rows = records(5000 if smoke else 20000, rnd + 1)
        text, index = round_trip(rows)
        top = text_work(text)
        if len(index) != len(rows) or not top:
            raise SystemExit("lost records")
        parents = {}
        for r in rows:
            parents.setdefault(r["meta"]["parent"], []).append(r["id"])
        if sum(len(v) for v in parents.values()) != len(rows):
            raise SystemExit("lost children")
        total += len(text)
    return 0 if total > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
