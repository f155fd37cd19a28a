#include "entry/info.h"

#include <dlfcn.h>

#include <cstring>

#include "cpu/stats.h"
#include "entry/entry.h"
#include "mpshim.h"
#include "report/report.h"

namespace mpshim::entry {

struct mallinfo2 info2() {
  struct mallinfo2 mi {};
  if (g_mode == kOff) {
    auto real = reinterpret_cast<struct mallinfo2 (*)()>(dlsym(RTLD_NEXT, "mallinfo2"));
    return real != nullptr ? real() : mi;
  }
  cpu::Stats s;
  cpu::snapshot(&s);
  mi.arena = s.reserved;
  mi.uordblks = s.allocated;
  mi.fordblks = s.reserved > s.allocated ? s.reserved - s.allocated : 0;
  mi.usmblks = s.peak;
  mi.keepcost = 0;
  return mi;
}

struct mallinfo info1() {
  struct mallinfo2 m = info2();
  struct mallinfo mi {};
  // The old interface has int fields: saturate rather than wrap.
  auto clamp = [](size_t v) { return v > 0x7fffffff ? 0x7fffffff : int(v); };
  mi.arena = clamp(m.arena);
  mi.uordblks = clamp(m.uordblks);
  mi.fordblks = clamp(m.fordblks);
  mi.usmblks = clamp(m.usmblks);
  return mi;
}

void print_stats() {
  if (g_mode == kOff) {
    auto real = reinterpret_cast<void (*)()>(dlsym(RTLD_NEXT, "malloc_stats"));
    if (real != nullptr) real();
    return;
  }
  cpu::Stats s;
  cpu::snapshot(&s);
  report::write_stats(s);
}

int public_stats(void* out, size_t size) {
  if (g_mode != kOn || out == nullptr) return -1;
  cpu::Stats s;
  cpu::snapshot(&s);
  mpshim_stats pub{};
  pub.allocated = s.allocated;
  pub.peak = s.peak;
  pub.reserved = s.reserved;
  pub.peak_reserved = s.peak_reserved;
  pub.mallocs = s.mallocs;
  pub.frees = s.frees;
  pub.live_blocks = s.mallocs - s.frees;
  pub.purged = s.purged;
  memcpy(out, &pub, size < sizeof pub ? size : sizeof pub);
  return 0;
}

}  // namespace mpshim::entry
