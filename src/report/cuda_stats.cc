// The CUDA part of the MPSHIM_STATS table: one column per device and pool.
#include <cstring>

#include "cuda/stats.h"
#include "prim/fmt.h"
#include "prim/os.h"
#include "report/report.h"

namespace mpshim::report {
namespace {

constexpr size_t kFirst = 24, kWidth = 16;

bool is_bytes(const char* name) {
  static const char* const kBytes[] = {"allocated", "peak_allocated", "reserved",
                                       "peak_reserved", "active", "peak_active"};
  for (const char* b : kBytes)
    if (strcmp(name, b) == 0) return true;
  return false;
}


}  // namespace

void write_cuda_stats_to(int fd, const CudaPoolRow* rows, size_t n, const cuda::HookStats& h) {
  prim::Writer w(fd);
  w.str("==").i64(prim::os_getpid()).str("== mpshim: CUDA statistics\n");
  if (n == 0) w.str("  no device memory cached (MPSHIM_CUDA=track or off, or nothing allocated)\n");
  else w.pad_to(kFirst);
  for (size_t i = 0; i < n; ++i) {
    w.pad_to(kFirst + i * kWidth).str("dev ").i64(rows[i].device);
    w.str(rows[i].kind == cuda::PoolKind::Small ? " small" : " large");
  }
  if (n != 0) w.chr('\n');
  uint64_t made = 0, served = 0;
#define MPSHIM_CUDA_STAT_ROW(f, d)                                    \
  w.str("  " #f);                                                      \
  for (size_t i = 0; i < n; ++i) {                                     \
    w.pad_to(kFirst + i * kWidth);                                     \
    if (is_bytes(#f)) w.bytes(rows[i].s.f);                            \
    else w.grouped(rows[i].s.f);                                      \
  }                                                                    \
  w.chr('\n');
  if (n != 0) {
    MPSHIM_CUDA_POOL_STATS(MPSHIM_CUDA_STAT_ROW)
  }
#undef MPSHIM_CUDA_STAT_ROW
  for (size_t i = 0; i < n; ++i) {
    made += rows[i].s.driver_allocs + rows[i].s.driver_frees;
    served += rows[i].s.hits + rows[i].s.misses;
  }
  // Without the cache every allocation and its free is a driver call.
  w.str("  driver calls ").grouped(made).str(" for ").grouped(served).str(" allocations (");
  w.grouped(2 * served > made ? 2 * served - made : 0).str(" saved)\n");
  w.str("  streams created ").grouped(h.streams_created);
  w.str(", captures ").grouped(h.captures);
  w.str(", stream-ordered allocations ").grouped(h.async_allocs);
  w.str(", pinned ").grouped(h.host_allocs);
  w.str(", managed ").grouped(h.managed_allocs);
  w.str(",\n  frees passed to the driver ").grouped(h.passed_frees);
  w.str(", invalid frees ").grouped(h.invalid_frees).chr('\n');
}

void write_cuda_stats(const CudaPoolRow* rows, size_t n, const cuda::HookStats& h) {
  write_cuda_stats_to(2, rows, n, h);
}

}  // namespace mpshim::report
