#include "prim/thread.h"

#include "prim/os.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/single_threaded.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

namespace mpshim::prim {

static_assert(kQuietSignal == SIGURG);
static_assert(REG_RSP - REG_R8 == int(kContextRegSp) && kContextRegSp + 1 == kContextRegs,
              "gregs order: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp");

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, uint64_t timeout_ns) {
  int saved = errno;
  timespec ts{time_t(timeout_ns / 1000000000), long(timeout_ns % 1000000000)};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT | FUTEX_PRIVATE_FLAG, expected,
          timeout_ns != 0 ? &ts : nullptr, nullptr, 0);
  errno = saved;
}

void futex_wake(std::atomic<uint32_t>* word, int count) {
  int saved = errno;
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, count,
          nullptr, nullptr, 0);
  errno = saved;
}

void yield_cpu() { syscall(SYS_sched_yield); }

static bool is_handler(const struct sigaction& sa, SignalHandler h) {
  return (sa.sa_flags & SA_SIGINFO) != 0 &&
         sa.sa_sigaction == reinterpret_cast<void (*)(int, siginfo_t*, void*)>(h);
}

bool take_signal(int sig, SignalHandler h, bool alt_stack) {
  int saved = errno;
  struct sigaction ours {}, old {};
  bool taken = false;
  if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
    ours.sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(h);
    ours.sa_flags = SA_SIGINFO | SA_RESTART | (alt_stack ? SA_ONSTACK : 0);
    sigfillset(&ours.sa_mask);  // no other handler runs (or jumps away) in the middle
    if (sigaction(sig, &ours, &old) == 0) {
      taken = old.sa_handler == SIG_DFL;
      // The program installed its own in between: put it back.
      if (!taken) sigaction(sig, &old, nullptr);
    }
  }
  errno = saved;
  return taken;
}

void release_signal(int sig, SignalHandler h) {
  int saved = errno;
  struct sigaction dfl {}, now {};
  dfl.sa_handler = SIG_DFL;
  // A signal still pending is dropped by the default action.
  if (sigaction(sig, &dfl, &now) == 0 && !is_handler(now, h)) sigaction(sig, &now, nullptr);
  errno = saved;
}

bool single_threaded() { return __libc_single_threaded != 0; }

extern "C" void _IO_list_lock();    // glibc, exported since 2.2.5
extern "C" void _IO_list_unlock();
void stdio_list_lock() { _IO_list_lock(); }
void stdio_list_unlock() { _IO_list_unlock(); }

bool signal_thread(int tid, int sig) {
  int saved = errno;
  bool ok = syscall(SYS_tgkill, int(syscall(SYS_getpid)), tid, sig) == 0;
  errno = saved;
  return ok;
}

uintptr_t fault_address(const void* info) {
  return reinterpret_cast<uintptr_t>(static_cast<const siginfo_t*>(info)->si_addr);
}

uintptr_t context_pc(const void* context) {
  return uintptr_t(static_cast<const ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
}

bool fault_was_write(const void* context) {
  return (static_cast<const ucontext_t*>(context)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
}

void ensure_alt_stack(size_t bytes) {
  int saved = errno;
  stack_t old{};
  if (sigaltstack(nullptr, &old) == 0 && (old.ss_flags & SS_DISABLE) != 0) {
    void* p = os_map(bytes);
    if (p != nullptr) {
      stack_t ss{};
      ss.ss_sp = p;
      ss.ss_size = bytes;
      if (sigaltstack(&ss, nullptr) != 0) os_unmap(p, bytes);
    }
  }
  errno = saved;
}

void context_registers(const void* context, uintptr_t* out) {
  const greg_t* gregs = static_cast<const ucontext_t*>(context)->uc_mcontext.gregs;
  for (size_t r = 0; r < kContextRegs; ++r) out[r] = uintptr_t(gregs[REG_R8 + int(r)]);
}

#if defined(__x86_64__)
constexpr long kNoRestart[] = {
    SYS_poll, SYS_select, SYS_pause, SYS_nanosleep, SYS_clock_nanosleep, SYS_epoll_wait,
    SYS_epoll_pwait, SYS_ppoll, SYS_pselect6, SYS_rt_sigsuspend, SYS_rt_sigtimedwait,
    SYS_msgsnd, SYS_msgrcv, SYS_semop, SYS_semtimedop, SYS_io_getevents,
    426 /* io_uring_enter */, 441 /* epoll_pwait2 */};
#endif

#if defined(__x86_64__)
// True when descriptor `fd` is a socket with a receive (`send`: a send) timeout: its calls
// are not restarted either (signal(7)).
static bool socket_with_timeout(long fd, bool send) {
  struct stat st;
  if (fd < 0 || fstat(int(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  timeval tv{};
  socklen_t len = sizeof tv;
  if (getsockopt(int(fd), SOL_SOCKET, send ? SO_SNDTIMEO : SO_RCVTIMEO, &tv, &len) != 0) return true;
  return tv.tv_sec != 0 || tv.tv_usec != 0;
}

// True for an inotify descriptor, whose reads are not restarted (signal(7)).
static bool inotify_fd(long fd) {
  char path[32], target[32];
  snprintf(path, sizeof path, "/proc/self/fd/%ld", fd);
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n <= 0) return false;
  target[n] = '\0';
  return strcmp(target, "anon_inode:inotify") == 0;
}
#endif

bool interrupted_by_handler(long nr, const uintptr_t* args) {
#if defined(__x86_64__)
  for (long n : kNoRestart)
    if (nr == n) return true;
  int saved = errno;
  bool yes = false;
  switch (nr) {
    case SYS_futex: {
      // A wait with a timeout (sem_timedwait's) ends with EINTR: its restart is a deadline.
      long op = long(args[1]) & FUTEX_CMD_MASK;
      yes = args[3] != 0 && (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET || op == FUTEX_LOCK_PI ||
                             op == FUTEX_WAIT_REQUEUE_PI || op == 13 /* FUTEX_LOCK_PI2 */);
      break;
    }
    case 449:  // futex_waitv
      yes = args[3] != 0;
      break;
    case SYS_recvmmsg:
      yes = args[4] != 0 || socket_with_timeout(long(args[0]), false);
      break;
    case SYS_recvfrom: case SYS_recvmsg: case SYS_accept: case SYS_accept4:
      yes = socket_with_timeout(long(args[0]), false);
      break;
    case SYS_sendto: case SYS_sendmsg: case SYS_sendmmsg: case SYS_connect:
      yes = socket_with_timeout(long(args[0]), true);
      break;
    case SYS_read: case SYS_readv:
      yes = socket_with_timeout(long(args[0]), false) || inotify_fd(long(args[0]));
      break;
    case SYS_write: case SYS_writev:
      yes = socket_with_timeout(long(args[0]), true);
      break;
    default:
      break;
  }
  errno = saved;
  return yes;
#else
  (void)nr;
  (void)args;
  return true;  // the numbers differ: treat every call as one a handler would interrupt
#endif
}

extern "C" int __cxa_atexit(void (*)(void*), void*, void*);  // the C++ ABI's, in glibc
bool at_process_exit(void (*fn)(void*)) { return __cxa_atexit(fn, nullptr, nullptr) == 0; }
bool at_quick_process_exit(void (*fn)()) { return at_quick_exit(fn) == 0; }

void exit_now(int code) {
  fflush(nullptr);
  exit_process(code);
}

void exit_process(int code) {
  for (;;) syscall(SYS_exit_group, code);
}

void abort_process() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGABRT, &dfl, nullptr);
  uint64_t abrt = uint64_t(1) << (SIGABRT - 1);
  syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &abrt, nullptr, sizeof abrt);
  syscall(SYS_tgkill, int(syscall(SYS_getpid)), int(syscall(SYS_gettid)), SIGABRT);
  exit_process(127);
}

bool signals_blocked() {
  // The kernel's mask, not glibc's view of it (which hides the two signals glibc keeps
  // for itself and never blocks).
  uint64_t mask = 0;
  if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &mask, sizeof mask) != 0) return false;
  return mask != 0;
}

}  // namespace mpshim::prim
