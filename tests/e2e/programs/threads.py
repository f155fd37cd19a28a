# Threads churning dicts and JSON, run by e2e_programs with and without the shim. Each
# thread's work depends only on its number, so the summary is the same in every run.
import hashlib
import json
import random
import threading


def work(n, results):
    rng = random.Random(n)
    table = {}
    for i in range(20000):
        key = "k%d" % rng.randrange(4000)
        table[key] = json.dumps({"i": i, "tags": [key] * (i % 7), "nested": {"n": n * i}})
        if i % 3 == 0:
            table.pop("k%d" % rng.randrange(4000), None)
        if i % 5000 == 0:
            table = json.loads(json.dumps(table))  # the whole dict rebuilt from text
    text = json.dumps(table, sort_keys=True)
    results[n] = (len(table), len(text), hashlib.sha256(text.encode()).hexdigest()[:16])


results = {}
threads = [threading.Thread(target=work, args=(n, results)) for n in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for n in sorted(results):
    print("thread", n, *results[n])
