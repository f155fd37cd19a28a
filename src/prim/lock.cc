#include "prim/lock.h"

#include "prim/thread.h"

namespace mpshim::prim {

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
  while (state_.exchange(2, std::memory_order_acquire) != 0) futex_wait(&state_, 2);
}

void Lock::wake() { futex_wake(&state_, 1); }

void SpinLock::lock_slow() {
  for (int spins = 0;; ++spins) {
    if (!held_.load(std::memory_order_relaxed) && !held_.exchange(true, std::memory_order_acquire)) return;
    if (spins < 100) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      yield_cpu();  // the holder may have been preempted
    }
  }
}

}  // namespace mpshim::prim
