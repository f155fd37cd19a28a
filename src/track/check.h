// The leak check without the report: the classified live blocks go to a caller's sink
// (the unit tests check classification on real allocator blocks this way).
#pragma once
#include <cstddef>

#include "report/report.h"

namespace mpshim::track {

/// Receives the live blocks of one check (ignored, internal and dynamic-linker blocks
/// left out) while no allocator lock is held; returns true when it counts leaks.
using LeakSink = bool (*)(report::Block* blocks, size_t n, void* ctx);

/// Runs one leak check (serialised with every other) and hands the blocks to `sink`.
/// Returns 1 when the sink returned true, 0 when false, -1 when tracking is off or the
/// check could not get memory.
int leak_check_with(LeakSink sink, void* ctx);

}  // namespace mpshim::track
