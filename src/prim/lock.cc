#include "prim/lock.h"

#include <cerrno>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mpshim::prim {

static void futex(std::atomic<uint32_t>* addr, int op, uint32_t val) {
  int saved = errno;
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op | FUTEX_PRIVATE_FLAG, val, nullptr, nullptr, 0);
  errno = saved;
}

void Lock::lock_slow() {
  // Spin briefly: critical sections are short.
  for (int i = 0; i < 100; ++i) {
    uint32_t expected = 0;
    if (state_.load(std::memory_order_relaxed) == 0 &&
        state_.compare_exchange_weak(expected, 1, std::memory_order_acquire))
      return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex(&state_, FUTEX_WAIT, 2);
}

void Lock::wake() { futex(&state_, FUTEX_WAKE, 1); }

}  // namespace mpshim::prim
