// Threads, signals and futexes: the OS calls of the lock and of the leak check's register
// snapshot of other threads. Nothing here allocates.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "prim/defines.h"

namespace mpshim::prim {

/// Sleeps while `*word == expected`, at most `timeout_ns` (0: no limit). Returns on a wake,
/// the timeout, a signal or when the word differs. errno is left as it was.
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, uint64_t timeout_ns = 0);
/// Wakes up to `count` threads waiting on `word`.
void futex_wake(std::atomic<uint32_t>* word, int count);
/// Gives the CPU to another runnable thread (sched_yield).
void yield_cpu();

/// A signal whose default action is to ignore it (SIGURG): a late delivery does nothing.
constexpr int kQuietSignal = 23;

/// A handler as sigaction's SA_SIGINFO form; `context` is a ucontext_t.
using SignalHandler = void (*)(int sig, void* info, void* context);

/// Installs `h` for `sig` (SA_RESTART, every signal blocked while it runs; with
/// `alt_stack`, on the thread's alternate stack when it has one) only while the program
/// leaves `sig` at its default disposition; true when installed.
bool take_signal(int sig, SignalHandler h, bool alt_stack);
/// Puts the default disposition of `sig` back, unless the program installed a handler of
/// its own since take_signal (that one stays).
void release_signal(int sig, SignalHandler h);

/// The faulting address of a SIGSEGV (siginfo's si_addr) and the instruction that faulted
/// (the context's rip).
uintptr_t fault_address(const void* info);
uintptr_t context_pc(const void* context);
/// True when the fault of signal context `context` was a write (x86-64 page-fault error
/// code); false for a read or when unknown.
bool fault_was_write(const void* context);
/// Gives the calling thread an alternate signal stack of `bytes` (mapped here), unless it
/// has one: a handler then runs even when the fault was a stack overflow.
void ensure_alt_stack(size_t bytes);

/// True while the process has never had a second thread (glibc's __libc_single_threaded).
/// fork's prepare handlers take no lock then: the fork may come from a signal handler that
/// interrupted the allocator holding one, and glibc makes that fork async-signal-safe.
bool single_threaded();

/// glibc's stdio list lock (recursive), which glibc's fork takes after the fork handlers'
/// prepare step and before its own malloc's locks: a thread that holds a stream's lock may
/// allocate while another, in fflush(NULL), holds the list lock and waits for that stream.
/// Taken first at fork, it keeps glibc's order around the allocator's locks.
void stdio_list_lock();
void stdio_list_unlock();

/// Sends `sig` to thread `tid` of this process; false when it could not be sent.
bool signal_thread(int tid, int sig);

/// General-purpose registers in a signal context: rax to r15 and rsp (ucontext's
/// REG_R8..REG_RSP order), rsp last.
constexpr size_t kContextRegs = 16;
constexpr size_t kContextRegSp = 15;
/// Copies the kContextRegs registers of signal context `context` to `out`.
void context_registers(const void* context, uintptr_t* out);

/// True when system call number `nr` with arguments `args` (six) fails with EINTR after a
/// signal handler ran, even one installed with SA_RESTART (signal(7)): poll, select,
/// epoll_wait, nanosleep, pause, sigtimedwait, System V IPC, io_getevents, io_uring_enter,
/// a futex wait with a timeout, a socket's calls when it has a timeout, a read of an
/// inotify descriptor. Always true off x86-64 (other numbers).
bool interrupted_by_handler(long nr, const uintptr_t* args);

/// Callee-saved registers: a function that copies them first thing holds its caller's
/// values of them (the pointers the caller keeps in registers across calls).
constexpr size_t kCalleeSaved = 6;
MPSHIM_INLINE void callee_saved_registers(uintptr_t* out) {
#if defined(__x86_64__)
  asm volatile(
      "movq %%rbx, 0(%0)\n\tmovq %%rbp, 8(%0)\n\tmovq %%r12, 16(%0)\n\t"
      "movq %%r13, 24(%0)\n\tmovq %%r14, 32(%0)\n\tmovq %%r15, 40(%0)"
      :
      : "r"(out)
      : "memory");
#else
  __builtin_unwind_init();  // spilled into the caller's frame instead
  for (size_t i = 0; i < kCalleeSaved; ++i) out[i] = 0;
#endif
}

/// Registers fn(nullptr) to run at exit() as a handler of the process, not of the calling
/// shared object (no DSO handle): unloading the object does not run it. False on failure.
bool at_process_exit(void (*fn)(void*));
/// Registers fn to run when the process ends with quick_exit (at_quick_exit). False on failure.
bool at_quick_process_exit(void (*fn)());

/// Flushes stdio and ends the process with `code` at once (no atexit handlers).
[[noreturn]] void exit_now(int code);
/// Ends the process with `code` as `_exit` does (the system call itself: nothing flushed).
[[noreturn]] void exit_process(int code);
/// Ends the process with SIGABRT as abort() does, for when libc's cannot be found.
[[noreturn]] void abort_process();
/// True when the calling thread blocks any signal, as inside a signal handler.
bool signals_blocked();

}  // namespace mpshim::prim
