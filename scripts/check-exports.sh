#!/usr/bin/env bash
# Checks that a shared object exports exactly the symbols of its version script and needs no
# libstdc++ at run time.
#   scripts/check-exports.sh [LIB [MAP]]   (defaults: build/preload/libmpshim.so, preload/mpshim.map)
# The map's `global:` entries are C names or, inside `extern "C++" { ... }`, demangled
# names; both may use shell wildcards. Exit status 0 when everything matches.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${1:-$root/build/preload/libmpshim.so}
map=${2:-$root/preload/mpshim.map}
for f in "$lib" "$map"; do
  [[ -f $f ]] || { echo "check-exports: $f does not exist" >&2; exit 1; }
done

status=0
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $(echo $needed)"
if grep -q '^libstdc++' <<<"$needed"; then
  echo "FAIL: $lib depends on libstdc++" >&2
  status=1
fi
cxx_refs=$(nm -D --undefined-only "$lib" | grep -E '@(GLIBCXX|CXXABI)_' || true)
if [[ -n $cxx_refs ]]; then
  echo "FAIL: $lib references libstdc++ symbols:" >&2
  echo "$cxx_refs" >&2
  status=1
fi

# Defined dynamic symbols (without version suffixes and version-node 'A' entries), each as
# "mangled<TAB>demangled".
exports=$(paste <(nm -D --defined-only "$lib") <(nm -DC --defined-only "$lib") |
  awk -F'\t' '{ split($1, m, " "); if (m[2] == "A") next;
                sub(/^[0-9a-f]+ [A-Za-z] /, "", $2); sub(/@.*/, "", m[3]); sub(/@@?[^@]*$/, "", $2);
                print m[3] "\t" $2 }')

python3 - "$map" "$exports" <<'PY' || status=1
import fnmatch, re, sys
text = re.sub(r"/\*.*?\*/|#[^\n]*|//[^\n]*", "", open(sys.argv[1]).read(), flags=re.S)
exports = [line.split("\t", 1) for line in sys.argv[2].splitlines() if line.strip()]
entries = []  # (pattern, is_cxx); extern "C++" blocks only appear among global entries
cxx_block = r'extern\s+"C\+\+"\s*\{(.*?)\}\s*;'
for cxx in re.finditer(cxx_block, text, flags=re.S):
    entries += [(i.strip().strip('"'), True) for i in cxx.group(1).split(";") if i.strip()]
text = re.sub(cxx_block, "", text, flags=re.S)
for m in re.finditer(r"global\s*:(.*?)(?:local\s*:|\})", text, flags=re.S):
    entries += [(i.strip(), False) for i in m.group(1).split(";") if i.strip()]
if not entries:
    sys.exit("FAIL: no global: entries found in " + sys.argv[1])

def matches(entry, sym):
    pattern, cxx = entry
    name = sym[1] if cxx else sym[0]
    return fnmatch.fnmatchcase(name, pattern)

bad = 0
for sym in exports:
    if not any(matches(e, sym) for e in entries):
        print(f"FAIL: exported but not in the version script: {sym[0]} ({sym[1]})", file=sys.stderr)
        bad = 1
for e in entries:
    if not any(c in e[0] for c in "*?[") and not any(matches(e, s) for s in exports):
        print(f"FAIL: in the version script but not exported: {e[0]}", file=sys.stderr)
        bad = 1
print(f"{len(exports)} exported symbols, {len(entries)} version-script entries")
sys.exit(bad)
PY
[[ $status == 0 ]] && echo "exports match $map"
exit $status
