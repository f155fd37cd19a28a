// Tracking: where every live block came from. The entry layer (src/entry) calls these
// around every allocation and free when leak tracking is on.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::track {

/// The allocation function a block came from (kept in 4 bits of the block's tag).
enum class Kind : uint8_t {
  None = 0,
  Malloc,
  Calloc,
  Realloc,
  PosixMemalign,
  AlignedAlloc,
  Memalign,
  Valloc,
  Pvalloc,
  New,
  NewArray,
  NewAligned,
  NewArrayAligned,
};

/// Name of a kind as users write it ("malloc", "operator new[]", ...).
const char* kind_name(Kind k);

/// True when leak tracking is on (MPSHIM_LEAKS and the host allocator both on).
extern bool g_enabled;
inline bool enabled() { return g_enabled; }

/// Start-up: reads the configuration, enables block tags in the allocator, finds the
/// shim's own code range (its frames are never recorded). Called once, before the
/// first tracked allocation, from the entry layer.
void init();

/// Records a new block of `size` requested bytes at `p` (p != nullptr).
void on_alloc(void* p, size_t size, Kind kind);
/// Forgets the block at `p` before it is freed. Returns false when `p` is not a live block
/// (double or invalid free); the caller then does not free it.
bool on_free(void* p);

/// The return addresses of stack `id` (innermost first); returns their count.
size_t stack_frames(uint32_t id, const uintptr_t** pcs);
/// Every stack id in use is below this (ids are dense; id 0 is the empty stack).
uint32_t stack_count();

/// Per-thread nesting of "do not track" (mpshim_disable_tracking, and the shim's own
/// re-entry while unwinding or symbolising).
void disable_thread();
void enable_thread();

/// True on a thread while the tracker runs libunwind: libunwind's pipe for its checks of
/// readable memory is then the one prim/file.h keeps out of the program's sight (the entry
/// layer's pipe2 hands it out).
bool in_unwinder();

/// Marks the live block at `p` as never leaked.
void ignore(const void* p);

/// Runs the leak check and writes the report as configured. `at_exit` selects the final
/// report (exit code handling, once per process). Returns 1 when direct or indirect leaks
/// were found, 0 when none, -1 when tracking is off.
int leak_check(bool at_exit);

/// After a module was unloaded: its code addresses may be reused by the next one loaded,
/// so the stack walker's cached rules are dropped.
void after_module_unload();

/// After fork in the child: reset locks and per-process state.
void after_fork_child();
void before_fork();
void after_fork_parent();

}  // namespace mpshim::track
