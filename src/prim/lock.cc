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
  for (int tries = 0;; ++tries) {
    if (!held_.load(std::memory_order_relaxed) && !held_.exchange(true, std::memory_order_acquire)) return;
    if (tries < 100) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else if (tries < 200) {
      yield_cpu();  // the holder may have been preempted
    } else {
      // A real-time waiter's yield leaves the CPU to no holder of a lower priority: sleep.
      std::atomic<uint32_t> never{0};
      futex_wait(&never, 0, 50000);
    }
  }
}

}  // namespace mpshim::prim
