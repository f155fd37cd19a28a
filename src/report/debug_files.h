// Separate debug files (/usr/lib/debug, as Debian's -dbg packages install them).
//
// libbacktrace reads the whole debug info of every loaded module that has one, and for
// glibc's that means inflating megabytes of compressed DWARF: a tenth of a second at each
// exit that reports a leak, for the file:line of a few frames in libc. So by default the
// shim keeps libbacktrace away from those files (its `open` is wrapped at link time) and
// names frames of such modules from the debug file's symbol table alone, which is cheap.
// MPSHIM_SYSTEM_DEBUG=1 lets libbacktrace read them too.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::report {

/// The name of the function symbol covering `vaddr` (an address of the module's own link
/// map) in the separate debug file named by the module's GNU build id, or nullptr. The
/// file is mapped once and kept; nothing is allocated through malloc.
const char* debug_file_symbol(const uint8_t* build_id, size_t len, uintptr_t vaddr);

}  // namespace mpshim::report
