// The behaviour behind every exported allocation function: host allocator on or off,
// tracking hooks, glibc's errno and NULL contract. preload/ forwards to these one-liners.
#pragma once
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <dlfcn.h>

#include "cpu/fast.h"
#include "entry/memcheck.h"
#include "track/track.h"

namespace mpshim::entry {

enum Mode : int { kUninit = 0, kOn = 1, kOff = 2, kResolving = 3 };
extern Mode g_mode;

/// True when the host allocator is on and tracks allocations.
inline bool tracking() { return g_mode == kOn && track::enabled(); }

/// Start-up (idempotent): configuration, allocator, tracker, real symbols when host is off.
void init();

// Cold paths: start-up, host off, tracking, bad frees.
MPSHIM_NOINLINE void* alloc_cold(size_t size, size_t align, track::Kind kind);
MPSHIM_NOINLINE void* calloc_cold(size_t n, size_t size);
MPSHIM_NOINLINE void free_cold(void* p, track::Dealloc how);
MPSHIM_NOINLINE void* realloc_cold(void* p, size_t size);
MPSHIM_NOINLINE size_t usable_cold(void* p);
/// A free the allocator cannot honour: a block of the program's own heap goes to the
/// program's free or delete (program_heap.h); anything else is reported and left alone.
void bad_free(void* p, track::Dealloc how = track::Dealloc::Free);

/// Any allocation in host mode, with the tracker told.
MPSHIM_INLINE void* alloc(size_t size, track::Kind kind) {
  if (MPSHIM_LIKELY(g_mode == kOn)) {
    if (MPSHIM_LIKELY(!track::enabled())) return cpu::alloc_fast(size);
    if (MPSHIM_UNLIKELY(track::checking()) && !track::skip_sample()) return alloc_checked(size, 16, kind);
    void* p = cpu::alloc_with_slack(size);
    return p != nullptr ? track::on_alloc(p, size, kind) : nullptr;
  }
  return alloc_cold(size, 16, kind);
}

MPSHIM_INLINE void* alloc_aligned(size_t align, size_t size, track::Kind kind) {
  if (MPSHIM_LIKELY(g_mode == kOn)) {
    if (MPSHIM_LIKELY(!track::enabled())) return cpu::alloc_aligned(align, size);
    if (MPSHIM_UNLIKELY(track::checking()) && !track::skip_sample()) return alloc_checked(size, align, kind);
    // Slack (cpu::with_slack) keeps the block's end inside its slot: one byte more for an
    // aligned block; a size the allocator refuses anyway stays as it is (no overflow).
    void* p = align <= 16 ? cpu::alloc_with_slack(size)
                          : cpu::alloc_aligned(align, size > (size_t(1) << 46) ? size : size + 1);
    return p != nullptr ? track::on_alloc(p, size, kind) : nullptr;
  }
  return alloc_cold(size, align, kind);
}

/// free, and operator delete (`how` says which, and `sized` the size a sized delete was
/// given, for the checks' mismatch reports).
MPSHIM_INLINE void free(void* p, track::Dealloc how = track::Dealloc::Free,
                        uint64_t sized = track::kAnySize) {
  if (p == nullptr) return;
  if (MPSHIM_LIKELY(g_mode == kOn)) {
    if (track::enabled()) {
      if (MPSHIM_UNLIKELY(track::checking())) {
        if (track::g_check != track::CheckMode::Sample || !track::free_unsampled(p, how, sized))
          return free_checked(p, how, sized);
      } else if (!track::on_free(p)) {
        return bad_free(p, how);
      }
    }
    if (MPSHIM_UNLIKELY(!cpu::free_fast(p))) bad_free(p, how);
    return;
  }
  free_cold(p, how);
}

void* calloc(size_t n, size_t size);
void* realloc(void* p, size_t size);
/// glibc's reallocarray: realloc(p, n * size) unless the product overflows. It calls the
/// `realloc` the process resolves (`scope_realloc`), as glibc's does: in a program that
/// brings its own malloc family without reallocarray (Chromium, Firefox), that is the
/// program's, and a block never crosses from one heap to the other.
void* reallocarray(void* p, size_t n, size_t size, void* (*scope_realloc)(void*, size_t));
int posix_memalign(void** out, size_t align, size_t size);
void* aligned_alloc(size_t align, size_t size);
void* memalign(size_t align, size_t size);
void* valloc(size_t size);
void* pvalloc(size_t size);
size_t usable_size(void* p);
int trim(size_t pad);

/// operator new: on failure the C++ runtime's own operator new of the same form runs the
/// new-handler loop and throws std::bad_alloc, or returns nullptr for the nothrow forms.
void* op_new(size_t size, size_t align, bool array, bool nothrow);

/// mpshim_get_stats: fills the first `size` bytes of the public stats struct.
int public_stats(void* out, size_t size);

/// Library constructor, after init(): when this process is the program the user started,
/// marks the environment its exec'd children inherit (config/children.h) and empties the
/// report files named without %p, which the processes it is followed into append to.
void mark_children();

/// Statistics and the leak report at exit: run once, by the exit handler of
/// register_exit_handler, else by the library destructor.
void at_exit();
/// _exit(status) and _Exit: the reports of at_exit, in the process that loaded the shim
/// (not a child of its fork) and outside signal handlers, its scan of this thread's stack
/// starting at `stack_from` (the frame of the _exit called, which holds its caller's
/// registers); then ends the process at once with `status`, or MPSHIM_LEAK_EXITCODE.
[[noreturn]] void at_immediate_exit(int status, uintptr_t stack_from);
/// abort(): the reports as at_immediate_exit writes them, then libc's abort.
[[noreturn]] void at_abort(uintptr_t stack_from);
/// The reports of at_abort alone, before a function of libc's that aborts (assert's:
/// `how` names it in the note written inside a signal handler).
void before_abort(uintptr_t stack_from, const char* how);
/// libc's abort, without the reports (the shim's own: a memory error already reported).
[[noreturn]] void abort_now();
/// Library constructor, last: registers the exit handler that runs at_exit() after the
/// shared libraries' static destructors and destructor functions.
void register_exit_handler();
/// Library destructor: at_exit(), unless the exit handler will run it later.
void library_destructor();
/// dlclose wrapper.
int dlclose(void* handle);

/// glibc's dlopen, resolved on first use.
using DlopenFn = void* (*)(const char*, int);
DlopenFn real_dlopen_fn();

/// The exported dlopen: glibc's without RTLD_DEEPBIND. A library opened with that flag looks
/// its symbols up in its own dependencies before the global scope, so its malloc and free
/// would be libc's while the program's are the shim's, and a block passed between them ends
/// in the wrong allocator (PHP opens its extensions so). A tail call, so that glibc still
/// sees the real caller, whose RUNPATH and $ORIGIN it uses.
MPSHIM_INLINE void* dlopen(const char* file, int mode) {
  return real_dlopen_fn()(file, mode & ~RTLD_DEEPBIND);
}

}  // namespace mpshim::entry
