#include "track/memcheck.h"

#include <atomic>
#include <cstring>

#include "config/options.h"
#include "cpu/track_api.h"
#include "prim/defines.h"
#include "prim/os.h"
#include "track/guarded.h"
#include "track/history.h"
#include "track/hold.h"
#include "track/profile.h"
#include "track/tag.h"

namespace mpshim::track {

CheckMode g_check = CheckMode::Off;
uint64_t g_guard_size = 0;
MPSHIM_TLS uint32_t t_sample_countdown;

namespace {

std::atomic<ErrorSink> g_sink{nullptr};
uint32_t g_sample_rate = 5000;
MPSHIM_TLS uint64_t t_random;

// Light and full fill freed blocks up to this many bytes (full: all of them).
constexpr size_t kLightFreedFill = 512;
// Redzone bytes after a block beyond its layout's, up to the slot's end, filled and checked.
constexpr size_t kMaxTailFill = 2048;

// Bytes after the block that hold the redzone pattern: to the slot's end, at most the
// layout's redzone plus kMaxTailFill.
size_t tail_fill(size_t usable, size_t front, uint64_t size) {
  size_t room = usable - front - size;
  size_t cap = layout(size, Kind::Malloc).back + kMaxTailFill;
  return room < cap ? room : cap;
}

// Verifies a live block's redzones; fills *e (without the found field) when one changed.
bool verify_block(uintptr_t slot, size_t usable, uint64_t t, MemError* e) {
  if (g_check != CheckMode::Light && g_check != CheckMode::Full) return true;
  Kind k = tag::kind(t);
  uint64_t size = tag::size(t, usable);
  size_t front = front_of(k);
  uintptr_t user = slot + front;
  const unsigned char* last;
  const unsigned char* bad = nullptr;
  ErrorKind kind = ErrorKind::HeapOverflow;
  if (front != 0) {
    bad = find_changed(reinterpret_cast<const unsigned char*>(slot), front, kRedzoneByte, &last);
    kind = ErrorKind::HeapUnderflow;
  }
  if (bad == nullptr) {
    kind = ErrorKind::HeapOverflow;
    bad = find_changed(reinterpret_cast<const unsigned char*>(user + size),
                       tail_fill(usable, front, size), kRedzoneByte, &last);
  }
  if (bad == nullptr) return true;
  e->kind = kind;
  e->addr = uintptr_t(bad);
  e->last = uintptr_t(last);
  e->block = user;
  e->size = size;
  e->alloc_kind = k;
  e->alloc_stack = tag::stack(t);
  return false;
}

// verify_block's test alone, inline: a MemError is built only for an error.
MPSHIM_INLINE bool redzones_intact(uintptr_t slot, size_t usable, uint64_t t) {
  if (g_check != CheckMode::Light && g_check != CheckMode::Full) return true;
  uint64_t size = tag::size(t, usable);
  size_t front = front_of(tag::kind(t));
  const unsigned char* last;
  auto* s = reinterpret_cast<const unsigned char*>(slot);
  if (front != 0 && find_changed(s, front, kRedzoneByte, &last) != nullptr) return false;
  return find_changed(s + front + size, tail_fill(usable, front, size), kRedzoneByte, &last) == nullptr;
}

MPSHIM_INLINE uint64_t load_tag(const uint64_t* t) { return __atomic_load_n(t, __ATOMIC_RELAXED); }

// A live block of the allocator found from `p`: its slot, usable size, tag, start.
struct Found_ {
  void* slot;
  size_t usable;
  uint64_t* tagp;
  uint64_t tag;
};

// What the history knows of a freed block holding `addr`: a double free at its start, a
// bad free inside it. False when no record holds it.
bool from_history(uintptr_t addr, MemError* e) {
  FreedBlock h;
  if (!history_find(addr, &h)) return false;
  e->kind = h.user == addr ? ErrorKind::DoubleFree : ErrorKind::BadFree;
  describe_freed(h, e);
  return true;
}

// Whether the function holding return address `pc` is exported as an operator new
// (`want_new`) or delete. A few call sites ask, over and over: answers are cached.
std::atomic<uint64_t> g_operator_pcs[64];
constexpr uint64_t kIsOperator = uint64_t(1) << 63;

bool in_operator(uintptr_t pc, bool want_new) {
  if (pc == 0) return false;
  uint64_t key = uint64_t(pc) << 1 | uint64_t(want_new);  // pc < 2^47
  std::atomic<uint64_t>& slot = g_operator_pcs[(key * 0x9e3779b97f4a7c15ull) >> 58];
  uint64_t v = slot.load(std::memory_order_relaxed);
  if ((v & ~kIsOperator) == key) return (v & kIsOperator) != 0;
  const char* name = prim::symbol_at(reinterpret_cast<const void*>(pc - 1));
  bool is = name != nullptr &&
            (want_new ? strncmp(name, "_Znwm", 5) == 0 || strncmp(name, "_Znam", 5) == 0
                      : strncmp(name, "_ZdlPv", 6) == 0 || strncmp(name, "_ZdaPv", 6) == 0);
  slot.store(key | (is ? kIsOperator : 0), std::memory_order_relaxed);
  return is;
}

uintptr_t first_frame(uint32_t stack) {
  const uintptr_t* pcs = nullptr;
  return stack != 0 && stack_frames(stack, &pcs) > 0 ? pcs[0] : 0;
}

// lookup when the quick test failed: the error found and reported (or the block given
// after a reported mismatch).
MPSHIM_NOINLINE int lookup_slow(void* p, Dealloc how, Found_* b, bool check_kind, uint64_t sized) {
  const char* call = dealloc_name(how);
  if (!cpu::find_block(p, &b->slot, &b->usable, &b->tagp)) {
    if (!cpu::owns(p)) return -1;
    // The allocator's memory with no block there now: a block freed and given back (a
    // large mapping cached or unmapped) is known to the history.
    MemError e;
    e.addr = uintptr_t(p);
    e.call = call;
    from_history(uintptr_t(p), &e);
    report_error(e);
    return 0;
  }
  b->tag = b->tagp != nullptr ? load_tag(b->tagp) : 0;
  uintptr_t slot = uintptr_t(b->slot);
  MemError e;
  e.addr = uintptr_t(p);
  e.call = call;
  if (!tag::live(b->tag)) {
    if (!from_history(uintptr_t(p), &e)) {
      // A slot's start that holds no block: freed before (its record overwritten, or none
      // kept in sample mode).
      bool start = uintptr_t(p) == slot || uintptr_t(p) == slot + 16;
      e.kind = start ? ErrorKind::DoubleFree : ErrorKind::BadFree;
    }
    report_error(e);
    return 0;
  }
  Kind k = tag::kind(b->tag);
  uint64_t size = tag::size(b->tag, b->usable);
  uintptr_t user = slot + front_of(k);
  e.block = user;
  e.size = size;
  e.alloc_kind = k;
  e.alloc_stack = tag::stack(b->tag);
  if (uintptr_t(p) != user) {
    e.kind = ErrorKind::BadFree;
    report_error(e);
    return 0;
  }
  if (check_kind && mismatched(k, how) && !tag::internal(b->tag)) {
    e.access_stack = capture_current();
    if (real_mismatch(k, how, e.alloc_stack, e.access_stack)) {
      e.kind = ErrorKind::Mismatch;
      report_error(e);  // the block is freed all the same
    }
  } else if (sized != kAnySize && sized != size && !tag::internal(b->tag)) {
    e.kind = ErrorKind::SizeMismatch;
    e.call_size = sized;
    report_error(e);  // freed all the same, as AddressSanitizer goes on after it
  }
  return 1;
}

// What free or realloc of `p` finds. 1: a live block starting at p (in *b); 0: an error,
// reported; -1: not the allocator's memory. `sized`: the size a sized delete was given.
MPSHIM_INLINE int lookup(void* p, Dealloc how, Found_* b, bool check_kind, uint64_t sized = kAnySize) {
  if (MPSHIM_LIKELY(cpu::find_block(p, &b->slot, &b->usable, &b->tagp))) {
    uint64_t t = b->tag = b->tagp != nullptr ? load_tag(b->tagp) : 0;
    Kind k = tag::kind(t);
    if (MPSHIM_LIKELY(tag::live(t) && uintptr_t(p) == uintptr_t(b->slot) + front_of(k) &&
                      !(check_kind && mismatched(k, how) && !tag::internal(t)) &&
                      (sized == kAnySize || sized == tag::size(t, b->usable))))
      return 1;
  }
  return lookup_slow(p, how, b, check_kind, sized);
}

// A changed redzone of a block being freed, reported (out of line: errors are rare).
MPSHIM_NOINLINE void report_redzone(const Found_& b, Found found) {
  MemError e;
  if (!verify_block(uintptr_t(b.slot), b.usable, b.tag, &e)) {
    e.found = found;
    report_error(e);
  }
}

// Frees a live block: its redzones verified, then quarantined (light, full) or given back.
void release(const Found_& b, Found found) {
  hold_still();
  if (MPSHIM_UNLIKELY(!redzones_intact(uintptr_t(b.slot), b.usable, b.tag))) report_redzone(b, found);
  __atomic_store_n(b.tagp, uint64_t(0), __ATOMIC_RELAXED);
  if (MPSHIM_UNLIKELY(profile::on()) && found != Found::Realloc) on_checked_free(b.slot, b.tag);
  if (g_check == CheckMode::Sample) {
    cpu::release_block(b.slot);
    return;
  }
  Kind k = tag::kind(b.tag);
  uint64_t size = tag::size(b.tag, b.usable);
  uintptr_t user = uintptr_t(b.slot) + front_of(k);
  size_t fill = g_check == CheckMode::Full || size < kLightFreedFill ? size : kLightFreedFill;
  __builtin_memset(reinterpret_cast<void*>(user), kFreedByte, fill);
  uint32_t free_stack = tag::internal(b.tag) ? 0 : capture_current();
  history_push(FreedBlock{uintptr_t(b.slot), user, size, tag::stack(b.tag), free_stack, uint32_t(fill), k,
                          Memory::Host});
}

}  // namespace

const char* error_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::HeapOverflow: return "heap-buffer-overflow";
    case ErrorKind::HeapUnderflow: return "heap-buffer-underflow";
    case ErrorKind::UseAfterFree: return "heap-use-after-free";
    case ErrorKind::DoubleFree: return "double-free";
    case ErrorKind::BadFree: return "bad-free";
    case ErrorKind::Mismatch: return "alloc-dealloc-mismatch";
    case ErrorKind::SizeMismatch: return "new-delete-type-mismatch";
  }
  return "memory error";
}

const char* dealloc_name(Dealloc how) {
  switch (how) {
    case Dealloc::Free: return "free";
    case Dealloc::Delete: return "operator delete";
    case Dealloc::DeleteArray: return "operator delete[]";
    case Dealloc::Realloc: return "realloc";
  }
  return "free";
}

bool real_mismatch(Kind kind, Dealloc how, uint32_t alloc_stack, uint32_t call_stack) {
  bool is_new = kind == Kind::New || kind == Kind::NewArray || kind == Kind::NewAligned ||
                kind == Kind::NewArrayAligned;
  if (how == Dealloc::Delete || how == Dealloc::DeleteArray)
    return is_new || !in_operator(first_frame(alloc_stack), true);
  return !(how == Dealloc::Free && is_new && in_operator(first_frame(call_stack), false));
}

void set_error_sink(ErrorSink sink) { g_sink.store(sink, std::memory_order_release); }

void report_error(MemError e) {
  if (e.access_stack == 0 && e.found != Found::Exit) e.access_stack = capture_current();
  if (ErrorSink s = g_sink.load(std::memory_order_acquire)) s(e);
}

void check_init() {
  const config::Config& c = config::get();
  g_check = CheckMode(c.check);
  if (g_check == CheckMode::Off) return;
  g_sample_rate = uint32_t(c.sample_rate);
  g_guard_size = c.guard_size;
  // Sample mode quarantines nothing and records only sampled frees (one in the sample
  // rate): 512 records a shard reach further back than light's 8192, in a sixteenth of the
  // memory. Sampled blocks share the slots; full mode's big blocks are as many as live,
  // with their freed pages (given back) kept inaccessible for a quarter of the quarantine.
  if (g_check == CheckMode::Sample) {
    history_init(0, 512);
    guarded_init(size_t(c.sample_slots), uint64_t(1) << 40);
  } else {
    history_init(c.quarantine, 8192);
    guarded_init(0, c.quarantine / 4 > 64 * prim::page_size() ? c.quarantine / 4 : 64 * prim::page_size());
  }
}

size_t scan_front(Kind kind) { return front_of(kind); }

void* on_alloc_checked(void* slot, size_t size, Kind kind) {
  void* start;
  size_t usable;
  uint64_t* t;
  if (!cpu::find_block(slot, &start, &usable, &t)) return slot;
  size_t front = front_of(kind);
  auto* s = static_cast<unsigned char*>(slot);
  if (front != 0) __builtin_memset(s, kRedzoneByte, front);
  if (g_check == CheckMode::Full && kind != Kind::Calloc) {
    __builtin_memset(s + front, kUninitByte, size);
  } else if (kind != Kind::Calloc && kind != Kind::Realloc) {
    // Stale pointers of the slot's last block, cleared as tracking clears them (track.h).
    __builtin_memset(s + front, 0, size < kClearNewBytes ? size : kClearNewBytes);
  }
  __builtin_memset(s + front + size, kRedzoneByte, tail_fill(usable, front, size));
  // The tag last: a process forked while this runs in another thread finds the block
  // either not live yet or whole, never live with redzones still to be written.
  on_alloc_at(slot, t, usable, size, kind);
  return s + front;
}

namespace {

// Intervals between samples, uniform in [1, 2 * rate - 1]: one allocation in `rate` on
// average, at places a program cannot line up with.
uint32_t sample_interval() {
  if (g_sample_rate <= 1) return 1;
  if (t_random == 0) t_random = uint64_t(uintptr_t(&t_random)) * 0x9e3779b97f4a7c15ull | 1;
  t_random ^= t_random << 13;
  t_random ^= t_random >> 7;
  t_random ^= t_random << 17;
  return uint32_t(1 + t_random % (2 * uint64_t(g_sample_rate) - 1));
}

}  // namespace

bool sample_now() {
  if (g_check != CheckMode::Sample) return false;
  uint32_t c = t_sample_countdown;
  // A new thread's first interval starts with its first allocation (MPSHIM_SAMPLE_RATE=1
  // samples that one too).
  if (c == 0) c = sample_interval();
  if (MPSHIM_LIKELY(c > 1)) {
    t_sample_countdown = c - 1;
    return false;
  }
  t_sample_countdown = sample_interval();
  return !thread_quiet();
}

// A pointer outside the allocator and the guarded blocks that is exactly the start of a
// guarded block freed and unmapped since: a double free (reported; true). Only the exact
// start counts: other memory there now is not ours to blame.
bool freed_guarded(void* p, const char* call) {
  MemError e;
  e.addr = uintptr_t(p);
  e.call = call;
  if (!from_history(uintptr_t(p), &e) || e.kind != ErrorKind::DoubleFree) return false;
  report_error(e);
  return true;
}

bool checked_free(void* p, Dealloc how, uint64_t sized) {
  Found_ b;
  int r = lookup(p, how, &b, true, sized);
  if (r < 0) return guarded_free(p, how, dealloc_name(how), sized) || freed_guarded(p, dealloc_name(how));
  if (r > 0) release(b, Found::Free);
  return true;
}

int checked_realloc_source(void* p, size_t* size) {
  uint64_t gs;
  if (guarded_size(p, &gs)) {
    *size = size_t(gs);
    return 1;
  }
  Found_ b;
  int r = lookup(p, Dealloc::Realloc, &b, true);
  if (r < 0) {
    // Not the allocator's: a guarded block freed already, or another allocator's memory.
    return guarded_free(p, Dealloc::Realloc, "realloc") || freed_guarded(p, "realloc") ? 0 : -1;
  }
  // What malloc_usable_size said the program may use (checked_usable): all of the slot in
  // sample mode, where blocks have no redzones.
  if (r > 0) *size = g_check == CheckMode::Sample ? b.usable : size_t(tag::size(b.tag, b.usable));
  return r;
}

void checked_release(void* p, Found found) {
  Found_ b;
  if (lookup(p, Dealloc::Free, &b, false) > 0) release(b, found);
  else guarded_free(p, Dealloc::Realloc, "realloc");
}

void* checked_resize(void* p, size_t size) {
  if (g_check != CheckMode::Light) return nullptr;
  Found_ b;
  if (!cpu::find_block(p, &b.slot, &b.usable, &b.tagp) || b.tagp == nullptr || b.slot != p) return nullptr;
  b.tag = load_tag(b.tagp);
  Kind k = tag::kind(b.tag);
  // A block lookup would report (one of operator new) takes the general path.
  if (!tag::live(b.tag) || front_of(k) != 0 || (mismatched(k, Dealloc::Realloc) && !tag::internal(b.tag)) ||
      size + layout(size, Kind::Realloc).back > b.usable)
    return nullptr;
  auto* s = static_cast<unsigned char*>(p);
  uint64_t old = tag::size(b.tag, b.usable);
  size_t old_end = old + tail_fill(b.usable, 0, old), new_end = size + tail_fill(b.usable, 0, size);
  // Grown: only the old redzone's bytes the block now takes are checked and lost; the rest
  // stays redzone (the new one reaches at least as far), checked when the block is freed.
  // So a string grown by small appends costs its appends, not its redzone, each time.
  const unsigned char* last;
  bool grown = size >= old;
  if (MPSHIM_UNLIKELY(grown ? find_changed(s + old, size - old, kRedzoneByte, &last) != nullptr
                            : !redzones_intact(uintptr_t(b.slot), b.usable, b.tag)))
    report_redzone(b, Found::Realloc);
  // Not live while its bytes change: a process forked meanwhile finds it free, not with a
  // redzone half rewritten.
  __atomic_store_n(b.tagp, uint64_t(0), __ATOMIC_RELAXED);
  if (MPSHIM_UNLIKELY(profile::on())) on_checked_free(b.slot, b.tag);  // freed, then allocated
  size_t clear_end = size < kClearNewBytes ? size : kClearNewBytes;
  if (old < clear_end) __builtin_memset(s + old, 0, clear_end - old);
  size_t fill_from = grown ? old_end : size;
  __builtin_memset(s + fill_from, kRedzoneByte, new_end - fill_from);
  on_alloc_at(b.slot, b.tagp, b.usable, size, Kind::Realloc);
  return p;
}

size_t checked_usable(const void* p) {
  uint64_t gs;
  void* start;
  size_t usable;
  uint64_t* t;
  if (!cpu::find_block(p, &start, &usable, &t)) return guarded_size(p, &gs) ? size_t(gs) : 0;
  uint64_t v = t != nullptr ? load_tag(t) : 0;
  if (!tag::live(v) || uintptr_t(start) + front_of(tag::kind(v)) != uintptr_t(p)) return 0;
  // Sample mode has no redzones: the slot's slack may be used as glibc allows.
  return g_check == CheckMode::Sample ? usable : size_t(tag::size(v, usable));
}

namespace {

struct ExitScan {
  static constexpr size_t kMax = 8;
  MemError errs[kMax];
  size_t n = 0;
};

void verify_tagged(void* start, size_t usable, uint64_t* t, void* ctx) {
  auto* s = static_cast<ExitScan*>(ctx);
  uint64_t v = load_tag(t);
  if (s->n == ExitScan::kMax || !tag::live(v)) return;
  if (!verify_block(uintptr_t(start), usable, v, &s->errs[s->n])) s->errs[s->n++].found = Found::Exit;
}

}  // namespace

void check_all_blocks() {
  if (g_check == CheckMode::Sample) return guarded_verify_all();
  if (g_check != CheckMode::Light && g_check != CheckMode::Full) return;
  ExitScan s;
  cpu::lock_all();
  cpu::for_each_tagged(verify_tagged, &s);
  cpu::unlock_all();
  for (size_t i = 0; i < s.n; ++i) report_error(s.errs[i]);
  guarded_verify_all();
  history_verify_all();
}

void for_each_check_range(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx) {
  history_ranges(fn, ctx);
  guarded_ranges(fn, ctx);
}

void check_before_fork() {
  guarded_before_fork();
  history_before_fork();
}
void check_after_fork_parent() {
  history_after_fork_parent();
  guarded_after_fork_parent();
}
void check_after_fork_child() {
  history_after_fork_child();
  guarded_after_fork_child();
}

}  // namespace mpshim::track
