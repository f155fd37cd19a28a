// The one table of MPSHIM_* options. Read once from the environment at start-up.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::config {

/// Kinds of option values. Bool accepts 1/0, on/off, yes/no, true/false, enable/disable;
/// Uint a decimal number; Size a decimal number with an optional suffix K, M, G or T, each
/// optionally followed by B or iB (any case, all powers of 1024; a bare B means bytes),
/// optionally after one space ("64M", "64 MiB"); Enum one of the words listed in `choices`,
/// separated by '|'; String any text. Words and suffixes are case-insensitive. An empty
/// value means the default for every type.
enum class Type { Bool, Uint, Size, String, Enum };

// X(NAME, field, Type, default, min, max, choices, help)
// String defaults are given as `choices` text; numeric defaults as numbers. Enum values are
// stored as the index of the chosen word.
#define MPSHIM_OPTIONS(X)                                                                         \
  X(HOST, host, Bool, 1, 0, 1, "",                                                                 \
    "use mpshim's allocator for host memory (off: libc's malloc, host blocks untracked)")        \
  X(VERBOSE, verbose, Bool, 0, 0, 1, "", "print the effective configuration at start")             \
  X(STATS, stats, Bool, 0, 0, 1, "", "print allocation statistics at exit")                        \
  X(PURGE_DELAY, purge_delay_ms, Uint, 500, 0, 60000, "",                                          \
    "milliseconds before freed memory is given back to the OS (0: at once)")                     \
  X(LARGE_CACHE, large_cache, Size, 64u << 20, 0, 1ull << 40, "",                                  \
    "bytes of freed large blocks (> 1 MiB) kept mapped for reuse")                                \
  X(THREAD_CACHE, thread_cache, Size, 1u << 20, 16u << 10, 64u << 20, "",                          \
    "upper bound of the bytes one thread keeps cached")                                           \
  X(LEAKS, leaks, Bool, 1, 0, 1, "", "record allocation stacks and report leaks at exit")          \
  X(STACK_DEPTH, stack_depth, Uint, 16, 0, 64, "", "frames recorded per allocation (0: none)")     \
  X(REPORT, report, String, 0, 0, 0, "stderr",                                                   \
    "where reports go: stderr or a path (%p: pid; relative: from the start directory)")           \
  X(REPORT_FORMAT, report_format, Enum, 0, 0, 1, "text|json", "leak report format")              \
  X(REPORT_REACHABLE, report_reachable, Bool, 0, 0, 1, "", "also report still-reachable blocks")   \
  X(REPORT_MAX, report_max, Uint, 0, 0, 1u << 30, "", "report at most this many groups (0: all)")  \
  X(LEAK_EXITCODE, leak_exitcode, Uint, 0, 0, 255, "", "exit status when leaks are found (0: keep)") \
  X(SUPPRESSIONS, suppressions, String, 0, 0, 0, "", "file of leak:pattern suppressions")          \
  X(FOLDED, folded, String, 0, 0, 0, "", "also write leaks as folded stacks to this path (%p: pid)") \
  X(PROFILE, profile, String, 0, 0, 0, "",                                                        \
    "record an allocation profile of host and device memory; write it as JSON to this path at exit (%p: pid)") \
  X(SYSTEM_DEBUG, system_debug, Bool, 0, 0, 1, "",                                                \
    "read separate debug files (/usr/lib/debug) for file:line in system libraries (slower)")        \
  X(CHILDREN, children, String, 0, 0, 0, "none",                                                   \
    "programs started by exec from the one run that are tracked and reported: none, all, or "      \
    "comma-separated globs on their path or name")                                               \
  X(CUDA, cuda, Enum, 0, 0, 2, "on|track|off",                                                    \
    "device memory: cache and track (on), track only (track), or pass through (off)")            \
  X(CUDA_MAX_SPLIT, cuda_max_split, Size, 0, 0, 1ull << 40, "",                                  \
    "cached device blocks larger than this are never split (0: no limit)")                       \
  X(CUDA_MAX_CACHED, cuda_max_cached, Size, 0, 0, 1ull << 40, "",                                \
    "cached unused device memory beyond this goes back to the driver (0: no limit)")           \
  X(CHECK, check, Enum, 0, 0, 3, "off|sample|light|full",                                        \
    "memory-error checks: off, sampled guard pages, redzones and quarantine, or all of it")      \
  X(SAMPLE_RATE, sample_rate, Uint, 5000, 1, 1u << 30, "",                                       \
    "check=sample: one allocation in this many gets guard pages")                                \
  X(SAMPLE_SLOTS, sample_slots, Uint, 16, 1, 4096, "",                                           \
    "check=sample: sampled blocks live or waiting after their free at once")                     \
  X(QUARANTINE, quarantine, Size, 16u << 20, 0, 1ull << 40, "",                                  \
    "check=light/full: bytes of freed blocks held back from reuse")                              \
  X(GUARD_SIZE, guard_size, Size, 64u << 10, 0, 1ull << 40, "",                                  \
    "check=full: blocks above this size end on a guard page")                                    \
  X(ON_ERROR, on_error, Enum, 0, 0, 1, "abort|report",                                           \
    "on a memory error: report and abort, or report and go on")

/// The effective configuration. Strings point into the parsed environment (get(): into a
/// copy of it) or at their default text and are never null ("" when unset and without
/// default).
struct Config {
#define MPSHIM_FIELD_Bool bool
#define MPSHIM_FIELD_Uint uint64_t
#define MPSHIM_FIELD_Size uint64_t
#define MPSHIM_FIELD_String const char*
#define MPSHIM_FIELD_Enum unsigned
#define MPSHIM_DECLARE(NAME, field, type, def, lo, hi, choices, help) MPSHIM_FIELD_##type field;
  MPSHIM_OPTIONS(MPSHIM_DECLARE)
#undef MPSHIM_DECLARE
};

/// One row of the option table, for parsing, the verbose dump and the README check.
struct OptionInfo {
  const char* name;     ///< without the MPSHIM_ prefix
  Type type;
  uint64_t def;
  uint64_t lo, hi;
  const char* choices;  ///< Enum words, or a String's default
  const char* help;
};

/// Whether the blocks are recorded (stacks, tags): for the leak report, the checks or the
/// profile; the leak report itself only with MPSHIM_LEAKS.
inline bool tracks_blocks(const Config& c) { return c.leaks || c.check != 0 || c.profile[0] != '\0'; }

/// The table, in declaration order, and its length.
const OptionInfo* options(size_t* count);

/// True for the options ignored in secure-execution mode (setuid/setgid programs, where the
/// shim may be preloaded system-wide): those that name a file or change the exit status, as
/// glibc ignores MALLOC_CHECK_ there.
bool ignored_when_secure(const OptionInfo& o);

/// Parses `env` (a NULL-terminated environ-style array, may be null) into `out`. Bad values
/// and unknown MPSHIM_ names each produce one warning line through `warn` (which gets a
/// NUL-terminated line starting with "mpshim: ", without the trailing newline; a null `warn`
/// writes the lines to stderr); the default is used for a bad value. When a name occurs
/// twice the first one counts, as for getenv. With `secure` (the process runs in
/// secure-execution mode) the options of ignored_when_secure keep their defaults; when
/// MPSHIM_VERBOSE is on and some were set, one line through `warn` names them. Never
/// allocates.
void parse(const char* const* env, Config* out, void (*warn)(const char* line), bool secure = false);

/// When this process is the program the user started (config/children.h), the value of
/// MPSHIM_ROOT its children are to inherit; nullptr otherwise. Valid after get().
const char* root_mark();
/// True in the program the user started itself (not in a process it forked or exec'd).
bool started_program();

/// Writes "mpshim: configuration:" and then one aligned "  MPSHIM_NAME = value" line per
/// option to stderr (sizes in binary units, bools as on/off, enums as words, an empty string
/// as "(none)").
void dump(const Config& c);

/// The process configuration, parsed from prim::environment() on first use (secure when
/// prim::secure_execution()), with its strings
/// copied (programs that set their process title overwrite the environment); the warnings
/// are written once (the dump is the caller's: the shim's start-up prints it when verbose).
/// Thread-safe without allocating: other threads wait while one parses; a re-entrant call
/// on the parsing thread gets the defaults; after a fork() during parsing the child parses.
const Config& get();

/// Parses a size with an optional suffix (see Type); false when malformed or beyond uint64.
bool parse_size(const char* s, uint64_t* out);
/// Parses an on/off word (see Type); false when not one.
bool parse_bool(const char* s, bool* out);

}  // namespace mpshim::config
