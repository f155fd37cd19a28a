# Allocation-heavy Python run by e2e_programs with and without the shim; prints a summary
# that must be identical in both runs.
import hashlib
import json
import random

rng = random.Random(12345)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 12)))
         for _ in range(60000)]

counts = {}
for w in words:
    counts[w] = counts.get(w, 0) + 1
print("distinct words", len(counts))
print("top", sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5])

records = [{"id": i, "name": words[i], "tags": words[i:i + rng.randint(0, 6)],
            "score": rng.random() * 100, "nested": {"k": [i, i * 2, str(i)]}}
           for i in range(25000)]
text = json.dumps(records, sort_keys=True)
back = json.loads(text)
print("json bytes", len(text), "roundtrip", back == records)
print("json sha256", hashlib.sha256(text.encode()).hexdigest())

back.sort(key=lambda r: (r["name"], -r["score"]))
print("first", back[0]["name"], "last", back[-1]["name"])
groups = {}
for r in back:
    groups.setdefault(len(r["tags"]), []).append(r["id"])
print("groups", {k: len(v) for k, v in sorted(groups.items())})

s = set()
for i in range(200000):
    s.add((i * 7919) % 100003)
print("set size", len(s), "sum", sum(s))
big = " ".join(words).split(" ")
print("rejoined", len(big), big[:3])
