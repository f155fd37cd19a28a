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
// Kept across fork (the child's thread, when it needs one, runs on it again). Its own frames
// are few and small, but exit() may run on it (below), with the program's exit handlers and
// the leak report: pages are committed only when touched.
static constexpr size_t kStackSize = 1 << 20;
static void* g_stack = nullptr;
// The thread ends after this long with nothing to do, and starts again when memory waits.
// glibc ends a process whose threads all called pthread_exit (main included) only when
// the last one is gone: a purge thread sleeping for ever would keep it alive, and since it
// blocks every signal, only SIGKILL would end it. So the last thread standing may be this
// one, and then glibc calls exit() on it.
static constexpr uint64_t kIdleExitNs = 1000000000;
static uint64_t g_thread = 0;        // handle of the last thread started
static bool g_joinable = false;      // g_thread names a thread not joined yet

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
    if (!pending && !g_wanted.load()) {
      // Nothing left: sleep until a free asks again, or end after a while. A waker sets
      // g_idle to 0 before waking, so the exchange below fails once woken.
      g_idle.store(1);
      if (!g_wanted.load()) prim::futex_wait(&g_idle, 1, kIdleExitNs);
      uint32_t idle = 1;
      if (g_idle.compare_exchange_strong(idle, 0) && !g_wanted.load()) break;
      g_idle.store(0);
    }
  }
  // A waker that saw this thread running and busy left g_wanted set: the next slow path
  // that finds it starts a new thread.
  g_started.store(0);
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
  // The stack is reused: the previous thread must have left it (it has returned, or is
  // about to).
  if (g_joinable) prim::join_thread(g_thread);
  g_joinable = false;
  // The thread blocks every signal: the program's handlers never run on it.
  if (g_stack != nullptr && prim::start_thread(purger, g_stack, kStackSize, &g_thread))
    g_joinable = true;
  else
    g_started.store(0);
}

void purger_stack(uintptr_t* lo, uintptr_t* hi) {
  *lo = reinterpret_cast<uintptr_t>(g_stack);
  *hi = g_stack != nullptr ? *lo + kStackSize : 0;
}

void purger_after_fork_child() {
  g_joinable = false;  // the parent's thread is not the child's
  g_started.store(0, std::memory_order_relaxed);
  g_idle.store(0, std::memory_order_relaxed);
}

}  // namespace mpshim::cpu
