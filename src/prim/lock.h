// Locks that never allocate: a three-state futex lock (free, held, held with waiters), and
// a spin lock for the shortest critical sections.
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

/// A lock for short critical sections that never block or allocate: one locked
/// instruction takes it and a plain store lets it go (Lock's release must exchange, to see
/// its waiters). A waiter spins a while, then yields its CPU, then sleeps 50 us at a time.
class SpinLock {
 public:
  constexpr SpinLock() = default;
  void lock() {
    if (!held_.exchange(true, std::memory_order_acquire)) return;
    lock_slow();
  }
  void unlock() { held_.store(false, std::memory_order_release); }
  /// After fork in the child: the lock is free whatever the parent held.
  void reset() { held_.store(false, std::memory_order_relaxed); }

 private:
  void lock_slow();
  std::atomic<bool> held_{false};
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
