// Thread-local caches: per class a list of free blocks, so most allocations and frees
// touch no shared state. One initial-exec TLS pointer per thread.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu/size_class.h"
#include "prim/defines.h"

namespace mpshim::cpu {

/// One class's free blocks and counters: one cache line for the fast paths.
struct Bin {
  void* head;
  uint32_t count;
  uint32_t max;
  uint64_t allocs;  ///< allocations served by this thread
  uint64_t frees;   ///< frees made by this thread
};

/// A bin's frees from one slow path to the next at most (a power of two, less one), so that
/// purge passes still run while a program frees into its caches only (fast.h).
constexpr uint64_t kPurgeTick = 1023;

struct ThreadCache {
  static constexpr size_t kTrackerBytes = 40960;

  Bin bins[kNumClasses];
  int64_t merged_live;        ///< live bytes already added to the global counter
  int64_t live;               ///< live bytes as of the last slow path of each class (sum of class_live)
  uint32_t budget_tick;       ///< overflows since the byte budget was last checked
  uint32_t flush_epoch;       ///< g_flush_epoch when the cache was last emptied
  ThreadCache* next_all;      ///< registry of every cache
  uintptr_t stack_addr;       ///< an address on the owner's stack
  int tid;
  bool alive;
  /// Blocks the next refill of each class takes. Carving a batch from a fresh span writes
  /// into every block, so the first refills are small (a page's worth) and double up to
  /// the class's batch: a short-lived process touches only the pages it uses.
  uint16_t refill[kNumClasses];
  int64_t class_live[kNumClasses];  ///< live bytes of each class at its last slow path
  /// The tracker's per-thread room (its stack-walk memo), zeroed for each new owner.
  alignas(64) unsigned char tracker[kTrackerBytes];
};

extern MPSHIM_TLS ThreadCache* t_cache;

/// The calling thread's cache, created on first use; nullptr when the thread is past its
/// exit destructor or out of memory (the caller then uses the shared pools directly).
ThreadCache* thread_cache_get();
/// Without a cache: one block from / back to the central pool of class `cls`.
void* direct_alloc(unsigned cls);
void direct_free(unsigned cls, void* p);
/// Refills bin `cls` and pops one block (nullptr + ENOMEM-worthy on exhaustion).
void* thread_cache_refill(ThreadCache* tc, unsigned cls);
/// Gives back half of an overflowing bin (or what exceeds the byte budget).
void thread_cache_overflow(ThreadCache* tc, unsigned cls);
/// Empties every bin of `tc` into the central pools and merges its counters.
void thread_cache_flush(ThreadCache* tc);
/// Bytes held in the bins.
size_t thread_cache_bytes(const ThreadCache* tc);
/// Merges the thread's live bytes into the global counters.
void thread_cache_merge(ThreadCache* tc);
/// Calls fn for every registered cache (under the registry lock).
void thread_cache_for_each(void (*fn)(ThreadCache* tc, void* ctx), void* ctx);
/// The same without taking the lock (the list only grows, so a walk is safe).
void thread_cache_for_each_unlocked(void (*fn)(ThreadCache* tc, void* ctx), void* ctx);
/// Calls fn with an address on the stack of each recently exited thread (registry lock held).
void thread_cache_for_each_dead_stack(void (*fn)(uintptr_t addr, void* ctx), void* ctx);
void thread_cache_lock();
void thread_cache_unlock();
void thread_cache_after_fork_child();
/// Creates the TLS key whose destructor flushes a thread's cache at exit.
void thread_cache_init();

}  // namespace mpshim::cpu
