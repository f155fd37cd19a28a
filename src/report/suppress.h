// Leak suppressions in LeakSanitizer's syntax: one `leak:PATTERN` per line, `#` starts a
// comment line, blank lines and other suppression types are ignored. A pattern matches as
// a substring; `*` matches any run of characters; a leading `^` anchors it at the start and
// a trailing `$` at the end of the name. A group is suppressed when a pattern matches the
// function name, module path or source file of any of its frames.
#pragma once
#include <cstddef>
#include <cstdint>

#include "report/arena.h"
#include "report/symbolize.h"

namespace mpshim::report {

/// Longest pattern accepted (longer lines are ignored).
constexpr size_t kMaxPattern = 1024;

/// True when `pattern` (syntax above) matches `str`; an empty or null `str` never matches.
bool pattern_match(const char* pattern, const char* str);

class Suppressions {
 public:
  constexpr Suppressions() = default;

  /// Adds the patterns of `text` (file contents, `len` bytes). Returns false when memory
  /// runs out.
  bool parse(const char* text, size_t len);
  /// Reads and parses the file at `path`; false when it cannot be read.
  bool load(const char* path);

  size_t size() const { return n_; }
  const char* pattern(size_t i) const { return pat_[i].text; }

  /// Index of the first pattern matching one of the `n` frames, or -1.
  long match(const SymInfo* const* frames, size_t n) const;

  /// Per-pattern use, counted by the report.
  void add_hit(size_t i, uint64_t bytes, uint64_t blocks);
  uint64_t hit_bytes(size_t i) const { return pat_[i].bytes; }
  uint64_t hit_blocks(size_t i) const { return pat_[i].blocks; }

  /// Unmaps everything.
  void release();

 private:
  struct Pattern {
    const char* text;
    uint64_t bytes, blocks;
  };
  Arena arena_;
  Pattern* pat_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

}  // namespace mpshim::report
