// Symbolisation of return addresses: demangled function, module and offset, file:line and
// inlined callers. Uses GCC's libbacktrace (debug info and symbol tables, mmap'd memory),
// libiberty's callback demangler and dl_iterate_phdr; never calls malloc. Results are
// cached per address, so the many groups of a report that share frames cost one lookup.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::report {

/// One source-level frame at an address; a call inlined into its caller yields several.
struct SymFrame {
  const char* function;  ///< demangled name, nullptr when unknown
  const char* file;      ///< source file, nullptr when unknown
  uint32_t line;         ///< 0 when unknown
  const SymFrame* next;  ///< the frame this one was inlined into, nullptr for the last
};

/// What is known about one return address.
struct SymInfo {
  uintptr_t pc;
  const char* module;  ///< path of the module holding pc, nullptr when unknown
  uintptr_t offset;    ///< pc minus the module's load address
  SymFrame frame;      ///< innermost frame; frame.next walks out through inlined callers
  bool lines;          ///< the debug info was read (file, line, inlined callers)
};

/// How much of an address to look up.
enum class Detail : uint8_t {
  Lines,      ///< function, file:line and inlined callers from the debug info
  Functions,  ///< the symbol table's function only: no debug info is parsed, which costs
              ///< far less for a program of many stacks (the profile leaves lines to its reader)
};

/// Symbolises the return address `pc` (the call at pc - 1 is looked up). Thread-safe.
/// The result stays valid until symbolize_reset(); never nullptr (when memory runs out an
/// entry without names is returned).
const SymInfo* symbolize(uintptr_t pc, Detail detail = Detail::Lines);

/// The load range [lo, hi) and path of the module containing `addr`; false when none.
bool module_of(uintptr_t addr, uintptr_t* lo, uintptr_t* hi, const char** path);

/// The GNU build id of the module containing `addr` (in its loaded image): false when it
/// has none or no module holds `addr`.
bool module_build_id(uintptr_t addr, const uint8_t** id, size_t* len);

/// The path of the main executable ("" when unknown); valid until symbolize_reset().
const char* executable_path();

/// Number of addresses in the cache.
size_t symbolize_cached();

/// Frees the symboliser's lock after fork in the child.
void symbolize_after_fork_child();

/// Forgets every cached result and the debug-info state (tests; the memory is unmapped
/// except libbacktrace's, which cannot be freed).
void symbolize_reset();

/// Demangles an Itanium C++ name into `out` (always NUL-terminated, truncated to `cap`);
/// returns false and copies `name` unchanged when it is not a mangled name.
bool demangle(const char* name, char* out, size_t cap);

}  // namespace mpshim::report
