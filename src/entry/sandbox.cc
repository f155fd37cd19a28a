#include "entry/sandbox.h"

#include <atomic>

#include "prim/os.h"

namespace mpshim::entry {
namespace {
std::atomic<bool> g_sandboxed{false};
}  // namespace

int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
  long rc = prim::os_prctl(option, a2, a3, a4, a5);
  if (rc == 0 && prim::prctl_sets_seccomp(option)) {
    g_sandboxed.store(true, std::memory_order_relaxed);
  }
  return int(rc);
}

bool sandboxed() { return g_sandboxed.load(std::memory_order_relaxed); }

}  // namespace mpshim::entry
