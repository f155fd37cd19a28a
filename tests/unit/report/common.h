// Shared helpers of the report tests: return addresses with known names and lines, a fake
// stack table, and temporary files to write reports into.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "report/leaks.h"

namespace rt {

/// Return addresses inside site_a(), site_b() and outer(), each of a call at a known line.
uintptr_t site_a();
uintptr_t site_b();
uintptr_t outer();
extern int site_a_line, site_b_line, outer_line;
extern const char* const kThisFile;

/// The executable segment of the test program, [lo, hi).
void code_range(uintptr_t* lo, uintptr_t* hi);

/// False when timings mean nothing: sanitizer builds and runs under valgrind.
bool timing_checked();

/// A stack table the report reads through set_stack_source(); id = index.
class FakeStacks {
 public:
  FakeStacks();
  ~FakeStacks();
  uint32_t add(std::vector<uintptr_t> pcs);
};

/// A temporary file removed on destruction.
class TempFile {
 public:
  TempFile();
  ~TempFile();
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  /// Everything written so far.
  std::string read() const;

 private:
  int fd_;
  std::string path_;
};

}  // namespace rt
