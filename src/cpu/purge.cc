#include "cpu/purge.h"

#include <atomic>
#include <cerrno>

#include "cpu/central.h"
#include "cpu/large.h"
#include "cpu/segment.h"
#include "cpu/state.h"
#include "prim/os.h"
#include "prim/thread.h"

namespace mpshim::cpu {

std::atomic<uint32_t> g_flush_epoch{0};
static std::atomic<bool> g_wanted{false};    // something waits to be purged
static std::atomic<int> g_started{0};        // 0 none, 1 running
static std::atomic<uint32_t> g_idle{0};      // 1 while the thread sleeps without a deadline
// The thread's stack is the allocator's own mapping, so a leak check skips it: its frames
// hold only the allocator's pointers to free blocks, which a program may own again by then.
// Kept across fork (the child's thread, when it needs one, runs on it again). The frames
// are few and small; 64 KiB leaves ample room.
static constexpr size_t kStackSize = 64 << 10;
static void* g_stack = nullptr;

void request_purge() {
  // Read first: every thread's frees come here, and a store would bounce the line.
  if (!g_wanted.load(std::memory_order_relaxed)) g_wanted.store(true, std::memory_order_relaxed);
}

void purge_now(bool all) {
  uint32_t now = now_ms(), delay = g_settings.purge_delay_ms;
  central_drain(now, delay, all);
  page_heap_purge(now, delay, all);
  large_purge(now, delay, all);
}

static void* purger(void*) {
  uint32_t delay = g_settings.purge_delay_ms;
  uint32_t step = delay / 2 < 10 ? 10 : delay / 2;
  for (;;) {
    prim::futex_wait(&g_idle, 0, uint64_t(step) * 1000000);  // a timed sleep (g_idle is 0 here)
    g_wanted.store(false, std::memory_order_relaxed);
    uint32_t now = now_ms();
    g_flush_epoch.fetch_add(1, std::memory_order_relaxed);
    bool pending = central_drain(now, delay, false);
    pending = page_heap_purge(now, delay, false) || pending;
    pending = large_purge(now, delay, false) || pending;
    if (!pending && !g_wanted.load(std::memory_order_relaxed)) {
      // Nothing left: sleep until a free asks again.
      g_idle.store(1, std::memory_order_relaxed);
      if (!g_wanted.load(std::memory_order_relaxed)) prim::futex_wait(&g_idle, 1);
      g_idle.store(0, std::memory_order_relaxed);
    }
  }
  return nullptr;
}

void maybe_start_purger() {
  if (MPSHIM_LIKELY(!g_wanted.load(std::memory_order_relaxed))) return;
  if (g_settings.purge_delay_ms == 0) return;
  if (g_started.load(std::memory_order_relaxed) == 1) {
    if (g_idle.load(std::memory_order_relaxed) == 1) {
      g_idle.store(0, std::memory_order_relaxed);
      prim::futex_wake(&g_idle, 1);
    }
    return;
  }
  int expected = 0;
  if (!g_started.compare_exchange_strong(expected, 1)) return;
  int saved = errno;
  if (g_stack == nullptr) g_stack = prim::os_map(kStackSize);
  errno = saved;
  // The thread blocks every signal: the program's handlers never run on it.
  if (g_stack == nullptr || !prim::start_thread(purger, g_stack, kStackSize)) g_started.store(0);
}

void purger_stack(uintptr_t* lo, uintptr_t* hi) {
  *lo = reinterpret_cast<uintptr_t>(g_stack);
  *hi = g_stack != nullptr ? *lo + kStackSize : 0;
}

void purger_after_fork_child() {
  g_started.store(0, std::memory_order_relaxed);
  g_idle.store(0, std::memory_order_relaxed);
}

}  // namespace mpshim::cpu
