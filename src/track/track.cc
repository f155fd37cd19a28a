#include "track/track.h"

#include <atomic>
#include <utility>

#include "config/options.h"
#include "cpu/track_api.h"
#include "prim/defines.h"
#include "prim/file.h"
#include "prim/fs.h"
#include "prim/lock.h"
#include "prim/os.h"
#include "prim/thread.h"
#include "track/capture.h"
#include "track/check.h"
#include "track/classify.h"
#include "track/driver_image.h"
#include "track/foreign.h"
#include "track/guarded.h"
#include "track/history.h"
#include "track/hold.h"
#include "track/memcheck.h"
#include "track/profile_table.h"
#include "track/roots.h"
#include "track/scratch.h"
#include "track/stack_table.h"
#include "track/tag.h"
#include "track/thread_state.h"
#include "track/unwinder.h"

namespace mpshim::track {

bool g_enabled = false;

namespace {

StackTable g_stacks;
ForeignStore g_foreign;
size_t g_depth = 16;
// Set by the first block recorded outside the shim: until then a leak check has nothing to
// report (every block is internal, a root), and a short process skips its scan.
bool g_recorded = false;
// Nesting of "inside the tracker or tracking disabled" on this thread.
MPSHIM_TLS int t_depth;
// Nesting of stack captures on this thread (no capture may start inside one: the walk's
// memo and cache are the thread's). libunwind, when a capture runs it, allocates the
// shim's blocks; a signal handler that interrupted a capture allocates the program's.
MPSHIM_TLS int t_capturing;

// Whether a block allocated now is the shim's own.
MPSHIM_INLINE bool shim_block_now() { return t_depth != 0 || (t_capturing != 0 && in_unwinder()); }
prim::Lock g_check_lock;

MPSHIM_INLINE uint64_t load_tag(const uint64_t* t) { return __atomic_load_n(t, __ATOMIC_RELAXED); }
MPSHIM_INLINE void store_tag(uint64_t* t, uint64_t v) { __atomic_store_n(t, v, __ATOMIC_RELAXED); }

}  // namespace

void init() {
  const config::Config& c = config::get();
  g_depth = c.stack_depth <= kMaxDepth ? size_t(c.stack_depth) : kMaxDepth;
  if (!config::tracks_blocks(c) || !c.host) return;
  cpu::enable_tags();
  if (!cpu::tags_enabled()) return;
  // On before anything here allocates: such blocks get an internal tag, so freeing them
  // later is not mistaken for a double free.
  ++t_depth;
  g_enabled = true;
  capture_init();
  check_init();
  profile::init();
  --t_depth;
}

// ---------------------------------------------------------------------------------------
// Per allocation

namespace {

// The `depth` innermost frames of the caller of the function this is inlined into.
MPSHIM_INLINE uint32_t caller_frames(size_t depth) {
  ++t_capturing;
  uintptr_t pcs[kMaxDepth];
  ThreadState* ts = thread_state();
  uint32_t id;
  if (ts == nullptr) {
    id = g_stacks.intern(pcs, capture_stack(pcs, depth, 1));
  } else {
    size_t n = capture_stack(pcs, depth, 1, &ts->walk, &ts->walks, &id);
    if (n != kWalkRecalled) {
      id = ts->stacks.intern(g_stacks, pcs, n);
      walk_remember(&ts->walks, ts->walk, id);
    }
  }
  --t_capturing;
  return id;
}

// The stack of the caller of the function this is inlined into: none inside a capture (a
// signal handler's block, the handler having interrupted one).
MPSHIM_INLINE uint32_t caller_stack() { return g_depth == 0 || t_capturing != 0 ? 0 : caller_frames(g_depth); }

// Blocks the dynamic linker keeps (TLS vectors, link maps) are not leaks: their
// allocation stack starts in it.
bool starts_in_dynamic_linker(uint32_t stack) {
  const uintptr_t* pcs;
  return stack != 0 && stack_frames(stack, &pcs) != 0 && in_dynamic_linker(pcs[0]);
}

// Without stacks (MPSHIM_STACK_DEPTH=0) the leak check cannot tell the dynamic linker's
// blocks (TLS, thread descriptors' vectors) by their stack: one frame, the caller, tells.
// It is captured as a one-frame stack, so that the walk cache recalls it (a walk out of
// the shim's frames at every allocation cost more than 16-frame stacks recalled), and the
// thread's last one outside the dynamic linker needs no look at its frame.
MPSHIM_TLS uint32_t t_plain_caller;
MPSHIM_NOINLINE uint64_t stackless_flags() {
  uint32_t id = caller_frames(1);
  if (id == t_plain_caller) return 0;
  if (starts_in_dynamic_linker(id)) return tag::kInternal;
  t_plain_caller = id;
  return 0;
}

}  // namespace

namespace {

// Records the block at `p` whose tag is at `t` (`usable` is only read for huge sizes); its
// bytes from `fresh` on are new.
MPSHIM_INLINE void record_alloc(void* p, uint64_t* t, size_t usable, size_t size, Kind kind,
                                size_t fresh) {
  // A fresh block still holds what its slot held: the allocator's free-list link in its
  // first word, and a freed block's pointers (a struct freed without its members), which
  // would keep lost blocks reachable in the bytes the program leaves unwritten. Its new
  // bytes are indeterminate, so clear them up to kClearNewBytes (calloc's are zero, realloc
  // keeps the old ones): here, where the program is about to use their lines, it costs
  // less than at free, where a long-lived block's lines are cold.
  size_t end = size < kClearNewBytes ? size : kClearNewBytes;
  if (fresh < end) __builtin_memset(static_cast<char*>(p) + fresh, 0, end - fresh);
  hold_still();
  if (shim_block_now()) {
    store_tag(t, tag::make(kind, tag::kInternal, 0, size, usable));
    return;
  }
  if (MPSHIM_UNLIKELY(!g_recorded)) __atomic_store_n(&g_recorded, true, __ATOMIC_RELAXED);
  uint32_t id = caller_stack();
  uint64_t flags = MPSHIM_UNLIKELY(g_depth == 0 && t_capturing == 0) ? stackless_flags() : 0;
  store_tag(t, tag::make(kind, flags, id, size, usable));
  if (MPSHIM_UNLIKELY(profile::on())) profile::host_event<true>(id, int64_t(size), uintptr_t(p));
}

// Records the block at `p` as record_alloc does, finding its tag.
MPSHIM_INLINE void record_new(void* p, size_t size, Kind kind, size_t fresh) {
  uint64_t* t = cpu::tag_of(p);
  if (MPSHIM_UNLIKELY(t == nullptr)) return;
  size_t usable = 0;
  if (MPSHIM_UNLIKELY(tag::needs_usable(size))) {
    void* start;
    uint64_t* tag;
    cpu::find_block(p, &start, &usable, &tag);
  }
  record_alloc(p, t, usable, size, kind, fresh);
}

// The first byte of a block of `kind` that is new: calloc's are zero, realloc's (through
// on_alloc) the caller's to fill.
constexpr size_t fresh_from(Kind kind, size_t size) {
  return kind == Kind::Calloc || kind == Kind::Realloc ? size : 0;
}

}  // namespace

MPSHIM_NOINLINE void* on_alloc(void* p, size_t size, Kind kind) {
  record_new(p, size, kind, fresh_from(kind, size));
  return p;
}

MPSHIM_NOINLINE void on_alloc_at(void* p, uint64_t* t, size_t usable, size_t size, Kind kind) {
  record_alloc(p, t, usable, size, kind, size);
}

void on_realloc(void* p, size_t size, size_t kept) { record_new(p, size, Kind::Realloc, kept); }

namespace {

// Pinned memory is host memory; device and managed memory are the device's.
profile::Side side_of(Memory m) { return m == Memory::Device || m == Memory::Managed ? profile::kDevice : profile::kHost; }

// A block whose size is kept as slack needs its usable size.
MPSHIM_NOINLINE void profile_free_slack(void* p, uint64_t v) {
  void* start;
  size_t usable = 0;
  uint64_t* tag;
  cpu::find_block(p, &start, &usable, &tag);
  profile::on_free(profile::kHost, tag::stack(v), tag::size(v, usable), uintptr_t(p));
}

MPSHIM_NOINLINE void profile_free(void* p, uint64_t v) {
  if (tag::internal(v)) return;
  if (MPSHIM_UNLIKELY((v & tag::kSlack) != 0)) return profile_free_slack(p, v);
  profile::host_event<false>(tag::stack(v), -int64_t(tag::size(v, 0)), uintptr_t(p));
}

}  // namespace

MPSHIM_NOINLINE void on_foreign_alloc(const void* p, size_t size, Kind kind, Memory mem) {
  if (!g_enabled || p == nullptr) return;
  // Inside the shim or with tracking disabled: kept (its memory may hold pointers) but
  // never reported.
  bool quiet = shim_block_now();
  uint32_t id = quiet ? 0 : caller_stack();
  if (!quiet) __atomic_store_n(&g_recorded, true, __ATOMIC_RELAXED);
  g_foreign.insert(ForeignBlock{uintptr_t(p), size, id, kind, mem, quiet});
  if (profile::on()) profile::on_alloc(side_of(mem), id, size, uintptr_t(p));
}

bool on_foreign_free(const void* p) {
  ForeignBlock f;
  if (!g_enabled || !g_foreign.erase(uintptr_t(p), &f)) return false;
  if (profile::on()) profile::on_free(side_of(f.mem), f.stack, f.size, f.start);
  // Under the checks, a later double free names where the block was allocated and freed.
  if (checking())
    history_push(FreedBlock{0, f.start, f.size, f.stack, f.ignored ? 0 : capture_current(), 0, f.kind, f.mem});
  return true;
}

// ---------------------------------------------------------------------------------------
// For the memory-error checks

void on_foreign_closing(const void* p, bool closing) {
  if (g_enabled) g_foreign.set_closing(uintptr_t(p), closing);
}

bool describe_foreign(uintptr_t addr, MemError* e) {
  ForeignBlock f;
  if (g_enabled && g_foreign.find(addr, &f)) {
    e->block = f.start;
    e->size = f.size;
    e->alloc_kind = f.kind;
    e->alloc_stack = f.stack;
    e->mem = f.mem;
    e->freed = false;
    return true;
  }
  FreedBlock h;
  if (!g_enabled || !history_find(addr, &h) || h.mem == Memory::Host) return false;
  e->block = h.user;
  e->size = h.size;
  e->alloc_kind = h.kind;
  e->alloc_stack = h.alloc_stack;
  e->free_stack = h.free_stack;
  e->mem = h.mem;
  e->freed = true;
  return true;
}

bool describe_host(uintptr_t addr, MemError* e) {
  void* start;
  size_t usable;
  uint64_t* t;
  if (!g_enabled || !cpu::find_block(reinterpret_cast<void*>(addr), &start, &usable, &t)) return false;
  uint64_t v = load_tag(t);
  if (v == 0) return false;
  e->block = uintptr_t(start);
  e->size = tag::size(v, usable);
  e->alloc_kind = tag::kind(v);
  e->alloc_stack = tag::stack(v);
  e->mem = Memory::Host;
  return true;
}

MPSHIM_NOINLINE uint32_t capture_current() {
  if (t_depth != 0) return 0;
  return caller_stack();
}

MPSHIM_NOINLINE uint32_t capture_from(uintptr_t pc) {
  if (g_depth == 0 || t_capturing != 0) return 0;
  ++t_capturing;
  uintptr_t pcs[kMaxDepth];
  size_t n = capture_stack(pcs, kMaxDepth, 1, nullptr);
  size_t first = 0;
  for (size_t i = 0; i < n; ++i)
    if (pcs[i] == pc || pcs[i] == pc + 1) {
      first = i;
      break;
    }
  // Reports name a frame by its address minus one (a return address's call); the faulting
  // instruction itself is named by its own address.
  if (first < n && pcs[first] == pc) pcs[first] = pc + 1;
  size_t len = n - first < g_depth ? n - first : g_depth;
  uint32_t id = g_stacks.intern(pcs + first, len);
  --t_capturing;
  return id;
}

bool thread_quiet() { return t_depth != 0 || t_capturing != 0; }

void run_as_if_capturing(void (*fn)(void*), void* ctx) {
  ++t_capturing;
  fn(ctx);
  --t_capturing;
}

void record_foreign(const void* p, size_t size, Kind kind, uint32_t stack) {
  bool own = shim_block_now();
  if (!own) __atomic_store_n(&g_recorded, true, __ATOMIC_RELAXED);
  // A guarded block of the dynamic linker's is a root, as it is in a slot (collect_block;
  // without stacks its caller tells, as for a tag).
  bool root = own || (g_depth == 0 ? t_capturing == 0 && stackless_flags() != 0 : starts_in_dynamic_linker(stack));
  // The profile counts it as a block in a slot, from its allocation to its free (the
  // shim's own blocks not at all).
  bool profiled = profile::on() && !own;
  ForeignBlock f{uintptr_t(p), size, stack, kind, Memory::Host, root};
  f.profiled = profiled;
  g_foreign.insert(f);
  if (profiled) profile::on_alloc(profile::kHost, stack, size, uintptr_t(p));
}

void forget_foreign(const void* p, bool counted) {
  ForeignBlock f;
  if (g_foreign.erase(uintptr_t(p), &f) && counted && f.profiled) profile::on_free(profile::kHost, f.stack, f.size, f.start);
}

void profile_realloc_source(const void* p, bool freed) {
  if (!profile::on()) return;
  void* start;
  size_t usable;
  uint64_t* t;
  uint32_t stack;
  uint64_t size;
  if (cpu::find_block(p, &start, &usable, &t)) {
    uint64_t v = t != nullptr ? load_tag(t) : 0;
    if (!tag::live(v)) return;
    // The profile knows a checked block by its slot.
    if (freed) return profile_free(start, v);
    if (tag::internal(v)) return;
    stack = tag::stack(v);
    size = tag::size(v, usable);
    p = start;
  } else {
    ForeignBlock f;
    if (!g_foreign.find(uintptr_t(p), &f) || f.start != uintptr_t(p) || !f.profiled) return;
    stack = f.stack;
    size = f.size;
  }
  if (freed) profile::on_free(profile::kHost, stack, size, uintptr_t(p));
  else profile::on_alloc(profile::kHost, stack, size, uintptr_t(p));
}

void on_checked_free(void* slot, uint64_t tag) { profile_free(slot, tag); }

static std::atomic<RangeWalker> g_internal_ranges{nullptr};
void set_internal_ranges(RangeWalker walk) { g_internal_ranges.store(walk, std::memory_order_release); }

bool on_free(void* p) {
  hold_still();
  uint64_t* t = cpu::tag_of(p);
  uint64_t v = t != nullptr ? load_tag(t) : 0;
  if (MPSHIM_UNLIKELY(v == 0)) return false;
  store_tag(t, 0);
  if (MPSHIM_UNLIKELY(profile::on())) profile_free(p, v);
  return true;
}

bool is_live(const void* p) {
  uint64_t* t = cpu::tag_of(p);
  return t != nullptr && load_tag(t) != 0;
}

bool free_unsampled(void* p, Dealloc how, uint64_t sized) {
  if (g_check != CheckMode::Sample) return false;
  hold_still();
  uint64_t* t = cpu::tag_of(p);
  uint64_t v = t != nullptr ? load_tag(t) : 0;
  if (MPSHIM_UNLIKELY(!tag::live(v)) || (mismatched(tag::kind(v), how) && !tag::internal(v))) return false;
  // A size to compare with: checked_free compares it (a big block's needs its usable size).
  if (sized != kAnySize && ((v & tag::kSlack) != 0 || sized != tag::size(v, 0))) return false;
  store_tag(t, 0);
  if (MPSHIM_UNLIKELY(profile::on())) profile_free(p, v);
  return true;
}

size_t stack_frames(uint32_t id, const uintptr_t** pcs) { return g_stacks.frames(id, pcs); }
uint32_t stack_count() { return g_stacks.id_limit(); }

void after_module_unload() { walk_forget(); }

void prepare_late_check() {
  if (!g_enabled) return;
  ++t_depth;  // what the dynamic linker allocates is the shim's doing
  load_unwinder();
  --t_depth;
}

void disable_thread() { ++t_depth; }
void enable_thread() {
  if (t_depth > 0) --t_depth;
}

void ignore(const void* p) {
  void* start;
  size_t usable;
  uint64_t* t;
  if (!g_enabled) return;
  if (!cpu::find_block(p, &start, &usable, &t)) {
    g_foreign.ignore(uintptr_t(p));
    return;
  }
  if (t != nullptr && load_tag(t) != 0) __atomic_fetch_or(t, tag::kIgnored, __ATOMIC_RELAXED);
}

// ---------------------------------------------------------------------------------------
// Leak check

namespace {

template <class T>
struct Vec {
  T* items = nullptr;
  size_t len = 0, cap = 0;
  bool push(Scratch& s, const T& v) {
    if (!s.grow(&items, len, &cap, len + 1)) return false;
    items[len++] = v;
    return true;
  }
};

struct Thread {
  uintptr_t addr;
  bool alive;
  int tid;
};

struct CheckState {
  Scratch scratch;
  uintptr_t stack_lo = 0;  // the current thread's stack is scanned from here up
  uintptr_t regs[8] = {};  // callee-saved registers of exit()'s caller, scanned as a root
  size_t nregs = 0;
  Vec<ScanBlock> blocks;  // the host blocks, then the foreign ones
  Vec<uint64_t> usable;   // of each host block
  Vec<ForeignBlock> foreign;
  size_t nhost = 0;
  Vec<ScanRange> holes;
  Vec<ScanRange> unreadable;  // never read, not even inside a block
  Vec<Thread> threads;
  TaskInfo* tasks = nullptr;  // the other threads of the process
  ThreadRegs* task_regs = nullptr;
  size_t ntasks = 0;
  bool all_tasks = false;  // false when some could not be listed
  DriverImage driver;      // the CUDA driver's image, when one is loaded
  bool failed = false;
  bool no_maps = false;  // /proc/self/maps could not be read
};

// A block the CUDA driver allocated (one of the first frames of its stack lies in the
// driver; later ones may be a callback of the program's that the driver runs): the
// driver's business, never a leak of the program, and no evidence that device memory is
// held.
bool from_driver(const CheckState& st, uint32_t id) {
  constexpr size_t kFrames = 4;  // malloc's caller may be operator new or a C++ library
  if (st.driver.text_hi == 0 || id == 0) return false;
  const uintptr_t* pcs;
  size_t n = stack_frames(id, &pcs);
  for (size_t i = 0; i < n && i < kFrames; ++i)
    if (st.driver.in_text(pcs[i])) return true;
  return false;
}

// Registers of a live thread may hold the only pointer to a block (a worker blocked in a
// system call, still running at exit): ask every other thread for them.
constexpr uint64_t kRegsTimeoutNs = 100'000'000;
// Untouched pages are not read in runs of at least this many bytes.
constexpr size_t kUntouchedMin = 64 << 10;

void collect_block(void* start, size_t usable, uint64_t* t, void* ctx) {
  auto* st = static_cast<CheckState*>(ctx);
  uint64_t v = load_tag(t);
  if (!tag::live(v)) return;
  uint32_t id = tag::stack(v);
  bool root = tag::ignored(v) || tag::internal(v) || starts_in_dynamic_linker(id);
  bool driver = !root && from_driver(*st, id);
  // Full mode's front redzone lies between the slot's start and the block: scanned too.
  // A pointer to a zero-byte block's address refers to it, so that byte counts as well.
  uint64_t size = tag::size(v, usable), front = scan_front(tag::kind(v));
  ScanBlock b{uintptr_t(start), front + (size == 0 && front != 0 ? 1 : size), v, root || driver,
              Reach::Unvisited};
  b.driver = driver;
  b.first = id;  // stack ids are handed out in the order the sites are first seen
  if (!st->blocks.push(st->scratch, b) || !st->usable.push(st->scratch, usable)) st->failed = true;
}

// A foreign block is scanned only when reachable, as a host block is, so its memory is
// no root; device memory is never read at all. A host one is a block on guard pages,
// whose words reach device memory as a slot's do, and which is the CUDA driver's business
// when the driver allocated it, as in a slot (collect_block).
void collect_foreign(const ForeignBlock& f, void* ctx) {
  auto* st = static_cast<CheckState*>(ctx);
  bool host = f.mem == Memory::Host;
  bool driver = host && !f.ignored && from_driver(*st, f.stack);
  ScanBlock b{f.start, f.size, 0, f.ignored || driver, Reach::Unvisited,
              f.mem == Memory::Device || f.closing};
  b.cuda = !host;
  b.driver = driver;
  b.first = f.stack;
  if (!st->blocks.push(st->scratch, b) || !st->foreign.push(st->scratch, f)) st->failed = true;
}

void collect_hole(uintptr_t lo, uintptr_t hi, void* ctx) {
  auto* st = static_cast<CheckState*>(ctx);
  if (!st->holes.push(st->scratch, ScanRange{lo, hi})) st->failed = true;
}

void collect_unread(uintptr_t lo, uintptr_t hi, void* ctx) {
  auto* st = static_cast<CheckState*>(ctx);
  if (!st->unreadable.push(st->scratch, ScanRange{lo, hi})) st->failed = true;
}

void collect_thread(uintptr_t addr, bool alive, int tid, void* ctx) {
  auto* st = static_cast<CheckState*>(ctx);
  if (!st->threads.push(st->scratch, Thread{addr, alive, tid})) st->failed = true;
}

// The host block slot holding `addr`, else the foreign block holding it, else 0.
uintptr_t find_live(uintptr_t addr, void* ctx) {
  void* start;
  size_t usable;
  uint64_t* t;
  if (cpu::find_block(reinterpret_cast<void*>(addr), &start, &usable, &t))
    return reinterpret_cast<uintptr_t>(start);
  const Vec<ForeignBlock>& f = static_cast<CheckState*>(ctx)->foreign;
  size_t lo = 0, hi = f.len;  // the first record starting above addr
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (f.items[mid].start <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return 0;
  const ForeignBlock& b = f.items[lo - 1];
  return addr - b.start < (b.size != 0 ? b.size : 1) ? b.start : 0;
}

// Lists the other threads and takes a snapshot of their registers.
void snapshot_other_threads(CheckState& st) {
  size_t cap = list_other_tasks(nullptr, 0) + 64;
  st.tasks = st.scratch.array<TaskInfo>(cap);
  st.task_regs = st.scratch.array<ThreadRegs>(cap);
  if (st.tasks == nullptr || st.task_regs == nullptr) return;
  size_t n = list_other_tasks(st.tasks, cap);
  st.all_tasks = n <= cap;
  st.ntasks = n <= cap ? n : cap;
  for (size_t i = 0; i < st.ntasks; ++i) st.task_regs[i].tid = st.tasks[i].tid;
  snapshot_registers(st.task_regs, st.ntasks, kRegsTimeoutNs);
}

// Marks the stack mappings of live threads in `live`; returns false when a live thread's
// stack could not be found (then no mapping may be taken for a dead thread's by its shape).
bool mark_live_stacks(CheckState& st, const ScanRange* maps, size_t nmaps, bool* live) {
  bool all_found = st.all_tasks;
  for (size_t i = 0; i < st.ntasks; ++i) {
    int64_t m = st.tasks[i].sp != 0 ? find_range(maps, nmaps, st.tasks[i].sp) : -1;
    for (size_t k = 0; m < 0 && k < st.threads.len; ++k)
      if (st.threads.items[k].alive && st.threads.items[k].tid == st.tasks[i].tid)
        m = find_range(maps, nmaps, st.threads.items[k].addr);
    if (m >= 0)
      live[m] = true;
    else
      all_found = false;
  }
  return all_found;
}

// Cuts the dead part of the other threads' stacks: below the lowest stack pointer seen
// (when listed, in the register snapshot, now) lie only returned frames, whose stale
// pointers (the allocator's own copies of the blocks it handed out among them) would hide
// leaks; valgrind and LeakSanitizer scan from the stack pointer too. A thread stopped while
// it ran may be in a leaf function, whose locals lie in the 128-byte red zone below its
// stack pointer: that is kept, as valgrind keeps it. A thread blocked in the kernel is not
// in such a function's code but in a system call's, and what lies below it is only the
// frames of calls that returned before it (the allocation it made right before waiting):
// its red zone is cut too (LeakSanitizer scans neither) when its registers, which may hold
// what those frames held, were taken. A thread blocked otherwise (a page fault) keeps it,
// and so does one not asked for its registers (in a call a signal would interrupt): what
// it handled last is more likely to be in them than anywhere else. What a thread still
// running moves below it was in its registers or in memory that is scanned. A thread whose
// stack pointer was never seen is scanned whole. Only a thread's own stack (the mapping
// where it first allocated) is cut, not memory that merely holds the stack it runs on.
void cut_dead_stacks(CheckState& st, const ScanRange* maps, size_t nmaps) {
  constexpr uintptr_t kRedZone = 128;
  constexpr uintptr_t kMaxSignalFrame = 256 << 10;
  for (size_t i = 0; i < st.ntasks; ++i) {
    // The snapshot's own signal frame, on whatever stack the thread runs: the kernel saved
    // all of the thread's registers there, its vector registers too, which are no roots
    // (nor for valgrind and LeakSanitizer) and hold whatever was copied through them last
    // (a thread starts with its creator's). Its general-purpose registers are roots from
    // the snapshot. Memory below the stack pointer, so this is cut whether or not the
    // stack is the thread's own (the whole stack of a thread that never allocated is read).
    const ThreadRegs& r = st.task_regs[i];
    uintptr_t rsp = r.answered ? r.regs[kThreadRegSp] : 0;
    if (rsp > kRedZone && r.handler_frame != 0 && r.handler_frame < rsp - kRedZone &&
        rsp - r.handler_frame <= kMaxSignalFrame) {
      int64_t m = find_range(maps, nmaps, r.handler_frame);
      if (m >= 0 && rsp - kRedZone <= maps[m].hi) collect_hole(r.handler_frame, rsp - kRedZone, &st);
    }
  }
  for (size_t i = 0; i < st.ntasks; ++i) {
    // The lowest stack pointer, and whether the thread was in a system call there.
    bool now_in_call = false;
    uintptr_t now = blocked_sp(st.tasks[i].tid, &now_in_call);
    uintptr_t ran = st.task_regs[i].answered ? st.task_regs[i].regs[kThreadRegSp] : 0;
    uintptr_t sp = UINTPTR_MAX;
    bool in_call = false;
    for (auto [seen, call] : {std::pair{st.tasks[i].sp, st.tasks[i].in_call}, std::pair{now, now_in_call},
                              std::pair{ran, false}})
      if (seen != 0 && (seen < sp || (seen == sp && call))) {
        sp = seen;
        in_call = call;
      }
    uintptr_t red = in_call && ran != 0 ? 0 : kRedZone;
    if (sp == UINTPTR_MAX) continue;
    int64_t m = find_range(maps, nmaps, sp);
    if (m < 0 || sp - maps[m].lo <= red) continue;
    for (size_t k = 0; k < st.threads.len; ++k) {
      const Thread& t = st.threads.items[k];
      if (t.alive && t.tid == st.tasks[i].tid && maps[m].lo <= t.addr && t.addr < maps[m].hi) {
        collect_hole(maps[m].lo, sp - red, &st);
        break;
      }
    }
  }
}

// True when all of [lo, hi) lies in mappings: readable ones, or `unreadable` ones (never
// read, also inside a block).
bool mapped_through(const ScanRange* readable, size_t nread, const Vec<ScanRange>& unreadable, uintptr_t lo,
                    uintptr_t hi) {
  while (lo < hi) {
    int64_t r = find_range(readable, nread, lo);
    if (r >= 0) {
      lo = readable[r].hi;
      continue;
    }
    int64_t u = find_range(unreadable.items, unreadable.len, lo);
    if (u < 0) return false;
    lo = unreadable.items[u].hi;
  }
  return true;
}

// Builds the roots: readable+writable mappings minus the holes, plus the saved registers
// of exit()'s caller and of the other threads.
bool build_roots(CheckState& st, Vec<ScanRange>* roots) {
  uintptr_t sp = st.stack_lo;
  size_t len = 0;
  const char* text = read_maps(st.scratch, &len);
  if (text == nullptr) {
    st.no_maps = true;
    return false;
  }
  size_t nmaps = parse_maps(text, len, nullptr, 0);
  ScanRange* maps = st.scratch.array<ScanRange>(nmaps + 1);
  bool* guarded = st.scratch.array<bool>(nmaps + 1);
  bool* live = st.scratch.array<bool>(nmaps + 1);
  if (maps == nullptr || guarded == nullptr || live == nullptr) return false;
  parse_maps(text, len, maps, nmaps, guarded);
  // A program may protect pages inside its own blocks (a coroutine stack's guard page).
  size_t nbad = parse_unreadable(text, len, nullptr, 0);
  st.unreadable.items = st.scratch.array<ScanRange>(nbad + 1);
  if (st.unreadable.items == nullptr) return false;
  st.unreadable.cap = nbad + 1;
  st.unreadable.len = parse_unreadable(text, len, st.unreadable.items, nbad);
  // Nor is a page of a private mapping that the process never touched: it holds none of its
  // pointers, and reading it would fault it in (a runtime's reserved heap, sbcl's 1 GiB,
  // took a second at exit; a big block written only in part, as long). Big runs only, to
  // keep the ranges few.
  size_t nbig = parse_private(text, len, nullptr, 0, kUntouchedMin);
  ScanRange* big = st.scratch.array<ScanRange>(nbig + 1);
  if (big == nullptr) return false;
  nbig = parse_private(text, len, big, nbig, kUntouchedMin);
  for (size_t i = 0; i < nbig; ++i)
    if (!prim::for_each_untouched(big[i].lo, big[i].hi, kUntouchedMin, collect_unread, &st)) break;
  if (st.failed) return false;
  sort_ranges(st.unreadable.items, st.unreadable.len);
  // A foreign block's memory may be gone: its owner can unmap it without the shim seeing
  // (the CUDA driver's teardown at exit takes leaked pinned and managed memory along), and
  // the check's own scratch memory may have been mapped there since. Such a block is not
  // read; the pointers to it still count. A host block on guard pages is the shim's own
  // mapping: read as a block in a slot is, around pages the program made unreadable (a
  // coroutine's stack with its guard page), unless some of it is not mapped at all.
  if (st.blocks.len > st.nhost) {
    size_t nread = parse_readable(text, len, nullptr, 0);
    ScanRange* readable = st.scratch.array<ScanRange>(nread + 1);
    if (readable == nullptr) return false;
    nread = parse_readable(text, len, readable, nread);
    for (size_t i = st.nhost; i < st.blocks.len; ++i) {
      ScanBlock& b = st.blocks.items[i];
      if (b.opaque || b.size == 0) continue;
      uintptr_t end = b.start + b.size;
      if (st.foreign.items[i - st.nhost].mem == Memory::Host) {
        b.opaque = !mapped_through(readable, nread, st.unreadable, b.start, end) || st.scratch.overlaps(b.start, end);
        continue;
      }
      int64_t r = find_range(readable, nread, b.start);
      b.opaque = r < 0 || readable[r].hi - b.start < b.size || st.scratch.overlaps(b.start, end);
    }
  }

  cpu::for_each_heap_range(collect_hole, &st);
  g_stacks.for_each_mapping(collect_hole, &st);
  walk_cache_mapping(collect_hole, &st);
  for_each_own_data(collect_hole, &st);
  for_each_unwinder_data(collect_hole, &st);
  profile::for_each_mapping(collect_hole, &st);
  uintptr_t store_lo, store_hi;
  g_foreign.mapping_locked(&store_lo, &store_hi);
  if (store_lo != store_hi) collect_hole(store_lo, store_hi, &st);
  for (size_t i = 0; i < st.foreign.len; ++i) {
    const ForeignBlock& f = st.foreign.items[i];
    if (f.size != 0) collect_hole(f.start, f.start + f.size, &st);
  }
  st.scratch.for_each_mapping([&](uintptr_t lo, uintptr_t hi) { collect_hole(lo, hi, &st); });
  for_each_check_range(collect_hole, &st);
  if (RangeWalker walk = g_internal_ranges.load(std::memory_order_acquire)) walk(collect_hole, &st);
  for (size_t i = 0; i < st.driver.ndata; ++i) collect_hole(st.driver.data[i].lo, st.driver.data[i].hi, &st);
  cpu::for_each_thread(collect_thread, &st);
  int64_t own = find_range(maps, nmaps, sp);
  if (own >= 0) {
    live[own] = true;
    collect_hole(maps[own].lo, sp, &st);
  }
  bool all_live_found = mark_live_stacks(st, maps, nmaps, live);
  cut_dead_stacks(st, maps, nmaps);
  // Stacks of exited threads (glibc keeps them cached) hold stale pointers: known ones by
  // the allocator's records, the others by their shape (anonymous, above a guard page)
  // when every live thread's stack is accounted for.
  for (size_t i = 0; i < st.threads.len; ++i) {
    if (st.threads.items[i].alive) continue;
    int64_t m = find_range(maps, nmaps, st.threads.items[i].addr);
    if (m >= 0 && !live[m]) collect_hole(maps[m].lo, maps[m].hi, &st);
  }
  // A memory check's guarded block has its guard page above its pages: what is mapped
  // above that page only looks like a thread stack.
  for (size_t m = 0; all_live_found && m < nmaps; ++m)
    if (guarded[m] && !live[m] && !follows_guard_page(maps[m].lo)) collect_hole(maps[m].lo, maps[m].hi, &st);
  if (st.failed) return false;

  roots->items = st.scratch.array<ScanRange>(nmaps + st.holes.len + 2 + st.ntasks);
  if (roots->items == nullptr) return false;
  roots->len = subtract_ranges(maps, nmaps, st.holes.items, st.holes.len, roots->items);
  if (st.nregs != 0)
    roots->items[roots->len++] = {uintptr_t(st.regs), uintptr_t(st.regs + st.nregs)};
  for (size_t i = 0; i < st.ntasks; ++i) {
    const uintptr_t* r = st.task_regs[i].regs;
    if (st.task_regs[i].answered) roots->items[roots->len++] = {uintptr_t(r), uintptr_t(r + kThreadRegs)};
  }
  return true;
}

// Collects and classifies under the allocator's locks. Kept out of line so that the
// registers of every caller are spilled above `marker`, where the stack scan starts. At
// exit the scan starts at the frame that called exit(), or where `from` says, instead.
MPSHIM_NOINLINE bool run_classification(CheckState& st, StackFrom from) {
  __builtin_unwind_init();
  volatile uintptr_t marker = 0;
  st.stack_lo = reinterpret_cast<uintptr_t>(&marker) & ~uintptr_t(7);
  uintptr_t exit_sp = 0;
  if (from.exit && exit_caller_frame(&exit_sp, st.regs, 8, &st.nregs) && exit_sp > st.stack_lo)
    st.stack_lo = exit_sp;
  else
    st.nregs = 0;
  if (!from.exit && from.sp > st.stack_lo) st.stack_lo = from.sp & ~uintptr_t(7);
  find_driver_image(&st.driver);  // before the allocator's locks: it takes the loader's
  guarded_lock();  // the order of before_fork
  g_foreign.lock();
  cpu::lock_all();
  // Under the locks, so threads waiting to allocate or free stay where they are, and with
  // the threads that would tag or untag a block holding still (hold.h). The signal handler
  // touches neither the allocator nor any lock.
  g_hold.store(1, std::memory_order_seq_cst);
  snapshot_other_threads(st);
  cpu::for_each_tagged(collect_block, &st);
  st.nhost = st.blocks.len;
  g_foreign.for_each_locked(collect_foreign, &st);
  Vec<ScanRange> roots;
  bool ok = !st.failed && build_roots(st, &roots) &&
            classify(st.blocks.items, st.blocks.len, roots.items, roots.len, find_live, &st, nullptr,
                     st.unreadable.items, st.unreadable.len);
  g_hold.store(0, std::memory_order_release);
  prim::futex_wake(&g_hold, INT32_MAX);
  cpu::unlock_all();
  g_foreign.unlock();
  guarded_unlock();
  return ok;
}

int check_locked(LeakSink sink, void* ctx, StackFrom from) {
  if (!__atomic_load_n(&g_recorded, __ATOMIC_RELAXED)) {
    Block none{};
    return sink(&none, 0, ctx) ? 1 : 0;
  }
  CheckState st;
  if (!run_classification(st, from)) {
    // Without /proc (a process that changed its root with chroot) there is no memory map.
    constexpr char kNoMaps[] = "mpshim: leak check failed (/proc/self/maps cannot be read); no report\n";
    constexpr char kNoMemory[] = "mpshim: leak check failed (out of memory); no report\n";
    if (st.no_maps) prim::write_err(kNoMaps, sizeof kNoMaps - 1);
    else prim::write_err(kNoMemory, sizeof kNoMemory - 1);
    return -1;
  }
  Block* out = st.scratch.array<Block>(st.blocks.len + 1);
  if (out == nullptr) return -1;
  size_t n = 0;
  for (size_t i = 0; i < st.blocks.len; ++i) {
    const ScanBlock& b = st.blocks.items[i];
    if (b.root) continue;
    LeakClass cls = b.reach == Reach::Direct     ? LeakClass::Direct
                    : b.reach == Reach::Indirect ? LeakClass::Indirect
                                                 : LeakClass::Reachable;
    if (i < st.nhost) {
      out[n++] = Block{tag::size(b.user, st.usable.items[i]), tag::stack(b.user), tag::kind(b.user),
                       cls, Memory::Host};
    } else {
      const ForeignBlock& f = st.foreign.items[i - st.nhost];
      out[n++] = Block{f.size, f.stack, f.kind, cls, f.mem};
    }
  }
  return sink(out, n, ctx) ? 1 : 0;
}

MPSHIM_TLS bool t_checking;  // this thread runs a leak check

}  // namespace

std::atomic<uint32_t> g_hold{0};

void wait_for_check() {
  if (t_checking) return;  // the check's own allocations
  while (g_hold.load(std::memory_order_acquire) != 0) prim::futex_wait(&g_hold, 1);
}

namespace {

int run_check(LeakSink sink, void* ctx, StackFrom from) {
  if (!g_enabled) return -1;
  ++t_depth;
  g_check_lock.lock();
  t_checking = true;
  int result = check_locked(sink, ctx, from);
  t_checking = false;
  g_check_lock.unlock();
  --t_depth;
  return result;
}

}  // namespace

int leak_check(LeakSink sink, void* ctx, StackFrom from) { return run_check(sink, ctx, from); }

bool busy_here() { return t_checking || in_unwinder(); }

// ---------------------------------------------------------------------------------------
// fork

// In a single-threaded process fork takes none of these locks (prim::single_threaded):
// the code a signal handler's fork interrupted may hold one.
static bool g_fork_locked = false;

void before_fork() {
  g_fork_locked = !prim::single_threaded();
  if (!g_fork_locked) return;
  g_check_lock.lock();
  check_before_fork();
  g_foreign.lock();
}
void after_fork_parent() {
  if (!g_fork_locked) return;
  g_foreign.unlock();
  check_after_fork_parent();
  g_check_lock.unlock();
}
void after_fork_child() {
  if (g_fork_locked) {
    g_check_lock.reset();
    check_after_fork_child();
    g_foreign.after_fork_child();
  }
  g_stacks.after_fork_child();
  profile::after_fork_child();
  prim::unwinder_pipe_after_fork_child();
  // A handler's fork during this thread's check: the child has no check to wait for.
  g_hold.store(0, std::memory_order_relaxed);
}

}  // namespace mpshim::track
