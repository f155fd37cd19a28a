#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds mpshim and runs the CUDA test programs on the real
# driver and runtime under the shim (each built twice by nvcc: with the default static
# runtime and with -cudart shared), then a short PyTorch training loop and a CuPy loop when
# those are installed. Prints what each run printed and a PASS/FAIL line per check; exits 1
# when a check failed. Needs nvcc ($CUDA_HOME/bin or PATH), meson and ninja.
#   scripts/gpu-check.sh [BUILDDIR]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-gpu}
cuda_home=${CUDA_HOME:-/usr/local/cuda}
export PATH="$cuda_home/bin:$PATH" LD_LIBRARY_PATH="$cuda_home/lib64:${LD_LIBRARY_PATH:-}"
nvidia-smi -L || { echo "no GPU"; exit 1; }
[[ -f $build/build.ninja ]] || meson setup "$build" "$root" -Dtests=false >/dev/null || exit 1
ninja -C "$build" >/dev/null || exit 1
shim=$build/preload/libmpshim.so
out=$(mktemp -d)
failed=0
check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then echo "PASS $name"; else echo "FAIL $name"; failed=1; fi
}
run() {  # run NAME [ENV=...] PROGRAM ARGS...: stdout to $out/NAME.out, stderr to $out/NAME.err
  local name=$1; shift
  env LD_PRELOAD="$shim" "$@" >"$out/$name.out" 2>"$out/$name.err"
  local rc=$?
  echo "--- $name (exit $rc)"; cat "$out/$name.out"; grep -a "mpshim" "$out/$name.err" | head -20
  return $rc
}

progs=$root/tests/cuda/programs
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
for p in reuse_race capture oom threads two_devices async_alloc leaks loop; do
  nvcc -O2 -g -std=c++17 -arch=sm_$arch -I"$root/tests/cuda/driver" -o "$out/$p" "$progs/$p.cu" || failed=1
  nvcc -O2 -g -std=c++17 -arch=sm_$arch -cudart shared -I"$root/tests/cuda/driver" \
    -o "$out/${p}_shared" "$progs/$p.cu" || failed=1
done
for suffix in "" _shared; do
  for pair in "nonblocking nonblocking" "legacy nonblocking" "blocking blocking" \
              "ptds nonblocking" "destroyed nonblocking" "unseen legacy"; do
    name="race${suffix}_${pair// /_}"
    run "$name" "$out/reuse_race$suffix" $pair
    check "$name" grep -q "reused=1 corrupted=0" "$out/$name.out"
    check "$name-clean" bash -c "! grep -q 'corrupted=[1-9]' $out/$name.out"
  done
  run "capture$suffix" "$out/capture$suffix" global
  check "capture$suffix" grep -q "capture_status=captured" "$out/capture$suffix.out"
  run "threads$suffix" "$out/threads$suffix"; check "threads$suffix" grep -q "errors=0" "$out/threads$suffix.out"
  run "async$suffix" "$out/async_alloc$suffix"; check "async$suffix" grep -q "errors=0" "$out/async$suffix.out"
  run "loop$suffix" MPSHIM_STATS=1 "$out/loop$suffix" 3000
  plain=$("$out/loop$suffix" 3000)
  check "loop$suffix-output" test "$plain" = "$(cat "$out/loop$suffix.out")"
  check "loop$suffix-leak" grep -q "Direct leak of 12345 byte(s)" "$out/loop$suffix.err"
  sed -n '/CUDA statistics/,/invalid frees/p' "$out/loop$suffix.err"
  run "leaks$suffix" "$out/leaks$suffix"
  for l in "1000 byte(s) in 1 object(s) of device" "3145728 byte(s) in 1 object(s) of device" \
           "4096 byte(s) in 1 object(s) of pinned" "8192 byte(s) in 1 object(s) of managed"; do
    check "leaks$suffix: $l" grep -q "Direct leak of $l" "$out/leaks$suffix.err"
  done
done

py=$(command -v python3)
if [[ -n $py ]] && "$py" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  cat > "$out/train.py" <<'PY'
import torch
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10)).cuda()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(4096, 512, device="cuda"); y = torch.randint(0, 10, (4096,), device="cuda")
for step in range(200):
    n = 256 + 64 * (step % 8)
    loss = torch.nn.functional.cross_entropy(model(x[:n]), y[:n])
    opt.zero_grad(); loss.backward(); opt.step()
torch.cuda.synchronize()
print("loss=%.4f" % loss.item())
PY
  plain=$(PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$py" "$out/train.py")
  run torch PYTORCH_NO_CUDA_MEMORY_CACHING=1 MPSHIM_STATS=1 "$py" "$out/train.py"
  check torch-same-loss test "$plain" = "$(cat "$out/torch.out")"
  sed -n '/CUDA statistics/,/invalid frees/p' "$out/torch.err"
  run torch-track MPSHIM_CUDA=track "$py" "$out/train.py"
  check torch-track-same-loss test "$("$py" "$out/train.py")" = "$(cat "$out/torch-track.out")"
else
  echo "SKIP torch: not installed or no CUDA build"
fi
if [[ -n $py ]] && "$py" -c "import cupy" 2>/dev/null; then
  cp_prog='import cupy as cp
cp.cuda.set_allocator(None)  # no CuPy pool: every array through cudaMalloc
s = 0.0
for i in range(500):
    a = cp.arange(1000 + i, dtype=cp.float32); s += float(a.sum())
print("sum=%.1f" % s)'
  plain=$("$py" -c "$cp_prog")
  run cupy MPSHIM_STATS=1 "$py" -c "$cp_prog"
  check cupy-same-sum test "$plain" = "$(cat "$out/cupy.out")"
else
  echo "SKIP cupy: not installed"
fi
echo "outputs in $out"
exit $failed
