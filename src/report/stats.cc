// The MPSHIM_STATS table.
#include <cstring>

#include "cpu/heap.h"
#include "cpu/stats.h"
#include "prim/fmt.h"
#include "prim/os.h"
#include "report/leaks.h"

namespace mpshim::report {

namespace {

// Fields counted in bytes (shown in binary units); the others are counts.
bool is_bytes_field(const char* name) {
  static const char* const kBytes[] = {"allocated", "peak", "reserved", "peak_reserved", "purged"};
  for (const char* b : kBytes)
    if (strcmp(name, b) == 0) return true;
  return false;
}


}  // namespace

void write_stats_to(int fd, const cpu::Stats& s) {
  prim::Writer w(fd);
  w.str("==").i64(prim::os_getpid()).str("== mpshim: statistics\n");
#define MPSHIM_STAT_ROW(f, d)                             \
  w.str("  " #f " ").pad_to(20);                            \
  if (is_bytes_field(#f)) w.bytes(s.f);                   \
  else w.grouped(s.f);                                   \
  w.chr(' ');                                          \
  w.pad_to(34).str(d).chr('\n');
  MPSHIM_STATS(MPSHIM_STAT_ROW)
#undef MPSHIM_STAT_ROW
  bool header = false;
  for (size_t c = 1; c < cpu::kStatClasses; ++c) {
    bool large = c == cpu::kStatClasses - 1;
    if (s.class_count[c] == 0 && s.class_live[c] == 0) continue;
    if (!header) {
      w.str("  class  block size   allocations      live blocks\n");
      header = true;
    }
    w.str("  ");
    if (large) w.str("large").pad_to(9).str("> ").bytes(cpu::kMaxSmall);
    else w.u64(c).pad_to(9).bytes(s.class_size[c]);
    w.pad_to(22);
    w.grouped(s.class_count[c]);
    w.pad_to(39);
    w.grouped(s.class_live[c]);
    w.chr('\n');
  }
}

void write_stats(const cpu::Stats& s) { write_stats_to(2, s); }

}  // namespace mpshim::report
