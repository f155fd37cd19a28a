#!/usr/bin/env bash
# Installs every Debian 12 package needed to build, test and benchmark mpshim. Safe to run
# again; runs apt-get through sudo when not root.
set -euo pipefail

packages=(
  # build
  meson ninja-build g++ pkg-config libunwind-dev libiberty-dev libgcc-12-dev
  # tests, and the real programs they run under the shim
  libgtest-dev libboost-test-dev valgrind libclang-rt-14-dev python3 sqlite3 git perl
  coreutils time gcc make cmake python3-pytest python3-dev tar gzip xz-utils mawk diffutils redis-server redis-tools
  libpython3.11-testsuite
  # benchmarks: the allocators compared, and the tools and programs they run
  libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 heaptrack hyperfine
  # `mpshim report --html`: the libraries inlined into the page, and the browser its test runs
  libjs-d3 libjs-dygraphs chromium
  # `mpshim report`: source lines of the profile's frames (addr2line)
  binutils
)

if [[ $(id -u) == 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "install-deps: run as root (or install sudo)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${packages[@]}" >/dev/null
echo "install-deps: ${#packages[@]} packages installed"
