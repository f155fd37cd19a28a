#!/usr/bin/env bash
# Sets up a fresh machine, builds mpshim, and runs real programs under it:
#   1. sqlite3 building and querying a 200,000-row database, with the statistics table;
#   2. python3 doing JSON, dicts and sorting, with mpshim's allocator and leak tracking;
#   3. a small C program with two deliberate leaks, to show the leak report;
#   4. a CUDA program built with nvcc that allocates device memory in a loop and leaks one
#      block: on the GPU where there is one, else on the project's fake CUDA driver with a
#      real driver's latency; the statistics show the driver calls saved, the report the
#      device leak.
# Each program's own output is printed too, and compared with a run without the shim.
#   scripts/demo.sh [BUILDDIR]     (set SKIP_DEPS=1 to skip the package installation)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
[[ -n ${SKIP_DEPS:-} ]] || "$root/scripts/install-deps.sh"
[[ -f $build/build.ninja ]] || meson setup "$build" "$root" >/dev/null
ninja -C "$build" >/dev/null
mpshim=("$root/scripts/mpshim" --lib "$build/preload/libmpshim.so")
# The system interpreter itself, not a version manager's wrapper script.
python=$(command -v /usr/bin/python3 || command -v python3)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "=== sqlite3 under mpshim (--stats)"
sql="create table t(id integer primary key, name text, v real);
with recursive c(x) as (select 1 union all select x + 1 from c limit 200000)
insert into t(name, v) select hex(randomblob(16)), x * 0.5 from c;
create index t_name on t(name);
select count(*), round(sum(v)), count(distinct substr(name, 1, 2)) from t;"
"${mpshim[@]}" --stats -- sqlite3 "$work/demo.db" "$sql"
rm -f "$work/demo.db"
plain=$(sqlite3 "$work/demo.db" "$sql")
echo "(without the shim: $plain)"

echo
echo "=== python3 under mpshim (leak tracking on, report only if something leaks)"
py='import json, random
random.seed(1)
rows = [{"id": i, "name": "n%d" % i, "tags": [random.random() for _ in range(8)]} for i in range(100000)]
text = json.dumps(rows)
back = json.loads(text)
print(len(text), sum(len(r["tags"]) for r in back), sorted(r["id"] for r in back)[-1])'
"${mpshim[@]}" -- "$python" -c "$py"
echo "(without the shim: $("$python" -c "$py"))"

echo
echo "=== a C program with two leaks under mpshim"
cat > "$work/leaky.c" <<'C'
#include <stdlib.h>
#include <string.h>
struct node { struct node* next; char name[24]; };
static struct node* make_list(int n) {
  struct node* head = NULL;
  for (int i = 0; i < n; ++i) {
    struct node* x = malloc(sizeof *x);
    x->next = head;
    strcpy(x->name, "node");
    head = x;
  }
  return head;
}
static char* copy_name(const char* s) { return strdup(s); }
int main(void) {
  make_list(3);               /* lost: 1 direct + 2 indirect */
  char* keep = copy_name("leaked string");
  keep = NULL;                /* lost: 1 direct */
  return keep != NULL;
}
C
cc -g -O0 -o "$work/leaky" "$work/leaky.c"
"${mpshim[@]}" -- "$work/leaky" || true

echo
echo "=== a CUDA program allocating device memory in a loop, under mpshim (--stats)"
cuda_home=${CUDA_HOME:-/usr/local/cuda}
programs=$build/tests/cuda/programs
if [[ -x $programs/loop ]]; then
  cuda_prog=("$programs/loop" 3000)
else  # no nvcc: the same loop through the driver API, as a statically linked runtime does
  cuda_prog=("$programs/driver_api" 3000)
fi
if nvidia-smi -L >/dev/null 2>&1; then
  echo "(on the GPU: $(nvidia-smi -L | head -1))"
  cuda_env=(LD_LIBRARY_PATH="$cuda_home/lib64")
else
  echo "(no GPU: on the fake CUDA driver, with a real driver's latency: 20 us per cuMemAlloc and cuMemFree)"
  cuda_env=(LD_LIBRARY_PATH="$build/tests/cuda" FAKECUDA_ALLOC_LATENCY_US=20 FAKECUDA_FREE_LATENCY_US=20)
fi
plain=$(env "${cuda_env[@]}" "${cuda_prog[@]}")
env "${cuda_env[@]}" "${mpshim[@]}" --stats -- "${cuda_prog[@]}" 2>&1 |
  sed -n '/CUDA statistics/,$p'
echo "(without the shim: $plain)"
