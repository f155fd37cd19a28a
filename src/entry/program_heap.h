// Programs that bring their own malloc family (Chromium's PartitionAlloc, Firefox's
// mozjemalloc): their executable defines malloc and free, which come before the shim's in
// the lookup order, so the shim's allocator serves nothing of theirs. The functions the
// program leaves out still reach the shim: C++'s sized and aligned operator delete,
// reallocarray. Without the shim, glibc and libstdc++ would pass those on to the program's
// free, delete and realloc; the shim does the same for a block it does not own, instead of
// calling it a bad free and keeping it (a leak in the program's heap).
#pragma once

#include "track/memcheck.h"

namespace mpshim::entry {

/// Finds whether the program defines free (and operator delete) itself. Called once the
/// shim is initialised: a failed lookup allocates its error message.
void find_program_heap();
/// Frees `p` as glibc or libstdc++ would without the shim (`how`: free, delete, delete[]):
/// through the program's own free or operator delete. False when the program has none.
bool program_free(void* p, track::Dealloc how);

}  // namespace mpshim::entry
