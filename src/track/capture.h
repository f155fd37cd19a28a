// Stack capture (walk_stack, or libunwind where it gives up), and the code ranges the tracker needs to know: the shim's
// own text (its frames are never recorded) and the dynamic linker (blocks it allocates are
// kept to the end on purpose and are never reported).
#pragma once
#include <cstddef>
#include <cstdint>

#include "track/unwind.h"

namespace mpshim::track {

/// Deepest stack recorded (MPSHIM_STACK_DEPTH's upper bound).
constexpr size_t kMaxDepth = 64;

/// Finds the code ranges with dl_iterate_phdr (never allocates). When this code runs
/// inside a shared object (the shim, under any file name), every leading frame inside that
/// object is skipped by capture_stack; otherwise (cores linked into a test program) only
/// the fixed count the caller asks for is.
void capture_init();

/// True when capture_init found the shim as its own shared object.
bool capture_skips_own_object();

/// Writes up to `depth` (<= kMaxDepth) return addresses of the caller's stack to `out`,
/// innermost first, and returns their count. The first `skip` frames of the caller
/// (starting with the caller itself) are dropped, then every further leading frame that
/// lies in the shim's own object. `memo` is the calling thread's walk memo (or null). With
/// the thread's `cache`, a stack it knows gives kWalkRecalled and the value stored with it
/// in *recalled; the caller then stores the value of a new stack with
/// walk_remember(cache, *memo, value). Must not be inlined: it finds its caller's frame by
/// its own return address.
__attribute__((noinline)) size_t capture_stack(uintptr_t* out, size_t depth, size_t skip,
                                               WalkMemo* memo = nullptr,
                                               WalkCache* cache = nullptr,
                                               uint32_t* recalled = nullptr);

/// The frame that called exit() on this thread, for the leak check at exit: frames below
/// it belong to exit's machinery (atexit handlers, destructors) and are full of stale
/// values left by the program's returned functions. Writes that frame's stack pointer (its
/// caller's when it is libc's caller of main: main returned) and the callee-saved registers
/// as they were in it (up to `cap`, count in *nregs). False
/// when exit() is not on the stack. Unwinds with libunwind: call it before taking the
/// allocator's locks (the unwinder may allocate).
bool exit_caller_frame(uintptr_t* sp, uintptr_t* regs, size_t cap, size_t* nregs);

/// Loads libunwind now, where it may be loaded (no-op when loaded or missing).
void load_unwinder();

/// True when `pc` lies in the dynamic linker (ld-linux / ld.so).
bool in_dynamic_linker(uintptr_t pc);

/// True when `pc` lies in the shim's own shared object (always false when the cores are
/// linked into a program).
bool in_own_object(uintptr_t pc);

/// Calls fn for each writable segment (data, bss) of the shim's own shared object (none
/// when the cores are linked into a program): the shim's globals, which hold no pointer of
/// the program's that the leak check should follow, but may hold stale or one-past-the-end
/// values (an arena's end next to a device block) that would keep a lost block reachable.
void for_each_own_data(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);

}  // namespace mpshim::track
