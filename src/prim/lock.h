// A mutex that never allocates: three-state futex lock (free, held, held with waiters).
#pragma once
#include <atomic>
#include <cstdint>

namespace mpshim::prim {

class Lock {
 public:
  constexpr Lock() = default;
  void lock() {
    uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire)) return;
    lock_slow();
  }
  bool try_lock() {
    uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire);
  }
  void unlock() {
    if (state_.exchange(0, std::memory_order_release) == 2) wake();
  }
  /// After fork in the child: the lock is free whatever the parent held.
  void reset() { state_.store(0, std::memory_order_relaxed); }

 private:
  void lock_slow();
  void wake();
  std::atomic<uint32_t> state_{0};
};

/// Scoped holder.
class Guard {
 public:
  explicit Guard(Lock& l) : l_(l) { l_.lock(); }
  ~Guard() { l_.unlock(); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  Lock& l_;
};

}  // namespace mpshim::prim
