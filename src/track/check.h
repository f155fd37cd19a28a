// What a leak check hands out: the classified live blocks, given to a sink that the caller
// passes in (the entry layer's writes the report; the unit tests check classification on
// real blocks). src/report reads these types; the tracker includes nothing of the report.
#pragma once
#include <cstddef>
#include <cstdint>

#include "track/track.h"

namespace mpshim::track {

/// How a block not freed at exit is classified (as LeakSanitizer and valgrind do).
enum class LeakClass : uint8_t { Direct, Indirect, Reachable };

/// One live block of a check.
struct Block {
  uint64_t size;              ///< bytes requested
  uint32_t stack;             ///< stack id (stack_frames)
  Kind kind;                  ///< allocation function
  LeakClass cls;
  Memory mem = Memory::Host;  ///< where it lives
};

/// Receives the live blocks of one check (ignored, internal and dynamic-linker blocks
/// left out) while no allocator lock is held; returns true when it counts leaks. The
/// blocks may be reordered.
using LeakSink = bool (*)(Block* blocks, size_t n, void* ctx);

/// Where the scan of the calling thread's stack starts.
struct StackFrom {
  /// The program is exiting through exit(): the scan starts at the frame that called it.
  bool exit = false;
  /// Else, when not 0: the address it starts at (the frame of a function that ends the
  /// process, which holds its caller's registers); else the check's own frame.
  uintptr_t sp = 0;
};

/// Runs one leak check (serialised with every other) and hands the blocks to `sink`.
/// Returns 1 when the sink returned true, 0 when false, -1 when tracking is off or the
/// check could not get memory.
int leak_check(LeakSink sink, void* ctx, StackFrom from);

/// True while this thread runs a leak check (its report included) or libunwind for the
/// tracker: code called from there that ends the process (libunwind's abort) must not
/// start another.
bool busy_here();

}  // namespace mpshim::track
