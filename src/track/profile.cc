#include "track/profile.h"

#include "config/options.h"
#include "prim/lock.h"
#include "prim/os.h"
#include "track/profile_table.h"

namespace mpshim::track::profile {

bool g_on = false;
std::atomic<uint32_t> g_gen[2];
MPSHIM_TLS uintptr_t t_last;

namespace {

// Sites: per side a directory of pages of kPageSites sites, indexed by stack id (dense,
// below 2^28), pages mapped on first use.
constexpr int kPageShift = 12;
constexpr size_t kPageSites = size_t(1) << kPageShift;
constexpr size_t kDirPages = size_t(1) << (28 - kPageShift);

// The timeline: at most this many samples; when full, neighbours merge and the interval
// doubles, so a long run costs the same memory as a short one.
constexpr size_t kMaxSamples = 32768;
constexpr uint64_t kInterval = 10'000'000;  // 10 ms

// `live` has a cache line to itself: reading the other fields (rarely written) does not
// wait for the threads that add to it.
struct SideState {
  alignas(64) std::atomic<int64_t> live{0};
  alignas(64) std::atomic<int64_t> peak{0};
  std::atomic<uint64_t> peak_time{0};
  std::atomic<int64_t> step{1};         // a change of this many bytes takes a sample
  std::atomic<int64_t> timed_peak{0};   // the peak when peak_time was last read
  std::atomic<int64_t> last_sampled{0};
};

std::atomic<Site*>* g_dir[2];
SideState g_side[2];
// The peak generation of the side whose state is `st`.
std::atomic<uint32_t>& gen_of(const SideState& st) { return g_gen[&st - g_side]; }

prim::Lock g_lock;  // the timeline
Sample* g_samples;
size_t g_nsamples, g_max_samples;
bool g_merged;  // the timeline was full once: changes are sampled at most every interval/64
std::atomic<uint64_t> g_interval{kInterval};
std::atomic<uint64_t> g_last_time{0};
uint64_t g_rss, g_rss_time, g_peak_rss;
std::atomic<uint64_t> g_reserved{0}, g_peak_reserved{0};
std::atomic<bool> g_reserved_known{false};
uint64_t g_start;

MPSHIM_TLS uint32_t t_tick;   // events of a thread without a table (Table::tick)

constexpr size_t kMaxTables = 256;  // threads alive at once with a table; others add directly

MPSHIM_INLINE Side side_of_key(uint32_t key) { return Side((key - 1) & 1); }
MPSHIM_INLINE uint32_t stack_of_key(uint32_t key) { return (key - 1) >> 1; }
MPSHIM_INLINE uint32_t key_of_id(uint64_t id) { return uint32_t(id); }
MPSHIM_INLINE uint32_t gen_of_id(uint64_t id) { return uint32_t(id >> 32); }

prim::Lock g_tables_lock;
Table* g_tables[kMaxTables];
std::atomic<size_t> g_ntables{0};
// What the live bytes a thread sees can miss: the other tables' changes not added to the
// total yet. A thread takes a sample for a change only past this plus a step, or it would
// take one at almost every event while several threads allocate (their views differ by
// more than a step).
alignas(64) std::atomic<int64_t> g_unseen{0};
MPSHIM_TLS bool t_no_table;  // every table taken: this thread adds to the shared counters

MPSHIM_NOINLINE Table* claim_table(ThreadState* ts) {
  prim::Guard g(g_tables_lock);
  size_t n = g_ntables.load(std::memory_order_relaxed);
  Table* t = nullptr;
  for (size_t i = 0; i < n && t == nullptr; ++i)
    if (g_tables[i]->owner == ts) t = g_tables[i];  // left by the room's last thread
  if (t != nullptr) {
    for (int side = 0; side < 2; ++side) t->lo[side] = t->hi[side] = 0;  // look at the next event
  } else if (n < kMaxTables) {
    t = static_cast<Table*>(prim::os_map(sizeof(Table)));
    if (t != nullptr) {
      t->owner = ts;
      g_tables[n] = t;
      g_ntables.store(n + 1, std::memory_order_release);
      g_unseen.store(int64_t(n) * kBatch, std::memory_order_relaxed);
    }
  }
  if (t == nullptr) t_no_table = true;
  ts->profile = t;
  return t;
}

// The calling thread's table; nullptr while it exits (its room may go to a new thread).
MPSHIM_INLINE Table* my_table() {
  ThreadState* ts = thread_state();
  if (MPSHIM_UNLIKELY(ts == nullptr || t_no_table)) return nullptr;
  Table* t = ts->profile;
  return MPSHIM_LIKELY(t != nullptr) ? t : claim_table(ts);
}

// The live bytes of `side` with every thread's change not added yet.
int64_t live_all(Side side) {
  int64_t v = g_side[side].live.load(std::memory_order_relaxed);
  size_t n = g_ntables.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) v += g_tables[i]->pending[side].load(std::memory_order_relaxed);
  return v;
}

// The part of an entry's change made before the current peak of its side (generation `g`).
int64_t before_peak(const Entry& e, uint32_t g) {
  bool moved_since = gen_of_id(e.id.load(std::memory_order_relaxed)) == g;
  return moved_since ? e.base.load(std::memory_order_relaxed) : e.live();
}

Site* site(Side side, uint32_t stack) {
  std::atomic<Site*>& slot = g_dir[side][stack >> kPageShift];
  Site* page = slot.load(std::memory_order_acquire);
  if (MPSHIM_UNLIKELY(page == nullptr)) {
    auto* fresh = static_cast<Site*>(prim::os_map(kPageSites * sizeof(Site)));
    if (fresh == nullptr) return nullptr;
    if (slot.compare_exchange_strong(page, fresh, std::memory_order_acq_rel)) {
      page = fresh;
    } else {
      prim::os_unmap(fresh, kPageSites * sizeof(Site));
    }
  }
  return &page[stack & (kPageSites - 1)];
}

// The live bytes of a site change: the first change after a new peak saves what it held at
// that peak, so the snapshot at the peak costs nothing until a site moves.
MPSHIM_INLINE void move(Site* s, SideState& st, int64_t delta) {
  uint32_t g = gen_of(st).load(std::memory_order_relaxed);
  if (s->gen.load(std::memory_order_relaxed) != g) {
    s->snap.store(s->live.load(std::memory_order_relaxed), std::memory_order_relaxed);
    s->gen.store(g, std::memory_order_relaxed);
  }
  s->live.fetch_add(delta, std::memory_order_relaxed);
}

// Moves an entry's counters into its shared site: the part made before the current peak
// goes into the site's snapshot too.
void flush(Entry& e) {
  uint32_t key = key_of_id(e.id.load(std::memory_order_relaxed));
  SideState& st = g_side[side_of_key(key)];
  if (Site* s = site(side_of_key(key), stack_of_key(key))) {  // else out of memory: dropped
    int64_t live = e.live();
    int64_t before = before_peak(e, gen_of(st).load(std::memory_order_relaxed));
    s->allocs.fetch_add(e.allocs.load(std::memory_order_relaxed), std::memory_order_relaxed);
    s->bytes.fetch_add(e.bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
    s->temps.fetch_add(e.temps.load(std::memory_order_relaxed), std::memory_order_relaxed);
    move(s, st, live);
    s->snap.fetch_add(before, std::memory_order_relaxed);
  }
  e.id.store(0, std::memory_order_relaxed);
  e.allocs.store(0, std::memory_order_relaxed);
  e.bytes.store(0, std::memory_order_relaxed);
  e.temps.store(0, std::memory_order_relaxed);
  e.freed.store(0, std::memory_order_relaxed);
  e.base.store(0, std::memory_order_relaxed);
}

// Makes `e` the entry of `key` in generation `g`: another site's moves out first; the
// site's change since the peak starts afresh when a new peak came since it last moved.
void renew(Entry& e, uint32_t key, uint32_t g) {
  uint32_t old = key_of_id(e.id.load(std::memory_order_relaxed));
  if (old != key) {
    if (old != 0) flush(e);
  } else {
    e.base.store(e.live(), std::memory_order_relaxed);
  }
  e.id.store(id_of(key, g), std::memory_order_relaxed);
}

MPSHIM_INLINE uint64_t current_id(Side side, uint32_t stack) {
  return id_of(key_of(side, stack), g_gen[side].load(std::memory_order_relaxed));
}

// Counts an event of `size` bytes; true when it is time to look at the clock.
MPSHIM_INLINE bool count(Entry& e, bool alloc, uint64_t size, bool temp) {
  if (!alloc) {
    bump(e.freed, size);
    if (temp) bump(e.temps, 1);
    return false;
  }
  bump(e.bytes, size);
  uint64_t n = e.allocs.load(std::memory_order_relaxed) + 1;
  e.allocs.store(n, std::memory_order_relaxed);
  return n % kTick == 0;
}

// Reserved bytes are never below allocated ones; an allocation's sample comes before the
// cache's new figure.
uint64_t column_reserved() {
  int64_t dev = live_all(kDevice);
  uint64_t allocated = dev > 0 ? uint64_t(dev) : 0;
  uint64_t reserved = g_reserved_known.load(std::memory_order_relaxed) ? g_reserved.load(std::memory_order_relaxed) : 0;
  return reserved > allocated ? reserved : allocated;
}

uint64_t max_u(uint64_t a, uint64_t b) { return a > b ? a : b; }

// Halves the timeline: each pair becomes one sample holding the highest value of each
// column, at the time of the pair's higher host figure.
void merge_locked() {
  size_t n = g_nsamples / 2;
  for (size_t i = 0; i < n; ++i) {
    const Sample& a = g_samples[2 * i];
    const Sample& b = g_samples[2 * i + 1];
    g_samples[i] = Sample{b.host > a.host ? b.time_ns : a.time_ns, max_u(a.host, b.host),
                          max_u(a.host_resident, b.host_resident), max_u(a.device, b.device),
                          max_u(a.device_reserved, b.device_reserved)};
  }
  if (g_nsamples % 2 != 0) g_samples[n++] = g_samples[g_nsamples - 1];
  g_nsamples = n;
  g_merged = true;
  g_interval.store(g_interval.load(std::memory_order_relaxed) * 2, std::memory_order_relaxed);
}

void append_locked(uint64_t t) {
  if (t - g_rss_time >= kInterval || g_nsamples == 0) {
    g_rss = prim::os_rss();
    g_rss_time = t;
    if (g_rss > g_peak_rss) g_peak_rss = g_rss;
  }
  int64_t host = live_all(kHost);
  int64_t dev = live_all(kDevice);
  if (g_nsamples == g_max_samples) merge_locked();
  g_samples[g_nsamples++] = Sample{t, host > 0 ? uint64_t(host) : 0, g_rss, dev > 0 ? uint64_t(dev) : 0,
                                   column_reserved()};
  g_side[kHost].last_sampled.store(host, std::memory_order_relaxed);
  g_side[kDevice].last_sampled.store(dev, std::memory_order_relaxed);
  g_last_time.store(t, std::memory_order_relaxed);
}

// A sample when the interval has passed, or (`changed`) when a figure moved by a step.
// False when none was taken: too soon for one, or another thread is taking one.
MPSHIM_NOINLINE bool take_sample(bool changed) {
  uint64_t t = elapsed_ns();
  uint64_t since = t - g_last_time.load(std::memory_order_relaxed);
  uint64_t interval = g_interval.load(std::memory_order_relaxed);
  if (since < (changed ? (g_merged ? interval / 64 : 0) : interval)) return false;
  if (!g_lock.try_lock()) return false;
  append_locked(t);
  g_lock.unlock();
  return true;
}

MPSHIM_INLINE void check_sample(SideState& st, int64_t now) {
  int64_t d = now - st.last_sampled.load(std::memory_order_relaxed);
  if (d < 0) d = -d;
  if (MPSHIM_UNLIKELY(d >= st.step.load(std::memory_order_relaxed) + g_unseen.load(std::memory_order_relaxed)))
    return void(take_sample(true));
  if (MPSHIM_UNLIKELY(++t_tick >= kTick)) {
    t_tick = 0;
    take_sample(false);
  }
}

// The change of a side's live bytes that takes a sample, at a peak of `peak` bytes: 1% of
// it, and on the host side at least kMinHostStep. Where each allocation or free moves a
// small heap by 1% (a program holding 3 KiB that allocates and frees 32 bytes at a time),
// every event would otherwise look at the clock and offer a sample: 2.5 x the time of
// tracking alone. Smaller changes show in the 10 ms samples. Device events are few: 1%.
constexpr int64_t kMinHostStep = kBatch;
int64_t sample_step(const SideState& st, int64_t peak) {
  int64_t floor = &st == &g_side[kHost] ? kMinHostStep : 1;
  return peak / 100 > floor ? peak / 100 : floor;
}

MPSHIM_NOINLINE void raise_peak(SideState& st, int64_t now) {
  int64_t p = st.peak.load(std::memory_order_relaxed);
  while (now > p) {
    if (st.peak.compare_exchange_weak(p, now, std::memory_order_relaxed)) {
      gen_of(st).fetch_add(1, std::memory_order_relaxed);
      // While memory grows every allocation is a new peak: the clock is read only when the
      // peak passed the last timed one by 1%, so peak_time is when memory first came within
      // 1% of the peak.
      int64_t timed = st.timed_peak.load(std::memory_order_relaxed);
      if (now - timed >= (timed >= 100 ? timed / 100 : 1)) {
        st.timed_peak.store(now, std::memory_order_relaxed);
        st.peak_time.store(elapsed_ns(), std::memory_order_relaxed);
        st.step.store(sample_step(st, now), std::memory_order_relaxed);
      }
      return;
    }
  }
}

// The bounds of pending[side] within which the next events need no look (Table::lo, hi):
// a step either side of `last`, the figure of the last sample, or the current one when a
// sample for a step was just turned away (too soon, or another thread holds the timeline:
// else every event would come back until it is let go, as when its holder waits on the
// kernel for the resident size).
void set_bounds(Table* t, Side side, int64_t base, int64_t last) {
  const SideState& st = g_side[side];
  int64_t room = st.step.load(std::memory_order_relaxed) + g_unseen.load(std::memory_order_relaxed);
  int64_t hi = st.peak.load(std::memory_order_relaxed) - base;  // past it: a new peak
  if (last + room - 1 - base < hi) hi = last + room - 1 - base;   // past it: a sample
  t->hi[side] = hi < kBatch - 1 ? hi : kBatch - 1;
  int64_t lo = last - room + 1 - base;
  t->lo[side] = lo > -kBatch + 1 ? lo : -kBatch + 1;
}

// Adds `delta` to the thread's change of the live bytes of `side`: true when that left
// the bounds (attend).
MPSHIM_INLINE bool change_live(Table* t, Side side, int64_t delta) {
  int64_t mine = t->pending[side].load(std::memory_order_relaxed) + delta;
  t->pending[side].store(mine, std::memory_order_relaxed);
  return mine > t->hi[side] || mine < t->lo[side];
}

// A thread without a table changes the shared figures.
void shared_event(Side side, uint32_t stack, bool alloc, int64_t delta, bool temp) {
  Site* s = site(side, stack);
  if (s == nullptr) return;
  SideState& st = g_side[side];
  if (alloc) {
    s->allocs.fetch_add(1, std::memory_order_relaxed);
    s->bytes.fetch_add(uint64_t(delta), std::memory_order_relaxed);
  }
  if (temp) s->temps.fetch_add(1, std::memory_order_relaxed);
  move(s, st, delta);
  int64_t now = st.live.fetch_add(delta, std::memory_order_relaxed) + delta;
  if (now > st.peak.load(std::memory_order_relaxed)) raise_peak(st, now);
  check_sample(st, now);
}

void map_all(size_t max_samples) {
  g_max_samples = max_samples != 0 ? max_samples : kMaxSamples;
  for (auto& d : g_dir) d = static_cast<std::atomic<Site*>*>(prim::os_map(kDirPages * sizeof(Site*)));
  g_samples = static_cast<Sample*>(prim::os_map(g_max_samples * sizeof(Sample)));
  g_start = prim::now_ns();
  g_on = g_dir[0] != nullptr && g_dir[1] != nullptr && g_samples != nullptr;
  if (g_on) append_locked(0);
}

// What the tables hold of each site of one side, for the report: an open-addressed map by
// site, built from the entries when the report reads the sites.
struct HeldSite {
  uint32_t key;
  uint64_t allocs, bytes, temps;
  int64_t live, before;
};

struct Held {
  HeldSite* slots = nullptr;
  size_t cap = 0;
  HeldSite none{};

  void gather(Side side, uint32_t gen) {
    size_t n = g_ntables.load(std::memory_order_acquire), used = 0;
    for (size_t i = 0; i < n; ++i)
      for (const Entry& e : g_tables[i]->entries) used += key_of_id(e.id.load(std::memory_order_relaxed)) != 0;
    if (used == 0) return;
    for (cap = 16; cap < 2 * used; cap *= 2) {
    }
    slots = static_cast<HeldSite*>(prim::os_map(cap * sizeof(HeldSite)));
    if (slots == nullptr) return;  // out of memory: the shared figures alone
    for (size_t i = 0; i < n; ++i) {
      for (const Entry& e : g_tables[i]->entries) {
        uint32_t key = key_of_id(e.id.load(std::memory_order_relaxed));
        if (key == 0 || side_of_key(key) != side) continue;
        if (site(side, stack_of_key(key)) == nullptr) continue;  // its page, which the report walks
        HeldSite* h = slot(key);
        if (h == nullptr) continue;  // more entries than counted: appeared while this ran
        h->key = key;
        h->allocs += e.allocs.load(std::memory_order_relaxed);
        h->bytes += e.bytes.load(std::memory_order_relaxed);
        h->temps += e.temps.load(std::memory_order_relaxed);
        h->live += e.live();
        h->before += before_peak(e, gen);
      }
    }
  }
  // The slot of `key`, or the empty slot where it would go; nullptr when the map is full.
  HeldSite* slot(uint32_t key) {
    size_t i = key & (cap - 1);
    for (size_t k = 0; k < cap; ++k, i = (i + 1) & (cap - 1))
      if (slots[i].key == key || slots[i].key == 0) return &slots[i];
    return nullptr;
  }
  const HeldSite* find(uint32_t key) {
    if (slots == nullptr) return &none;
    HeldSite* h = slot(key);
    return h != nullptr && h->key == key ? h : &none;
  }
  void release() {
    if (slots != nullptr) prim::os_unmap(slots, cap * sizeof(HeldSite));
  }
};

}  // namespace

uint64_t elapsed_ns() { return prim::now_ns() - g_start; }
uint64_t interval_ns() { return g_interval.load(std::memory_order_relaxed); }

void init() {
  if (config::get().profile[0] == '\0') return;
  map_all(0);
}

MPSHIM_NOINLINE void attend(Table* t, Side side, bool timed) {
  SideState& st = g_side[side];
  int64_t mine = t->pending[side].load(std::memory_order_relaxed);
  if (mine >= kBatch || mine <= -kBatch) {
    t->pending[side].store(0, std::memory_order_relaxed);
    st.live.fetch_add(mine, std::memory_order_relaxed);
    mine = 0;
  }
  int64_t base = st.live.load(std::memory_order_relaxed);
  int64_t now = base + mine;
  if (now > st.peak.load(std::memory_order_relaxed)) raise_peak(st, now);
  int64_t d = now - st.last_sampled.load(std::memory_order_relaxed);
  if (d < 0) d = -d;
  bool missed = false;
  if (d >= st.step.load(std::memory_order_relaxed) + g_unseen.load(std::memory_order_relaxed)) {
    missed = !take_sample(true);
  } else if (timed) {
    take_sample(false);
  }
  set_bounds(t, side, base, missed ? now : st.last_sampled.load(std::memory_order_relaxed));
}

MPSHIM_NOINLINE void slow_event(Side side, uint32_t stack, bool alloc, int64_t delta, bool temp) {
  Table* t = my_table();
  if (t == nullptr) return shared_event(side, stack, alloc, delta, temp);
  Entry& e = entry_of(t, side, stack);
  uint64_t id = current_id(side, stack);
  if (e.id.load(std::memory_order_relaxed) != id) renew(e, key_of(side, stack), gen_of_id(id));
  bool timed = count(e, alloc, alloc ? uint64_t(delta) : uint64_t(-delta), temp);
  if (change_live(t, side, delta) || timed) attend(t, side, timed);
}

// Device events are few (the CUDA allocator's calls): they take the slow path.
void on_alloc(Side side, uint32_t stack, uint64_t size, uintptr_t p) {
  if (side == kHost) return host_event<true>(stack, int64_t(size), p);
  t_last = ~p;
  slow_event(side, stack, true, int64_t(size), false);
}

void on_free(Side side, uint32_t stack, uint64_t size, uintptr_t p) {
  if (side == kHost) return host_event<false>(stack, -int64_t(size), p);
  bool temp = t_last == ~p;
  t_last = 0;
  slow_event(side, stack, false, -int64_t(size), temp);
}

void set_device_reserved(uint64_t bytes) {
  if (!g_on) return;
  g_reserved_known.store(true, std::memory_order_relaxed);
  uint64_t old = g_reserved.exchange(bytes, std::memory_order_relaxed);
  uint64_t peak = g_peak_reserved.load(std::memory_order_relaxed);
  while (bytes > peak && !g_peak_reserved.compare_exchange_weak(peak, bytes, std::memory_order_relaxed)) {
  }
  if (old != bytes) take_sample(true);
}

void finish() {
  if (!g_on) return;
  g_lock.lock();
  append_locked(elapsed_ns());
  g_lock.unlock();
}

Totals totals(Side side) {
  Totals t{};
  const SideState& st = g_side[side];
  for_each_site(side, [](uint32_t, const SiteFigures& f, void* ctx) {
    auto* t = static_cast<Totals*>(ctx);
    t->allocs += f.allocs;
    t->bytes += f.bytes;
    t->temps += f.temps;
  }, &t);
  t.live = live_all(side);
  t.peak = st.peak.load(std::memory_order_relaxed);
  t.peak_time_ns = st.peak_time.load(std::memory_order_relaxed);
  if (side == kDevice) {
    uint64_t r = g_peak_reserved.load(std::memory_order_relaxed);
    t.peak_reserved = g_reserved_known.load(std::memory_order_relaxed) ? r : uint64_t(t.peak);
  } else {
    t.peak_reserved = g_peak_rss;
  }
  return t;
}

void for_each_site(Side side, void (*fn)(uint32_t stack, const SiteFigures& f, void* ctx), void* ctx) {
  if (!g_on) return;
  uint32_t gen = g_gen[side].load(std::memory_order_relaxed);
  Held held;
  held.gather(side, gen);
  for (size_t pg = 0; pg < kDirPages; ++pg) {
    Site* page = g_dir[side][pg].load(std::memory_order_acquire);
    if (page == nullptr) continue;
    for (size_t i = 0; i < kPageSites; ++i) {
      const Site& s = page[i];
      uint32_t stack = uint32_t((pg << kPageShift) | i);
      const HeldSite* h = held.find(key_of(side, stack));
      uint64_t allocs = s.allocs.load(std::memory_order_relaxed) + h->allocs;
      if (allocs == 0) continue;
      int64_t live = s.live.load(std::memory_order_relaxed);
      bool saved = s.gen.load(std::memory_order_relaxed) == gen;
      SiteFigures f{allocs, s.bytes.load(std::memory_order_relaxed) + h->bytes,
                    s.temps.load(std::memory_order_relaxed) + h->temps,
                    (saved ? s.snap.load(std::memory_order_relaxed) : live) + h->before, live + h->live};
      fn(stack, f, ctx);
    }
  }
  held.release();
}

size_t timeline(const Sample** out) {
  *out = g_samples;
  return g_nsamples;
}

void for_each_mapping(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx) {
  if (!g_on) return;
  auto one = [&](const void* p, size_t bytes) { fn(uintptr_t(p), uintptr_t(p) + bytes, ctx); };
  for (auto& d : g_dir) {
    one(d, kDirPages * sizeof(Site*));
    for (size_t pg = 0; pg < kDirPages; ++pg)
      if (Site* page = d[pg].load(std::memory_order_acquire)) one(page, kPageSites * sizeof(Site));
  }
  one(g_samples, g_max_samples * sizeof(Sample));
  size_t n = g_ntables.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) one(g_tables[i], sizeof(Table));
}

void after_fork_child() {
  g_lock.reset();
  g_tables_lock.reset();
}

void reset_for_test(size_t max_samples) {
  for (auto& d : g_dir) {
    if (d == nullptr) continue;
    for (size_t pg = 0; pg < kDirPages; ++pg)
      if (Site* page = d[pg].load(std::memory_order_relaxed)) prim::os_unmap(page, kPageSites * sizeof(Site));
    prim::os_unmap(d, kDirPages * sizeof(Site*));
    d = nullptr;
  }
  if (g_samples != nullptr) prim::os_unmap(g_samples, g_max_samples * sizeof(Sample));
  // Tables stay with their threads: emptied, not unmapped.
  for (size_t i = 0; i < g_ntables.load(std::memory_order_relaxed); ++i) {
    Table* t = g_tables[i];
    for (auto& b : t->pending) b = 0;
    for (int side = 0; side < 2; ++side) t->lo[side] = t->hi[side] = 0;
    for (Entry& e : t->entries) {
      e.id = 0;
      e.allocs = e.bytes = e.freed = e.temps = 0;
      e.base = 0;
    }
  }
  for (auto& g : g_gen) g = 0;
  for (SideState& st : g_side) {
    st.live = 0;
    st.peak = 0;
    st.peak_time = 0;
    st.step = 1;
    st.timed_peak = 0;
    st.last_sampled = 0;
  }
  g_nsamples = 0;
  g_merged = false;
  g_interval = kInterval;
  g_last_time = 0;
  g_rss = g_rss_time = g_peak_rss = 0;
  g_reserved = 0;
  g_peak_reserved = 0;
  g_reserved_known = false;
  t_last = 0;
  t_tick = 0;
  map_all(max_samples);
}

}  // namespace mpshim::track::profile
