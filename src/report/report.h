// Reports at exit: the leak report (grouping, symbolisation, suppressions, text/JSON/folded
// output) and the statistics table. Input comes from src/track and src/cpu.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/stats.h"
#include "track/check.h"
#include "track/memcheck.h"

namespace mpshim::cpu {
struct Stats;
}

namespace mpshim::report {

/// The live blocks of a leak check, as the tracker hands them out.
using track::Block;
using track::LeakClass;

/// Totals of one report, per class.
struct Totals {
  uint64_t bytes[3];
  uint64_t blocks[3];
  uint64_t groups[3];
  uint64_t suppressed_bytes, suppressed_blocks;
  uint64_t groups_listed, groups_total;
};

/// Groups `blocks` by (class, memory, stack, kind), drops suppressed groups, sorts largest first,
/// symbolises and writes the report where the configuration says (MPSHIM_REPORT,
/// MPSHIM_REPORT_FORMAT, MPSHIM_REPORT_REACHABLE, MPSHIM_REPORT_MAX, MPSHIM_FOLDED).
/// `blocks` may be reordered. Fills `out`; returns true when unsuppressed direct or
/// indirect leaks were found. `pid` is this process's (names the report file and heads it).
bool write_leak_report(Block* blocks, size_t n, Totals* out, int pid);

/// In the program the user started, at its start: empties the report and folded-stack
/// files named without %p, which every process it is followed into appends to.
void start_shared_files();

/// Writes the report of one memory error where reports go (MPSHIM_REPORT, text or JSON),
/// and counts it.
void write_memory_error(const track::MemError& e);
/// Memory errors this process reported (the leak report's summary counts them).
uint64_t memory_errors();

/// Writes the MPSHIM_STATS table to stderr.
void write_stats(const cpu::Stats& s);

/// One pool of one device, for the CUDA statistics table.
struct CudaPoolRow {
  int device;
  cuda::PoolKind kind;
  cuda::PoolStats s;
};
/// Writes the CUDA part of the MPSHIM_STATS table (one column per pool) to `fd`.
void write_cuda_stats_to(int fd, const CudaPoolRow* rows, size_t n, const cuda::HookStats& h);
void write_cuda_stats(const CudaPoolRow* rows, size_t n, const cuda::HookStats& h);

/// Called (by the entry layer's dlclose) before a module is unloaded, so frames in it can
/// still be named at exit.
void before_module_unload(void* dl_handle);

/// In a forked child: frees the symboliser's lock, which another thread of the parent may
/// have held at the fork.
void after_fork_child();

}  // namespace mpshim::report
