// The leak report with every input explicit: where it goes, its format, its filters and
// where stacks come from. write_leak_report() (report.h) fills these from the
// configuration; tests call the functions below directly.
#pragma once
#include <cstddef>
#include <cstdint>

#include "prim/fmt.h"
#include "report/report.h"
#include "report/symbolize.h"

namespace mpshim::report {

class Suppressions;

/// Resolves stack ids to return addresses (innermost first).
struct StackSource {
  size_t (*frames)(uint32_t id, const uintptr_t** pcs);
  uint32_t (*count)();  ///< every id in use is below this
};

/// Installs `s` (copied); nullptr restores the tracker's stack table.
void set_stack_source(const StackSource* s);

enum class Format : uint8_t { Text, Json };

/// Everything a report depends on.
struct ReportOptions {
  int fd = 2;                               ///< where the text or JSON report goes
  Format format = Format::Text;
  bool reachable = false;                   ///< list still-reachable groups too
  uint64_t max_groups = 0;                  ///< list at most this many groups (0: all)
  int folded_fd = -1;                       ///< folded stacks go here (-1: none)
  Suppressions* suppressions = nullptr;    ///< counts its hits; nullptr: none
  int pid = 0;
  const char* exe = "";  ///< nullptr: this process's executable, read only if something is written
  /// Write nothing when nothing is listed and nothing was suppressed (LeakSanitizer's
  /// habit on a terminal: a clean process, or each of a build's many, stays silent).
  bool quiet_when_clean = false;
  uint64_t errors = 0;  ///< memory errors reported before (counted in the summary)
};

/// Groups, filters, sorts and writes as write_leak_report() does, with explicit options.
/// `blocks` may be reordered. Returns true when unsuppressed direct or indirect leaks exist.
bool write_leak_report_to(Block* blocks, size_t n, const ReportOptions& o, Totals* out);

/// The statistics table, to any descriptor.
void write_stats_to(int fd, const cpu::Stats& s);

/// Opens where reports go (MPSHIM_REPORT): fd 2, or the file, emptied unless `append`
/// (then written at its end). A path without %p is shared by every process followed: it
/// is always appended to, under a lock held until the caller closes the descriptor. The
/// caller closes a descriptor other than 2.
int open_report(int pid, bool append);

/// Writes the frames of stack `id` as the leak report does (text lines, or a JSON array).
void text_stack(prim::Writer& w, uint32_t id);
void json_stack(prim::Writer& w, uint32_t id);
/// The fields of one JSON frame object (pc, function, module, offset, file, line, inlined),
/// without the braces: frame `f` of the symbolised `pc`.
void json_frame(prim::Writer& w, uintptr_t pc, const SymInfo* si, const SymFrame* f);

/// Copies path template `tmpl` into `out` with every "%p" replaced by `pid` (and "%%" by
/// "%"); false when it does not fit in `cap`.
bool expand_path(const char* tmpl, int pid, char* out, size_t cap);

}  // namespace mpshim::report
