// A thread that keeps a value only in a callee-saved register (r12) while it waits in the
// kernel, for the tests of register snapshots. x86-64.
#pragma once
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <thread>

namespace mpshim::track {

class RegisterHolder {
 public:
  /// The thread computes `hidden ^ mask` into r12, so the value itself is never in memory,
  /// then waits (a raw futex wait loop) until stop().
  RegisterHolder(uintptr_t hidden, uintptr_t mask) : hidden_(hidden), mask_(mask) {
    thread_ = std::thread([this] { run(); });
    while (ready_ == 0) usleep(100);
    usleep(10000);  // into the futex wait
  }
  ~RegisterHolder() { stop(); }
  RegisterHolder(const RegisterHolder&) = delete;
  RegisterHolder& operator=(const RegisterHolder&) = delete;

  int tid() const { return tid_; }

  /// Ends the wait; returns the value the thread held.
  uintptr_t stop() {
    if (thread_.joinable()) {
      stop_.store(1);
      syscall(SYS_futex, &stop_, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
      thread_.join();
    }
    return held_;
  }

 private:
  void run() {
    tid_ = int(syscall(SYS_gettid));
    uintptr_t out;
    asm volatile(
        "mov %[hidden], %%r12\n\t"
        "xor %[mask], %%r12\n\t"
        "movl $1, %[ready]\n\t"
        "1: mov %[nr], %%eax\n\t"
        "mov %[stop], %%rdi\n\t"
        "mov %[op], %%esi\n\t"
        "xor %%edx, %%edx\n\t"
        "xor %%r10d, %%r10d\n\t"
        "syscall\n\t"
        "cmpl $0, (%%rdi)\n\t"
        "je 1b\n\t"
        "mov %%r12, %[out]"
        : [ready] "=m"(ready_), [out] "=r"(out)
        : [hidden] "m"(hidden_), [mask] "r"(mask_), [stop] "r"(&stop_), [nr] "i"(SYS_futex),
          [op] "i"(FUTEX_WAIT_PRIVATE)
        : "rax", "rcx", "rdx", "rdi", "rsi", "r10", "r11", "r12", "memory");
    held_ = out;
  }

  uintptr_t hidden_, mask_, held_ = 0;
  volatile uint32_t ready_ = 0;
  std::atomic<uint32_t> stop_{0};
  int tid_ = 0;
  std::thread thread_;
};

}  // namespace mpshim::track
