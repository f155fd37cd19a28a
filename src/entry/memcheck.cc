#include "entry/memcheck.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "config/options.h"
#include "cpu/heap.h"
#include "entry/entry.h"
#include "entry/real.h"
#include "prim/os.h"
#include "prim/thread.h"
#include "report/report.h"

namespace mpshim::entry {

namespace {

constexpr int kSigSegv = 11;
MPSHIM_TLS int t_reporting;  // an error inside the report of another is dropped

bool go_on() { return config::get().on_error == 1; }

void write_error(const track::MemError& e) {
  if (t_reporting != 0) return;
  ++t_reporting;
  track::disable_thread();  // what the symboliser allocates is the shim's
  report::write_memory_error(e);
  track::enable_thread();
  --t_reporting;
}

void sink(const track::MemError& e) {
  write_error(e);
  if (!go_on()) abort_now();  // the error's report alone, as AddressSanitizer's
}

// A fault on a guard page: report it, then either make the page accessible and go on, or
// put the default action back and end the process with the same signal, as it would have
// ended without the shim (before the access runs again: writing the report may have mapped
// memory where an underflow faulted). Any other fault is not ours: default action, and the
// access faults again.
void on_fault(int, void* info, void* context) {
  uintptr_t addr = prim::fault_address(info);
  track::MemError e;
  bool recover = go_on();
  if (!track::guarded_fault(addr, &recover, &e)) {
    prim::release_signal(kSigSegv, on_fault);
    return;
  }
  e.write = prim::fault_was_write(context);
  e.access_stack = track::capture_from(prim::context_pc(context));
  write_error(e);
  if (recover) return;
  prim::release_signal(kSigSegv, on_fault);
  prim::signal_thread(prim::os_gettid(), kSigSegv);  // delivered as the handler returns
}

}  // namespace

void check_init() {
  if (!track::checking()) return;
  track::set_error_sink(sink);
  track::CheckMode m = track::g_check;
  if (m == track::CheckMode::Sample || m == track::CheckMode::Full) {
    prim::ensure_alt_stack(64 << 10);
    prim::take_signal(kSigSegv, on_fault, true);  // a fault may be a stack overflow
  }
}

void report_memory_error(const track::MemError& e) { track::report_error(e); }

void check_at_exit() {
  if (track::checking()) track::check_all_blocks();
}

namespace {

// calloc's block comes back zeroed: a guarded one is (pages mapped for it, or cleared), and
// a big slot from pages mapped for it is not written, so what the program never touches
// stays out of its memory, as without the checks.
MPSHIM_NOINLINE void* alloc_checked_below(size_t size, size_t align, track::Kind kind) {
  bool sample = track::g_check == track::CheckMode::Sample;
  if (MPSHIM_UNLIKELY(sample ? track::sample_now() : track::guard_big(size))) {
    cpu::ensure_thread_cache();  // a thread whose first block is guarded
    if (void* g = track::guarded_alloc(size, align, kind)) return g;
  }
  if (size > (size_t(1) << 46)) {
    errno = ENOMEM;
    return nullptr;
  }
  bool zero = kind == track::Kind::Calloc;
  if (sample) {
    // As tracking alone: slack keeps the block's end inside its slot.
    void* p = align <= 16 ? cpu::alloc_with_slack(size) : cpu::alloc_aligned(align, size + 1);
    if (p != nullptr && zero) memset(p, 0, size);
    return p != nullptr ? track::on_alloc(p, size, kind) : nullptr;
  }
  track::Layout l = track::layout(size, kind);
  size_t total = l.front + size + l.back;
  void* slot = align > 16 ? cpu::alloc_aligned(align, total) : zero ? cpu::alloc_zeroed(1, total) : cpu::alloc_fast(total);
  if (slot == nullptr) return nullptr;
  if (zero && align > 16) memset(slot, 0, total);
  return track::on_alloc_checked(slot, size, kind);
}

}  // namespace

// The checked path's frames hold the new block's address (the block lookup's outputs, saved
// registers). Once the allocation returns they are dead stack below the caller; but the
// leak check scans the 128 bytes below a thread's stack pointer (a leaf function's red
// zone, as valgrind does), and a thread that then waits right where it allocated (in a
// system call made directly) would keep a lost block reachable through them. A frame of
// that size here puts every frame that holds the address below it.
void* alloc_checked(size_t size, size_t align, track::Kind kind) {
  char pad[128];
  __asm__ volatile("" : : "r"(pad) : "memory");
  return alloc_checked_below(size, align, kind);
}

void* calloc_checked(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return alloc_checked(total, 16, track::Kind::Calloc);
}

void free_checked(void* p, track::Dealloc how, uint64_t sized) {
  if (!track::checked_free(p, how, sized)) bad_free(p, how);
}

void* realloc_checked(void* p, size_t size) {
  if (void* same = track::checked_resize(p, size)) return same;
  size_t old = 0;
  int r = track::checked_realloc_source(p, &old);
  if (r < 0) {
    if (is_bootstrap(p)) {
      void* n = alloc_checked(size, 16, track::Kind::Realloc);
      if (n != nullptr) memcpy(n, p, size < bootstrap_tail(p) ? size : bootstrap_tail(p));
      return n;
    }
    bad_free(p, track::Dealloc::Realloc);
    return nullptr;
  }
  if (r == 0) {
    errno = ENOMEM;
    return nullptr;
  }
  track::profile_realloc_source(p, true);
  // A new block: the old one goes through the quarantine like any freed block.
  void* n = alloc_checked(size, 16, track::Kind::Realloc);
  if (n == nullptr) {
    track::profile_realloc_source(p, false);
    return nullptr;
  }
  memcpy(n, p, old < size ? old : size);
  track::checked_release(p, track::Found::Realloc);
  return n;
}

}  // namespace mpshim::entry
