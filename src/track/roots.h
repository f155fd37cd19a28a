// The root set of a leak check: the process's readable and writable memory as listed in
// /proc/self/maps, minus what must not count (the allocator's own block memory, stacks of
// exited threads, the dead part of the current stack, the check's own buffers).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "track/classify.h"
#include "track/scratch.h"

namespace mpshim::track {

/// Parses /proc/self/maps text and appends to `out` (capacity `cap`) the mappings that are
/// readable, writable and ordinary memory (no [vvar]/[vsyscall], no device files other than
/// /dev/zero and /dev/shm). Returns how many there are (may exceed cap; only cap are
/// written). Lines come in address order, so the result is sorted. When `guarded` is not
/// null, guarded[i] tells whether range i is anonymous and sits right above a small
/// inaccessible mapping (at most 64 KiB), as a thread stack above its guard page does.
size_t parse_maps(const char* text, size_t len, ScanRange* out, size_t cap,
                  bool* guarded = nullptr);

/// Parses /proc/self/maps text and appends to `out` (capacity `cap`) the mappings that
/// cannot be read (no r permission: guard pages, reservations, pages a program protected
/// inside its own heap blocks). Returns how many there are; sorted as parse_maps's.
size_t parse_unreadable(const char* text, size_t len, ScanRange* out, size_t cap);

/// Parses /proc/self/maps text and appends to `out` (capacity `cap`) the readable, writable
/// and private anonymous mappings of at least `min_size` bytes: those whose untouched pages
/// hold nothing (a file's mapping holds the file's bytes there). Returns how many there are; sorted as parse_maps's.
size_t parse_private(const char* text, size_t len, ScanRange* out, size_t cap, size_t min_size);

/// Parses /proc/self/maps text into the readable address ranges, neighbouring readable
/// mappings merged into one range (sorted). Returns how many (only `cap` are written).
size_t parse_readable(const char* text, size_t len, ScanRange* out, size_t cap);

/// Another thread of this process, as /proc/self/task shows it.
struct TaskInfo {
  int tid;
  uintptr_t sp;  ///< its stack pointer when blocked in the kernel, else 0
  bool in_call;  ///< blocked in a system call
};

/// The stack pointer of thread `tid` of this process while it is blocked in the kernel
/// (in a system call or otherwise), 0 while it runs or when it cannot be read. *in_call
/// (when given) tells whether it is blocked in a system call.
uintptr_t blocked_sp(int tid, bool* in_call = nullptr);

/// Lists the threads of this process other than the caller (by system calls: no memory
/// is allocated) into `out`; returns how many there are (only `cap` are written).
size_t list_other_tasks(TaskInfo* out, size_t cap);

/// General-purpose registers of a thread (rax to r15 and rsp: ucontext's REG_R8..REG_RSP).
constexpr size_t kThreadRegs = 16;
constexpr size_t kThreadRegSp = 15;  ///< index of rsp

/// Another thread's registers as snapshot_registers() captured them.
struct ThreadRegs {
  int tid;                         ///< input: the thread to ask
  std::atomic<uint32_t> answered;  ///< set by the thread itself, in its signal handler
  uintptr_t regs[kThreadRegs];     ///< zero until it answers
  /// Where the handler's frame lies: it ran below the thread's stack pointer, above it lies
  /// the signal frame in which the kernel saved every register of the thread, the vector
  /// ones included (zero until it answers).
  uintptr_t handler_frame;
};

/// Asks each thread of `t` for its registers and waits up to `timeout_ns` for the answers;
/// returns how many answered. The question is a SIGURG sent with tgkill (its default action
/// is to ignore it): the handler, which copies the registers from its context, is installed
/// only while the program leaves SIGURG at that default, and removed before returning, so a
/// late signal is ignored. Threads that are exiting, stopped or block SIGURG are not asked;
/// a thread that never answers costs only the timeout. Never allocates; one call at a time.
size_t snapshot_registers(ThreadRegs* t, size_t n, uint64_t timeout_ns);

/// Sorts ranges by start (heap sort: no recursion, no memory).
void sort_ranges(ScanRange* r, size_t n);

/// Writes `ranges` minus the union of `holes` to `out`; `ranges` must be sorted and
/// disjoint, `holes` is sorted here. Returns the count written (at most n + nholes).
size_t subtract_ranges(const ScanRange* ranges, size_t n, ScanRange* holes, size_t nholes,
                       ScanRange* out);

/// The range among sorted disjoint `r` that contains `addr`, or -1.
int64_t find_range(const ScanRange* r, size_t n, uintptr_t addr);

/// Reads /proc/self/maps into scratch memory by system calls; nullptr on failure.
const char* read_maps(Scratch& scratch, size_t* len);

}  // namespace mpshim::track
