#!/usr/bin/env bash
# Checks the one-way layers of docs/architecture.md from the #include lines:
#  * a file of a layer includes project headers only of its own layer and the ones above
#    it (prim <- config <- cpu <- cuda <- track <- report <- entry <- preload);
#  * src/track includes nothing of src/cpu but cpu/track_api.h;
#  * outside src/prim, no file includes a header of OS calls (<fcntl.h>, <unistd.h>,
#    <dirent.h>, <signal.h>, <ucontext.h>, <poll.h>, <time.h>, <sys/...>, <linux/...>),
#    except the pairs listed in `allowed` below.
#   scripts/check-layers.sh [SOURCE_ROOT]
# Exit status 0 when every rule holds; each violation is printed as FILE:LINE: text.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 1

layers=(prim config cpu cuda track report entry preload)
rank() {
  local i
  for i in "${!layers[@]}"; do [[ ${layers[$i]} == "$1" ]] && { echo "$i"; return; }; done
  echo -1
}
# The link-time wrapper of open(2) for libbacktrace needs open's flag values.
# The exported close and pipe2 must match libc's declarations of them.
allowed=("src/report/debug_files.cc <fcntl.h>" "preload/fd.cc <fcntl.h>" "preload/fd.cc <unistd.h>")
os_headers='<(fcntl|unistd|dirent|signal|ucontext|poll|time)\.h>|<(sys|linux)/'

status=0
fail() {
  echo "$1: $2"
  status=1
}

files=$(find src preload -name '*.cc' -o -name '*.h' | sort)
[[ -n $files ]] || { echo "check-layers: no sources under $root" >&2; exit 1; }
for f in $files; do
  dir=${f#src/}
  dir=${dir%%/*}
  [[ $f == preload/* ]] && dir=preload
  own=$(rank "$dir")
  while IFS=: read -r line text; do
    if [[ $text =~ \#include\ \"([a-z_]+)/ ]]; then
      used=${BASH_REMATCH[1]}
      r=$(rank "$used")
      if (( r < 0 )); then
        fail "$f:$line" "includes an unknown folder: $text"
      elif (( r > own )); then
        fail "$f:$line" "$dir includes $used, a layer below it: $text"
      fi
      if [[ $dir == track && $used == cpu && $text != *'"cpu/track_api.h"'* ]]; then
        fail "$f:$line" "track includes cpu only through cpu/track_api.h: $text"
      fi
    elif [[ $dir != prim && $text =~ \#include\ (<[^>]*>) ]]; then
      hdr=${BASH_REMATCH[1]}
      if [[ $hdr =~ $os_headers ]]; then
        ok=0
        for a in "${allowed[@]}"; do [[ $a == "$f $hdr" ]] && ok=1; done
        (( ok )) || fail "$f:$line" "OS calls belong in src/prim: $text"
      fi
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f")
done
(( status == 0 )) && echo "layers: $(wc -w <<<"$files") files follow the rules"
exit $status
