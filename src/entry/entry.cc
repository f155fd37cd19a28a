#include "entry/entry.h"

#include <utility>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <utility>

#include "config/children.h"
#include "config/options.h"
#include "cpu/heap.h"
#include "cpu/stats.h"
#include "cpu/state.h"
#include "entry/check.h"
#include "entry/cuda.h"
#include "entry/cuda_cache.h"
#include "entry/real.h"
#include "entry/program_heap.h"
#include "entry/sandbox.h"
#include "track/profile.h"
#include "prim/fmt.h"
#include "prim/os.h"
#include "prim/thread.h"
#include "report/profile_json.h"
#include "report/report.h"
#include "track/check.h"
#include "track/memcheck.h"

namespace mpshim::entry {

Mode g_mode = kUninit;
static std::atomic<int> g_init{0};  // 0 not started, 1 running, 2 done
static int g_start_pid = 0;  // the process that loaded the shim (not a child of its fork)
// The thread that writes the reports at the end of the process. Another thread that ends
// the process meanwhile (exit, _exit, abort) waits for it: the process ends with the first
// one's status, its report whole (a worker's _exit while main returns from main).
static std::atomic<int> g_ending_tid{0};
static std::atomic<uint32_t> g_never{0};

static void after_fork_child() {
  g_ending_tid.store(0, std::memory_order_relaxed);  // the thread that claimed it is gone
  track::after_fork_child();
  report::after_fork_child();
}

static bool g_stdio_fork_locked = false;
static void stdio_fork_prepare() {
  g_stdio_fork_locked = !prim::single_threaded();
  if (g_stdio_fork_locked) prim::stdio_list_lock();
}
static void stdio_fork_parent() {
  if (g_stdio_fork_locked) prim::stdio_list_unlock();
}

void init() {
  int expected = 0;
  if (!g_init.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
    // Another thread initialises; the initialising thread itself never gets here since
    // g_mode is set before anything it calls can allocate.
    while (g_init.load(std::memory_order_acquire) != 2) sched_yield();
    return;
  }
  g_start_pid = prim::os_getpid();
  const config::Config& c = config::get();
  if (c.host) {
    bool tracking = config::tracks_blocks(c);
    if (tracking) cpu::enable_tags();
    cpu::start();
    __atomic_store_n(&g_mode, kOn, __ATOMIC_RELEASE);
    if (tracking) {
      track::init();
      check_init();
      // Registered after the allocator's: fork runs these prepare handlers first, so the
      // tracker's lock (held during a leak check, around the allocator's) is taken first.
      pthread_atfork(track::before_fork, track::after_fork_parent, after_fork_child);
      track::set_internal_ranges(cuda::cache_internal_ranges);
    }
  } else {
    __atomic_store_n(&g_mode, kResolving, __ATOMIC_RELEASE);
    if (!resolve_real()) {
      prim::Writer(2).str("mpshim: cannot find libc's allocator; using mpshim's (MPSHIM_HOST=on)\n");
      __atomic_store_n(&g_mode, kOn, __ATOMIC_RELEASE);
    } else {
      __atomic_store_n(&g_mode, kOff, __ATOMIC_RELEASE);
    }
  }
  cuda::init();
  // Registered last, so that fork takes the CUDA cache's lock before the allocator's.
  pthread_atfork(cuda::cache_lock, cuda::cache_unlock, cuda::cache_unlock);
  // Registered after every lock of the shim's, so that fork takes glibc's stdio list lock
  // first, as glibc's fork does before its own malloc's locks (prim::stdio_list_lock).
  // glibc's fork resets it in the child.
  if (g_mode == kOn) pthread_atfork(stdio_fork_prepare, stdio_fork_parent, nullptr);
  g_init.store(2, std::memory_order_release);
  find_program_heap();
  if (c.verbose) config::dump(c);
}

static MPSHIM_INLINE void ensure_init() {
  if (MPSHIM_UNLIKELY(g_init.load(std::memory_order_acquire) != 2)) {
    // Re-entry while resolving libc's symbols is served by the bootstrap area.
    if (g_mode == kResolving) return;
    init();
  }
}

void* alloc_cold(size_t size, size_t align, track::Kind kind) {
  ensure_init();
  switch (g_mode) {
    case kOn:
      return align <= 16 ? alloc(size, kind) : alloc_aligned(align, size, kind);
    case kOff:
      return align <= 16 ? g_real.malloc(size) : g_real.memalign(align, size);
    default: {
      void* p = bootstrap_alloc(size, align);
      if (p == nullptr) errno = ENOMEM;
      return p;
    }
  }
}

void* calloc_cold(size_t n, size_t size) {
  ensure_init();
  if (g_mode == kOff) return g_real.calloc(n, size);
  if (g_mode == kOn) return calloc(n, size);
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return alloc_cold(total, 16, track::Kind::Calloc);  // bootstrap memory is zeroed
}

void free_cold(void* p, track::Dealloc how) {
  if (is_bootstrap(p)) return;
  ensure_init();
  // A program with a malloc of its own reaches here only through the functions it left
  // out (sized delete): its blocks go back to it, as they would without the shim.
  if (g_mode == kOff) return program_free(p, how) ? void() : g_real.free(p);
  if (g_mode == kOn) free(p, how);
}

// Under the checks: free() or delete of device, managed or pinned memory that CUDA handed
// out is reported as such (and the memory left alone); false for any other pointer.
static bool report_cuda_memory_freed(void* p) {
  track::MemError e;
  auto addr = reinterpret_cast<uintptr_t>(p);
  if (!track::describe_foreign(addr, &e) || e.block != addr || e.freed) return false;
  e.kind = track::ErrorKind::Mismatch;
  e.addr = addr;
  e.call = "free";
  track::report_error(e);
  return true;
}

// A free the allocator cannot honour: a block of the program's own heap goes to the
// program's free or delete (program_heap.h); anything else is reported and left alone.
void bad_free(void* p, track::Dealloc how) {
  static std::atomic<int> reported{0};
  if (is_bootstrap(p)) return;
  if (track::checking() && report_cuda_memory_freed(p)) return;
  bool ours = cpu::owns(p);
  if (!ours && program_free(p, how)) return;
  if (!ours) cpu::g_counters.foreign_frees.fetch_add(1, std::memory_order_relaxed);
  int seen = reported.fetch_add(1, std::memory_order_relaxed);
  // Memory of another allocator's is left alone unblamed, but an address on the stack or
  // in no mapping is no heap block of anyone's: an error under the checks. Telling costs
  // a read of /proc/self/maps, so only the first few are told.
  bool tell = !ours && seen < (track::checking() ? 64 : 10) && !sandboxed();
  track::Place place = tell ? track::place_of(reinterpret_cast<uintptr_t>(p)) : track::Place::Unknown;
  if (place != track::Place::Unknown && track::checking()) {
    track::MemError e;
    e.kind = track::ErrorKind::BadFree;
    e.addr = reinterpret_cast<uintptr_t>(p);
    e.call = track::dealloc_name(how);
    e.place = place;
    track::report_error(e);
    return;
  }
  if (seen >= 10) return;
  prim::Writer w(2);
  w.str("mpshim: ").str(ours ? "double free or free of a non-block pointer " : "free of memory mpshim did not allocate ");
  w.hex(reinterpret_cast<uintptr_t>(p));
  if (place == track::Place::Stack) w.str(" (a stack address)");
  if (place == track::Place::Unmapped) w.str(" (no memory is mapped there)");
  if (place == track::Place::Global) w.str(" (a global)");
  w.str("; ignored\n");
}

void* calloc(size_t n, size_t size) {
  if (MPSHIM_LIKELY(g_mode == kOn)) {
    if (MPSHIM_LIKELY(!track::enabled())) return cpu::alloc_zeroed(n, size);
    if (MPSHIM_UNLIKELY(track::checking()) && !track::skip_sample()) return calloc_checked(n, size);
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
      errno = ENOMEM;
      return nullptr;
    }
    // Large blocks need no slack, and fresh mappings need no memset.
    void* p = total > cpu::kMaxSmall ? cpu::alloc_zeroed(n, size) : cpu::alloc_with_slack(total);
    if (p == nullptr) return nullptr;
    if (total <= cpu::kMaxSmall) memset(p, 0, total);
    return track::on_alloc(p, total, track::Kind::Calloc);
  }
  return calloc_cold(n, size);
}

void* realloc_cold(void* p, size_t size) {
  ensure_init();
  if (g_mode == kOff) {
    if (is_bootstrap(p)) {
      void* n = g_real.malloc(size);
      if (n != nullptr) memcpy(n, p, size < bootstrap_tail(p) ? size : bootstrap_tail(p));
      return n;
    }
    return g_real.realloc(p, size);
  }
  if (g_mode != kOn) {
    void* n = alloc_cold(size, 16, track::Kind::Realloc);
    if (n != nullptr && p != nullptr) memcpy(n, p, size < bootstrap_tail(p) ? size : bootstrap_tail(p));
    return n;
  }
  return realloc(p, size);
}

namespace {

// Tracked realloc of a small block of ours to a small size, the profile off (it counts the
// old block's free first, as the path through on_free tells it): the block stays tagged
// throughout, resized where it is or its copy tagged before it is untagged, so that a leak
// check running meanwhile in another thread always finds what it points to in a live
// block. False, changing nothing, for the others (a large block may move by mremap).
bool realloc_tagged(void* p, size_t size, void** out) {
  size_t kept = cpu::usable_size(p), want = cpu::with_slack(size);
  if (kept > cpu::kMaxSmall || want > cpu::kMaxSmall || !track::is_live(p)) return false;
  if (cpu::resize_in_place(p, want)) {
    track::on_realloc(p, size, kept);
    *out = p;
    return true;
  }
  void* n = cpu::alloc_with_slack(size);
  if (n != nullptr) {
    memcpy(n, p, want < kept ? want : kept);
    track::on_realloc(n, size, kept);
    if (track::on_free(p)) cpu::free(p);
  }
  *out = n;
  return true;
}

}  // namespace

void* realloc(void* p, size_t size) {
  if (MPSHIM_UNLIKELY(g_mode != kOn)) return realloc_cold(p, size);
  if (p == nullptr) return alloc(size, track::Kind::Malloc);
  if (size == 0) {
    // glibc frees and returns NULL for realloc(p, 0).
    free(p);
    return nullptr;
  }
  if (size > (size_t(1) << 46)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (MPSHIM_UNLIKELY(track::enabled() && track::checking())) {
    // Sample mode, an unsampled block that stays unsampled: as tracking alone below (its
    // tag already cleared by free_unsampled), in place where the allocator can.
    if (!(track::skip_sample() && track::free_unsampled(p, track::Dealloc::Realloc))) return realloc_checked(p, size);
  } else {
    if (!cpu::owns(p)) {
      if (is_bootstrap(p)) {
        void* n = alloc(size, track::Kind::Realloc);
        if (n != nullptr) memcpy(n, p, size < bootstrap_tail(p) ? size : bootstrap_tail(p));
        return n;
      }
      bad_free(p, track::Dealloc::Realloc);
      return nullptr;
    }
    if (!track::enabled()) return cpu::realloc(p, size);
    void* n;
    if (!track::profile::on() && realloc_tagged(p, size, &n)) return n;
    if (!track::on_free(p)) {
      bad_free(p, track::Dealloc::Realloc);
      return nullptr;
    }
  }
  size_t kept = cpu::usable_size(p);
  void* n = cpu::realloc(p, cpu::with_slack(size));
  // On failure the old block stays live: record it again.
  if (n != nullptr) track::on_realloc(n, size, kept);
  else track::on_alloc(p, cpu::usable_size(p), track::Kind::Realloc);
  return n;
}

void* reallocarray(void* p, size_t n, size_t size, void* (*scope_realloc)(void*, size_t)) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return scope_realloc(p, total);
}

static bool valid_align(size_t align) { return align != 0 && (align & (align - 1)) == 0; }

int posix_memalign(void** out, size_t align, size_t size) {
  if (!valid_align(align) || align % sizeof(void*) != 0) return EINVAL;
  int saved = errno;
  void* p = alloc_aligned(align, size, track::Kind::PosixMemalign);
  if (p == nullptr) {
    errno = saved;  // posix_memalign reports through its result only
    return ENOMEM;
  }
  *out = p;
  return 0;
}

void* aligned_alloc(size_t align, size_t size) {
  if (!valid_align(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return alloc_aligned(align, size, track::Kind::AlignedAlloc);
}

void* memalign(size_t align, size_t size) {
  // glibc rounds a non-power-of-two alignment up instead of failing, and fails with
  // EINVAL only when rounding cannot give one; a power of two it cannot serve is ENOMEM.
  if (align > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return nullptr;
  }
  if (!valid_align(align)) {
    size_t a = 16;
    while (a < align) a <<= 1;
    align = a;
  }
  return alloc_aligned(align, size, track::Kind::Memalign);
}

void* valloc(size_t size) { return alloc_aligned(size_t(getpagesize()), size, track::Kind::Valloc); }

void* pvalloc(size_t size) {
  size_t page = size_t(getpagesize());
  size_t rounded = (size + page - 1) & ~(page - 1);
  if (rounded < size) {
    errno = ENOMEM;
    return nullptr;
  }
  return alloc_aligned(page, rounded == 0 ? page : rounded, track::Kind::Pvalloc);
}

size_t usable_cold(void* p) {
  ensure_init();
  if (g_mode == kOff && !is_bootstrap(p)) return g_real.usable_size(p);
  return 0;
}

size_t usable_size(void* p) {
  if (p == nullptr) return 0;
  if (MPSHIM_LIKELY(g_mode == kOn)) {
    // Under the checks only the requested bytes: the rest are redzones.
    if (MPSHIM_UNLIKELY(track::enabled() && track::checking())) return track::checked_usable(p);
    return cpu::usable_size(p);
  }
  return usable_cold(p);
}

int trim(size_t pad) {
  ensure_init();
  if (g_mode == kOff) return g_real.trim != nullptr ? g_real.trim(pad) : 0;
  return cpu::trim() ? 1 : 0;
}

// The C++ runtime's operator new, by [aligned][array][nothrow].
constexpr const char* kRuntimeNew[2][2][2] = {
    {{"_Znwm", "_ZnwmRKSt9nothrow_t"}, {"_Znam", "_ZnamRKSt9nothrow_t"}},
    {{"_ZnwmSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t"},
     {"_ZnamSt11align_val_t", "_ZnamSt11align_val_tRKSt9nothrow_t"}}};
// std::nothrow_t is an empty tag passed by reference and never read: any object will do,
// and the shim does not depend on the C++ runtime's std::nothrow.
constexpr char kNothrowTag = 0;

namespace {

// Out of memory: let the C++ runtime run the new-handler loop and throw std::bad_alloc, or,
// for the nothrow forms, run it and turn its std::bad_alloc into nullptr (the standard makes
// them calls of operator new in a try block). Out of line: its message buffer would
// otherwise make every operator new take a frame of 4 KiB.
MPSHIM_NOINLINE void* op_new_failed(size_t size, size_t align, bool array, bool nothrow) {
  void* next = dlsym(RTLD_NEXT, kRuntimeNew[align > 16][array][nothrow]);
  if (next == nullptr) {
    if (nothrow) return nullptr;
    prim::Writer(2).str("mpshim: out of memory in operator new and no C++ runtime to report it\n");
    abort_now();
  }
  if (align > 16 && nothrow) return reinterpret_cast<void* (*)(size_t, size_t, const void*)>(next)(size, align, &kNothrowTag);
  if (nothrow) return reinterpret_cast<void* (*)(size_t, const void*)>(next)(size, &kNothrowTag);
  if (align > 16) return reinterpret_cast<void* (*)(size_t, size_t)>(next)(size, align);
  return reinterpret_cast<void* (*)(size_t)>(next)(size);
}

}  // namespace

void* op_new(size_t size, size_t align, bool array, bool nothrow) {
  using track::Kind;
  Kind kind = align > 16 ? (array ? Kind::NewArrayAligned : Kind::NewAligned) : (array ? Kind::NewArray : Kind::New);
  void* p = align > 16 ? alloc_aligned(align, size, kind) : alloc(size, kind);
  if (MPSHIM_LIKELY(p != nullptr)) return p;
  return op_new_failed(size, align, array, nothrow);
}

void mark_children() {
  const char* mark = config::root_mark();
  if (mark == nullptr) return;
  // What setenv allocates (the new environment array, the string) is the shim's doing:
  // never reported, and a root like the rest of the environment.
  const config::Config& c = config::get();
  bool tracking = g_mode == kOn && track::enabled();
  if (tracking) track::disable_thread();
  setenv(config::kRootVariable, mark, 1);
  // The paths as this process resolved them from the directory it started in: a child
  // started elsewhere writes and reads the same files.
  for (auto [var, path] : {std::pair{"MPSHIM_REPORT", c.report}, std::pair{"MPSHIM_SUPPRESSIONS", c.suppressions},
                           std::pair{"MPSHIM_FOLDED", c.folded}, std::pair{"MPSHIM_PROFILE", c.profile}}) {
    const char* given = getenv(var);
    if (given != nullptr && path[0] == '/' && strcmp(given, path) != 0) setenv(var, path, 1);
  }
  if (tracking) track::enable_thread();
  if (g_mode == kOn && (c.leaks || c.check != 0)) report::start_shared_files();
}

static void claim_the_end() {
  int me = prim::os_gettid(), none = 0;
  if (g_ending_tid.compare_exchange_strong(none, me) || none == me) return;
  for (;;) prim::futex_wait(&g_never, 0);
}

// The reports at the end of the process: statistics, then, when blocks are tracked, the
// memory checks' last look, the leak report (its scan of this thread's stack starting as
// leak_check's `stack_from` says) and the profile. False when nothing is tracked; else
// `leaks` is leak_check's result.
static bool final_reports(uintptr_t stack_from, int* leaks) {
  if (g_init.load(std::memory_order_acquire) != 2 || sandboxed()) return false;
  claim_the_end();
  const config::Config& c = config::get();
  if (g_mode == kOn && c.stats) {
    cpu::Stats s;
    cpu::snapshot(&s);
    report::write_stats(s);
  }
  if (c.stats) cuda::write_stats();
  if (g_mode != kOn || !track::enabled()) return false;
  check_at_exit();
  // The leak check first: what the profile's symboliser maps would be scanned as roots.
  *leaks = c.leaks ? leak_check(true, stack_from) : -1;
  track::disable_thread();  // what the symboliser allocates is not the program's
  report::write_profile();
  track::enable_thread();
  return true;
}

void at_exit() {
  int leaks;
  if (final_reports(0, &leaks)) exit_if_failed(leaks);
}

// Whether a process ending without its exit handlers (`how`: _exit or abort) writes the
// reports. A child of fork (or vfork, sharing the parent's memory) leaves with _exit so as
// not to run the parent's exit handlers: it writes no report either. Inside a signal
// handler (its signal blocked) the code it interrupted may hold the allocator's locks: a
// note says why there is no report.
static bool reports_at_immediate_end(const char* how) {
  if (prim::os_getpid() != g_start_pid || (tracking() && track::busy_here())) return false;
  if (!prim::signals_blocked()) return true;
  if (tracking() && config::get().leaks)
    prim::Writer(2).str("mpshim: ").str(how).str(" called with signals blocked (in a signal handler?): no leak report\n");
  return false;
}

void at_immediate_exit(int status, uintptr_t stack_from) {
  int leaks;
  if (reports_at_immediate_end("_exit") && final_reports(stack_from, &leaks)) {
    int code = failed_exit_code(leaks);
    if (code != 0) status = code;
  }
  prim::exit_process(status);
}

void before_abort(uintptr_t stack_from, const char* how) {
  int leaks;
  if (reports_at_immediate_end(how)) final_reports(stack_from, &leaks);
}

void at_abort(uintptr_t stack_from) {
  before_abort(stack_from, "abort");
  abort_now();
}

void abort_now() {
  auto libc_abort = reinterpret_cast<void (*)()>(dlsym(RTLD_NEXT, "abort"));
  if (libc_abort != nullptr) libc_abort();
  prim::abort_process();
}

namespace {
std::atomic<bool> g_exit_handler{false};  // registered: the library destructor reports nothing
void exit_handler(void*) { at_exit(); }
// quick_exit may be called from a signal handler (C11): checked as _exit is.
void quick_exit_handler() {
  int leaks;
  if (reports_at_immediate_end("quick_exit") && final_reports(0, &leaks)) {
    int code = failed_exit_code(leaks);
    if (code != 0) prim::exit_process(code);
  }
}
}  // namespace

// exit() runs its handlers in the reverse order of their registration. The dynamic linker
// runs this constructor before the program's start code registers _dl_fini, which runs the
// shared libraries' static destructors (__cxa_finalize) and destructor functions, the
// shim's among the first (preloaded, and nothing depends on it): a library's static map of
// objects made with new, destroyed only then, would still hold them when the shim's
// destructor reports. Registered with no DSO handle, the handler runs
// after _dl_fini, when every destructor has run, as valgrind checks after the process ends.
void register_exit_handler() {
  bool tracking = g_mode == kOn && track::enabled();
  if (tracking) track::disable_thread();  // glibc may allocate room for more handlers
  if (prim::at_process_exit(exit_handler)) g_exit_handler.store(true, std::memory_order_release);
  // quick_exit runs only at_quick_exit's handlers (the first registered, last): the report
  // then, as valgrind's at any end of the process (LeakSanitizer writes none).
  prim::at_quick_process_exit(quick_exit_handler);
  if (tracking) track::enable_thread();
}

void library_destructor() {
  if (!g_exit_handler.load(std::memory_order_acquire)) return at_exit();
  // The check after _dl_fini needs libunwind: loaded now (a process under a seccomp
  // filter writes nothing at exit and loads nothing).
  if (g_mode == kOn && g_init.load(std::memory_order_acquire) == 2 && !sandboxed()) track::prepare_late_check();
}

namespace {
std::atomic<DlopenFn> g_dlopen{nullptr};
}  // namespace

DlopenFn real_dlopen_fn() {
  DlopenFn f = g_dlopen.load(std::memory_order_acquire);
  if (f != nullptr) return f;
  f = reinterpret_cast<DlopenFn>(dlsym(RTLD_NEXT, "dlopen"));
  g_dlopen.store(f, std::memory_order_release);
  return f;
}

int dlclose(void* handle) {
  static int (*real)(void*) = nullptr;
  if (real == nullptr) real = reinterpret_cast<int (*)(void*)>(dlsym(RTLD_NEXT, "dlclose"));
  if (real == nullptr) return -1;
  bool tracking = g_mode == kOn && track::enabled();
  if (tracking) report::before_module_unload(handle);
  int rc = real(handle);
  if (tracking) track::after_module_unload();
  return rc;
}

}  // namespace mpshim::entry
