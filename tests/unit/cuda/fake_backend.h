// An in-process fake of the CUDA driver for the caching core's tests. Device memory is only
// addresses (handed out once, never reused, so any reuse seen is the cache's). Work is
// asynchronous: launch() queues work on a range of a context, and the device completes it
// only when the test calls progress() or the cache waits (event or context
// synchronisation, cuMemFree). Capacity, a driver without cuCtxRecordEvent and stream
// capture are modelled; every call is counted.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "cuda/backend.h"
#include "cuda/cache.h"

namespace cudatest {

using namespace mpshim::cuda;

constexpr uint64_t kKiB = uint64_t(1) << 10;

inline Context ctx_n(uintptr_t n) { return reinterpret_cast<Context>(0x1000 * n); }

struct Calls {
  uint64_t mem_alloc = 0, mem_free = 0, event_create = 0, event_destroy = 0, record_fence = 0,
           event_query = 0, event_synchronize = 0, ctx_synchronize = 0, mem_get_info = 0,
           relax = 0;
  /// Calls that are not allocations: fences, queries, waits, frees.
  uint64_t sync_like() const {
    return mem_free + record_fence + event_query + event_synchronize + ctx_synchronize;
  }
  uint64_t total() const {
    return mem_alloc + mem_free + event_create + event_destroy + record_fence + event_query +
           event_synchronize + ctx_synchronize + mem_get_info;
  }
};

class FakeBackend {
 public:
  uint64_t capacity = uint64_t(1) << 40;
  bool has_record_fence = true;

  // ---- the driver calls of the Backend concept
  Result mem_alloc(Context ctx, DevPtr* out, size_t bytes) {
    std::lock_guard<std::mutex> g(m_);
    ++calls_.mem_alloc;
    if (capturing_ && !relaxed_) ++violations_;
    if (bytes == 0) return kErrorInvalidValue;
    if (used_ + bytes > capacity) return kErrorOutOfMemory;
    used_ += bytes;
    *out = next_;
    sizes_[next_] = {bytes, ctx};
    next_ += (bytes + 0xFFFF) & ~uint64_t(0xFFFF);
    return kSuccess;
  }
  Result mem_free(Context, DevPtr p) {
    std::lock_guard<std::mutex> g(m_);
    ++calls_.mem_free;
    if (capturing_) ++violations_;
    auto it = sizes_.find(p);
    if (it == sizes_.end()) return kErrorInvalidValue;
    used_ -= it->second.bytes;
    sizes_.erase(it);
    for (auto& c : clocks_) c.second.completed = c.second.submitted;  // cuMemFree syncs
    return kSuccess;
  }
  Result event_create(Context ctx, Event* out) {
    std::lock_guard<std::mutex> g(m_);
    ++calls_.event_create;
    *out = reinterpret_cast<Event>(++next_event_ * 16);
    events_[*out] = {ctx, 0};
    return kSuccess;
  }
  Result event_destroy(Context, Event e) {
    std::lock_guard<std::mutex> g(m_);
    ++calls_.event_destroy;
    return events_.erase(e) ? kSuccess : kErrorInvalidValue;
  }
  Result record_fence(Context ctx, Event e) {
    std::lock_guard<std::mutex> g(m_);
    ++calls_.record_fence;
    if (!has_record_fence) return kErrorNotSupported;
    if (capturing_) ++violations_;
    auto it = events_.find(e);
    if (it == events_.end()) return kErrorInvalidValue;
    it->second = {ctx, clocks_[ctx].submitted};
    return kSuccess;
  }
  Result event_query(Event e) {
    std::lock_guard<std::mutex> g(m_);
    ++calls_.event_query;
    if (capturing_) ++violations_;
    auto it = events_.find(e);
    if (it == events_.end()) return kErrorInvalidValue;
    return clocks_[it->second.ctx].completed >= it->second.seq ? kSuccess : kErrorNotReady;
  }
  Result event_synchronize(Event e) {
    std::lock_guard<std::mutex> g(m_);
    ++calls_.event_synchronize;
    if (capturing_) ++violations_;
    auto it = events_.find(e);
    if (it == events_.end()) return kErrorInvalidValue;
    Clock& c = clocks_[it->second.ctx];
    if (c.completed < it->second.seq) c.completed = it->second.seq;
    return kSuccess;
  }
  Result ctx_synchronize(Context ctx) {
    std::lock_guard<std::mutex> g(m_);
    ++calls_.ctx_synchronize;
    if (capturing_) ++violations_;
    clocks_[ctx].completed = clocks_[ctx].submitted;
    return kSuccess;
  }
  Result mem_get_info(Context, size_t* free, size_t* total) {
    std::lock_guard<std::mutex> g(m_);
    ++calls_.mem_get_info;
    *free = capacity - used_;
    *total = capacity;
    return kSuccess;
  }
  void relax_capture(bool on) {
    std::lock_guard<std::mutex> g(m_);
    ++calls_.relax;
    relaxed_ = on;
  }

  // ---- what the tests control and observe
  /// Queues work on context ctx that touches [p, p + n).
  void launch(Context ctx, DevPtr p, uint64_t n) {
    std::lock_guard<std::mutex> g(m_);
    work_.push_back({ctx, p, p + n, ++clocks_[ctx].submitted});
  }
  /// The device of ctx completes all work queued so far.
  void progress(Context ctx) {
    std::lock_guard<std::mutex> g(m_);
    clocks_[ctx].completed = clocks_[ctx].submitted;
    std::vector<Work> pending;  // completed work can never be busy again
    for (const Work& w : work_)
      if (clocks_[w.ctx].completed < w.seq) pending.push_back(w);
    work_.swap(pending);
  }
  /// Whether queued work not yet completed touches [p, p + n): handing such a range to a
  /// new owner is the race the quarantine exists to prevent.
  bool busy(DevPtr p, uint64_t n) {
    std::lock_guard<std::mutex> g(m_);
    for (const Work& w : work_) {
      if (clocks_[w.ctx].completed < w.seq && w.lo < p + n && p < w.hi) return true;
    }
    return false;
  }
  /// The capture state the driver sees (the test also tells the cache).
  void set_capturing(bool on) {
    std::lock_guard<std::mutex> g(m_);
    capturing_ = on;
  }
  Calls calls() {
    std::lock_guard<std::mutex> g(m_);
    return calls_;
  }
  /// Driver calls a capture forbids that were made during one.
  uint64_t violations() {
    std::lock_guard<std::mutex> g(m_);
    return violations_;
  }
  uint64_t used() {
    std::lock_guard<std::mutex> g(m_);
    return used_;
  }
  size_t live_events() {
    std::lock_guard<std::mutex> g(m_);
    return events_.size();
  }

 private:
  struct Clock {
    uint64_t submitted = 0, completed = 0;
  };
  struct Work {
    Context ctx;
    DevPtr lo, hi;
    uint64_t seq;
  };
  struct Alloc {
    uint64_t bytes;
    Context ctx;
  };
  struct EventState {
    Context ctx;
    uint64_t seq;
  };
  std::mutex m_;
  Calls calls_;
  uint64_t used_ = 0, violations_ = 0, next_event_ = 0;
  DevPtr next_ = 0x7f0000000000;
  bool capturing_ = false, relaxed_ = false;
  std::map<DevPtr, Alloc> sizes_;
  std::map<Event, EventState> events_;
  std::map<Context, Clock> clocks_;
  std::vector<Work> work_;
};

static_assert(Backend<FakeBackend>);

using TestCache = Cache<FakeBackend>;

/// A cache on its own fake, set up the same way in every test.
struct Fixture {
  FakeBackend fake;
  TestCache cache{fake};
  Context ctx = ctx_n(1);

  explicit Fixture(TestCache::Options o = {}) { cache.configure(o); }
  ~Fixture() { cache.drop_context(ctx, true); }

  DevPtr alloc(size_t n, Context c = nullptr) {
    DevPtr p = 0;
    Result r = cache.alloc(c != nullptr ? c : ctx, 0, n, &p);
    return r == kSuccess ? p : 0;
  }
  bool free(DevPtr p) { return cache.free(p, nullptr) == TestCache::FreeResult::Freed; }
  PoolStats stats(PoolKind k, Device d = 0) {
    PoolStats out;
    struct Want {
      Device d;
      PoolKind k;
      PoolStats* out;
    } want{d, k, &out};
    cache.for_each_pool(
        [](Device dev, PoolKind kind, const PoolStats& s, void* a) {
          auto* w = static_cast<Want*>(a);
          if (dev == w->d && kind == w->k) *w->out = s;
        },
        &want);
    return out;
  }
};

}  // namespace cudatest
