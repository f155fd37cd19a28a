// libunwind, loaded on first use rather than with the shim: a process that never needs it
// (most never do: the walker in unwind.h follows nearly every frame) does not pay for
// loading it and liblzma at start-up.
#pragma once
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <cstdint>

namespace mpshim::track {

/// The libunwind functions the tracker calls.
struct Unwinder {
  int (*getcontext)(unw_context_t*);
  int (*init_local)(unw_cursor_t*, unw_context_t*);
  int (*step)(unw_cursor_t*);
  int (*get_reg)(unw_cursor_t*, unw_regnum_t, unw_word_t*);
  int (*get_proc_info)(unw_cursor_t*, unw_proc_info_t*);
  int (*backtrace)(void**, int);
};

/// libunwind's functions, loading it (and setting its per-thread caches) the first time;
/// nullptr when it cannot be loaded now (the dynamic linker is busy: a later call tries
/// again) or at all. Run it where libunwind may run (capture.cc's Unwinding scope).
const Unwinder* unwinder();

/// Calls fn for each writable segment of libunwind when the shim loaded it (not when the
/// program had it already): what it keeps there (the pages its memory checks found
/// readable, a signal handler's alternate stack among them) are the shim's walks, not the
/// program's pointers, and must not keep its blocks reachable.
void for_each_unwinder_data(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);

}  // namespace mpshim::track
