#!/usr/bin/env bash
# Builds (when needed) and runs every test suite: unit tests (also their ASan builds),
# end-to-end tests under LD_PRELOAD, then the unit tests once more under valgrind. The last
# line printed is "N passed, M failed", counting every test case (scripts/count-tests.py).
#   scripts/test.sh [BUILDDIR]          default BUILDDIR: build
# Environment: SHIM_TEST_LIB=/path/to/lib.so runs the end-to-end tests against another
# allocator; NO_VALGRIND=1 skips the valgrind pass.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
jobs=$(nproc 2>/dev/null || echo 2)

if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" "$root" -Dtests=true -Dsanitize_tests=true || {
    echo "meson setup failed"; echo "0 passed, 1 failed"; exit 1; }
fi
ninja -C "$build" || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

# Logs of an earlier run must not be counted again.
rm -f "$build"/meson-logs/testlog*
find "$build" -name '*.boost.xml' -delete

echo "=== all suites"
meson test -C "$build" --no-rebuild --print-errorlogs --num-processes "$jobs"

if [[ -z ${NO_VALGRIND:-} ]] && command -v valgrind >/dev/null; then
  # The unit tests once more under memcheck (test setup 'valgrind'), except ASan builds
  # (NAME-asan) and tests that have their own memcheck variant (NAME-valgrind, which already
  # ran above with the cases that suit memcheck).
  mapfile -t all < <(meson test -C "$build" --no-rebuild --list --suite unit 2>/dev/null |
                     sed -n 's#^.* / ##p')
  unit=()
  for t in "${all[@]}"; do
    [[ $t == *-asan || $t == *-valgrind ]] && continue
    printf '%s\n' "${all[@]}" | grep -qx -- "$t-valgrind" && continue
    unit+=("$t")
  done
  if (( ${#unit[@]} )); then
    echo "=== unit tests under valgrind: ${unit[*]}"
    meson test -C "$build" --no-rebuild --setup valgrind --print-errorlogs \
      --num-processes "$jobs" "${unit[@]}"
  fi
fi

echo "=== results"
python3 "$root/scripts/count-tests.py" "$build"
