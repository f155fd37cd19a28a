// The profile's per-thread tables and the path a host allocation or free takes through
// them, inline in the tracker's own allocation and free paths (profile.cc owns the rest).
//
// Every event changes a site's counters and its side's live bytes. Threads allocating at
// the same site would fight over its cache line, so each thread adds its changes to a table
// of its own (a direct-mapped cache of sites, by stack and side): an entry moves into the
// shared site when another site takes its place, live bytes into the side's total when they
// pass kBatch. Tables outlive their threads (a new thread of the same allocator cache takes
// its predecessor's over); the report adds what they hold, so the figures are exact. A
// thread sees its side's total plus its own change (exact in a single thread).
#pragma once
#include <atomic>
#include <cstdint>

#include "prim/defines.h"
#include "track/profile.h"
#include "track/thread_state.h"

namespace mpshim::track::profile {

constexpr int64_t kBatch = 64 << 10;
constexpr size_t kEntries = 256;
// Allocations at a site of a thread between two looks at the clock (for the interval rule).
constexpr uint32_t kTick = 256;

// A site's key: side and stack in one word, never 0 (stack ids are below 2^28).
MPSHIM_INLINE uint32_t key_of(Side side, uint32_t stack) { return (stack << 1 | uint32_t(side)) + 1; }
// An entry's id: its site's key and the peak generation its `base` belongs to.
MPSHIM_INLINE uint64_t id_of(uint32_t key, uint32_t gen) { return uint64_t(gen) << 32 | key; }

struct alignas(64) Entry {
  std::atomic<uint64_t> id;  // id_of(key, gen); key 0: empty
  std::atomic<uint64_t> allocs, bytes, freed, temps;
  std::atomic<int64_t> base;  // the part of live() made before the peak of generation `gen`

  // The change of the site's live bytes.
  int64_t live() const { return int64_t(bytes.load(std::memory_order_relaxed) - freed.load(std::memory_order_relaxed)); }
};

struct Table {
  alignas(64) std::atomic<int64_t> pending[2];  // change of each side's live bytes
  // While pending[side] stays within [lo, hi], nothing else needs a look: no batch to add,
  // no new peak, no change of a step since the last sample (as this thread saw the shared
  // figures when it set them; set again at every look, at least every kTick allocations at
  // a site).
  int64_t lo[2], hi[2];
  const void* owner;  // the thread room it serves
  Entry entries[kEntries];
};

/// Each side's peak generation: bumped at every new peak (an entry of an older one saves
/// its site's part of the peak before it changes).
extern std::atomic<uint32_t> g_gen[2];
/// The calling thread's last allocation, for temporaries: its address complemented, so
/// that the leak scan, which reads threads' TLS, does not take it for a pointer to it.
extern MPSHIM_TLS uintptr_t t_last;

/// An event the inline path does not finish: the thread has no table yet, or its entry
/// holds another site or generation.
void slow_event(Side side, uint32_t stack, bool alloc, int64_t delta, bool temp);
/// pending[side] left its bounds or (`timed`) the clock is to be looked at: adds a full
/// batch to the side's total, raises the peak, takes a sample when due, sets the bounds.
void attend(Table* t, Side side, bool timed);

MPSHIM_INLINE Entry& entry_of(Table* t, Side side, uint32_t stack) {
  return t->entries[(stack ^ (uint32_t(side) << 7)) & (kEntries - 1)];
}

// Only the owner writes an entry, so plain loads and stores do (the report reads them).
template <class T, class U>
MPSHIM_INLINE void bump(std::atomic<T>& a, U d) {
  a.store(a.load(std::memory_order_relaxed) + T(d), std::memory_order_relaxed);
}

/// A host allocation (kAlloc, `delta` = its size) or free (`delta` = minus its size) at
/// stack `stack`: the common case writes the thread's entry and pending bytes and calls
/// nothing but tail calls.
template <bool kAlloc>
MPSHIM_INLINE void host_event(uint32_t stack, int64_t delta, uintptr_t p) {
  bool temp = false;
  if (kAlloc) {
    t_last = ~p;
  } else {
    // heaptrack's rule: freed before the thread allocated anything else.
    temp = t_last == ~p;
    t_last = 0;
  }
  ThreadState* ts = thread_state();
  Table* t = ts != nullptr ? ts->profile : nullptr;
  if (MPSHIM_UNLIKELY(t == nullptr)) return slow_event(kHost, stack, kAlloc, delta, temp);
  Entry& e = entry_of(t, kHost, stack);
  uint64_t id = id_of(key_of(kHost, stack), g_gen[kHost].load(std::memory_order_relaxed));
  if (MPSHIM_UNLIKELY(e.id.load(std::memory_order_relaxed) != id))
    return slow_event(kHost, stack, kAlloc, delta, temp);
  bool timed = false;
  if (kAlloc) {
    bump(e.bytes, delta);
    uint64_t n = e.allocs.load(std::memory_order_relaxed) + 1;
    e.allocs.store(n, std::memory_order_relaxed);
    timed = n % kTick == 0;
  } else {
    bump(e.freed, -delta);
    if (temp) bump(e.temps, 1);
  }
  int64_t mine = t->pending[kHost].load(std::memory_order_relaxed) + delta;
  t->pending[kHost].store(mine, std::memory_order_relaxed);
  if (MPSHIM_UNLIKELY(mine > t->hi[kHost] || mine < t->lo[kHost] || timed)) return attend(t, kHost, timed);
}

}  // namespace mpshim::track::profile
