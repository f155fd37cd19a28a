// Tracking: where every live block came from. The entry layer (src/entry) calls these
// around every allocation and free when leak tracking is on.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::track {

/// The allocation function a block came from. Host blocks keep it in 4 bits of their tag;
/// the CUDA kinds (16 and up) belong to foreign blocks, whose records hold a whole byte.
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
  CuMemAlloc = 16,
  CuMemAllocPitch,
  CuMemAllocManaged,
  CuMemAllocHost,
  CuMemHostAlloc,
  CuMemAllocAsync,
  CuMemAllocFromPoolAsync,
};

/// Name of a kind as users write it ("malloc", "operator new[]", "cuMemAlloc", ...).
const char* kind_name(Kind k);

/// Where a block's memory lives: the host allocator's blocks are Host; foreign blocks may
/// be any (Pinned and Managed are host-accessible, Device is never read by the shim).
enum class Memory : uint8_t { Host = 0, Device, Managed, Pinned };

/// Name of a memory kind ("host", "device", "managed", "pinned").
const char* memory_name(Memory m);

/// True when leak tracking is on (MPSHIM_LEAKS and the host allocator both on).
extern bool g_enabled;
inline bool enabled() { return g_enabled; }

/// Start-up: reads the configuration, enables block tags in the allocator, finds the
/// shim's own code range (its frames are never recorded). Called once, before the
/// first tracked allocation, from the entry layer.
void init();

/// Records a new block of `size` requested bytes at `p` (p != nullptr) and returns p: an
/// allocation function returns what this returns (a tail call), so its frame, which the
/// caller's red zone holds after it returns, keeps no copy of the block's address (a thread
/// sleeping at that depth would keep the block reachable, lost or not).
void* on_alloc(void* p, size_t size, Kind kind);
/// The same for a checked block whose tag `t` and usable size the caller has looked up
/// already, and whose bytes the caller has written (nothing is cleared).
void on_alloc_at(void* p, uint64_t* t, size_t usable, size_t size, Kind kind);
/// A new block's first bytes up to this are cleared when it is recorded (but realloc's and
/// calloc's): a stale pointer there, left by the slot's last block in bytes the program
/// does not write, would keep a lost block reachable.
constexpr uint64_t kClearNewBytes = 4096;

/// Forgets the block at `p` before it is freed. Returns false when `p` is not a live block
/// (double or invalid free); the caller then does not free it.
bool on_free(void* p);
/// True when `p` is the start of a live tracked block (nothing changes).
bool is_live(const void* p);
/// Records the block `p` that realloc returned for `size` bytes, whose first `kept` bytes
/// are the old block's (all its usable bytes: the program may have written them all): the
/// bytes past them are cleared as a new block's are.
void on_realloc(void* p, size_t size, size_t kept);

/// The return addresses of stack `id` (innermost first); returns their count.
size_t stack_frames(uint32_t id, const uintptr_t** pcs);
/// Every stack id in use is below this (ids are dense; id 0 is the empty stack).
uint32_t stack_count();

/// Called while the shared libraries' destructors run (_dl_fini), before a leak check that
/// runs after them: loads what the check needs (libunwind) now, as a dlopen after _dl_fini
/// runs the constructors of the libraries it depends on a second time (libc's among them
/// resets program_invocation_name).
void prepare_late_check();

/// Per-thread nesting of "do not track" (mpshim_disable_tracking, and the shim's own
/// re-entry while unwinding or symbolising).
void disable_thread();
void enable_thread();

/// Records a block that is not the host allocator's (device, managed or pinned memory a
/// CUDA hook got from the driver): `size` bytes at `p`, allocated with `kind`. Its stack
/// is captured here. A record already at `p` (a free that was never seen) is replaced.
void on_foreign_alloc(const void* p, size_t size, Kind kind, Memory mem);
/// Forgets the foreign block at `p`; false when there is none.
bool on_foreign_free(const void* p);
/// Before the driver frees host-accessible memory (pinned, managed) at `p`: a leak check
/// from then on never reads it, as the driver may unmap it before on_foreign_free runs.
/// `false` undoes it when the driver refused the free.
void on_foreign_closing(const void* p, bool closing);

/// A walker of memory that the leak scan must not read as roots although it is the shim's
/// and not the host allocator's: the CUDA cache's records hold the address of every cached
/// device block and must not make a leaked one look reachable.
using RangeWalker = void (*)(void (*fn)(uintptr_t lo, uintptr_t hi, void* arg), void* arg);
/// Sets the walker (one; set once at start-up, before any check).
void set_internal_ranges(RangeWalker walk);

/// True on a thread while the tracker runs libunwind: libunwind's pipe for its checks of
/// readable memory is then the one prim/file.h keeps out of the program's sight (the entry
/// layer's pipe2 hands it out).
bool in_unwinder();

/// Marks the live block at `p` (host or foreign, interior pointers included) as never
/// leaked.
void ignore(const void* p);

/// After a module was unloaded: its code addresses may be reused by the next one loaded,
/// so the stack walker's cached rules are dropped.
void after_module_unload();

/// Tests: runs fn(ctx) as a signal handler that interrupted a stack capture on this thread
/// would run (its blocks are the program's, recorded without a stack).
void run_as_if_capturing(void (*fn)(void*), void* ctx);

/// After fork in the child: reset locks and per-process state.
void after_fork_child();
void before_fork();
void after_fork_parent();

}  // namespace mpshim::track
