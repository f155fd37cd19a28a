#include "cpu/purge.h"

#include "cpu/central.h"
#include "cpu/large.h"
#include "cpu/segment.h"
#include "cpu/state.h"
#include "prim/defines.h"

namespace mpshim::cpu {

std::atomic<uint32_t> g_flush_epoch{0};
static std::atomic<bool> g_wanted{false};     // something waits to be purged
static std::atomic<bool> g_running{false};    // a pass is under way (one at a time)
static std::atomic<uint32_t> g_last_pass{0};  // now_ms() when the last pass began

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

void maybe_purge() {
  if (MPSHIM_LIKELY(!g_wanted.load(std::memory_order_relaxed))) return;
  uint32_t delay = g_settings.purge_delay_ms;
  if (delay == 0) return;  // the callers gave everything back at once
  // Memory waits: passes every half delay (at least 10 ms apart) find what has been free
  // for the delay, so it goes back at most 1.5 delays after its free.
  uint32_t step = delay / 2 < 10 ? 10 : delay / 2;
  uint32_t now = now_ms();
  if (now - g_last_pass.load(std::memory_order_relaxed) < step) return;
  if (g_running.exchange(true, std::memory_order_acquire)) return;
  g_last_pass.store(now, std::memory_order_relaxed);
  g_wanted.store(false, std::memory_order_relaxed);
  g_flush_epoch.fetch_add(1, std::memory_order_relaxed);
  bool pending = central_drain(now, delay, false);
  pending = page_heap_purge(now, delay, false) || pending;
  pending = large_purge(now, delay, false) || pending;
  if (pending) request_purge();
  g_running.store(false, std::memory_order_release);
}

void purge_after_fork_child() {
  // A pass another thread had under way does not go on in the child.
  g_running.store(false, std::memory_order_relaxed);
}

}  // namespace mpshim::cpu
