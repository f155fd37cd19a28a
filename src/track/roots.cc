#include "track/roots.h"

#include <sched.h>

#include <climits>
#include <cstring>

#include "prim/fs.h"
#include "prim/os.h"
#include "prim/thread.h"
#include "track/memcheck.h"

namespace mpshim::track {
namespace {

bool hex_field(const char*& s, const char* end, uintptr_t* out) {
  uintptr_t v = 0;
  const char* start = s;
  for (; s < end; ++s) {
    char c = *s;
    unsigned d;
    if (c >= '0' && c <= '9')
      d = unsigned(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = unsigned(c - 'a' + 10);
    else
      break;
    v = v << 4 | d;
  }
  *out = v;
  return s != start;
}

bool starts_with(const char* s, const char* end, const char* prefix) {
  size_t n = strlen(prefix);
  return size_t(end - s) >= n && memcmp(s, prefix, n) == 0;
}

// Mappings that are not plain memory: reading them is pointless or has side effects.
bool special(const char* path, const char* end) {
  if (starts_with(path, end, "[vvar") || starts_with(path, end, "[vsyscall")) return true;
  if (starts_with(path, end, "/dev/"))
    return !starts_with(path, end, "/dev/zero") && !starts_with(path, end, "/dev/shm/");
  return false;
}

// True when the mapping of a /proc/self/maps line (`s`: from the space before its
// permissions) has no file (inode 0): a page of a file's mapping the process never wrote
// holds the file's bytes, not zeros.
bool anonymous(const char* s) {
  const char* p = s + 5;  // past " rw-p"
  for (int field = 0; field < 3; ++field) {  // offset, device, inode
    while (*p == ' ') ++p;
    if (field == 2) return *p == '0' && (p[1] == ' ' || p[1] == '\n' || p[1] == '\0');
    while (*p != ' ' && *p != '\n' && *p != '\0') ++p;
  }
  return false;
}

void sift_down(ScanRange* r, size_t root, size_t n) {
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && r[child + 1].lo > r[child].lo) ++child;
    if (r[root].lo >= r[child].lo) return;
    ScanRange t = r[root];
    r[root] = r[child];
    r[child] = t;
    root = child;
  }
}

// The next line of /proc/self/maps text from *line on: its range, in *s the rest of the line
// from the space before the permissions (at least 5 characters), in *eol its end. False at
// the end of the text.
bool next_mapping(const char** line, const char* end, uintptr_t* lo, uintptr_t* hi, const char** s,
                  const char** eol) {
  while (*line < end) {
    const char* e = static_cast<const char*>(memchr(*line, '\n', size_t(end - *line)));
    if (e == nullptr) e = end;
    const char* p = *line;
    *line = e + 1;
    if (!hex_field(p, e, lo) || p == e || *p++ != '-' || !hex_field(p, e, hi) || e - p < 5) continue;
    *s = p;
    *eol = e;
    return true;
  }
  return false;
}

}  // namespace

size_t parse_maps(const char* text, size_t len, ScanRange* out, size_t cap, bool* guarded) {
  size_t count = 0;
  uintptr_t guard_hi = 0;  // end of the last small inaccessible mapping
  uintptr_t lo, hi;
  const char *s, *eol;
  for (const char* line = text; next_mapping(&line, text + len, &lo, &hi, &s, &eol);) {
    bool none = s[1] == '-' && s[2] == '-' && s[3] == '-';
    bool rw = s[1] == 'r' && s[2] == 'w';
    uintptr_t below_guard = guard_hi;
    guard_hi = none && hi - lo <= (64u << 10) ? hi : 0;
    if (!rw) continue;
    // Skip perms, offset, device and inode to the path (may be empty).
    const char* path = s + 5;
    for (int field = 0; field < 3; ++field) {
      while (path < eol && *path == ' ') ++path;
      while (path < eol && *path != ' ') ++path;
    }
    while (path < eol && *path == ' ') ++path;
    if (special(path, eol) || hi <= lo) continue;
    if (count < cap) {
      out[count] = {lo, hi};
      if (guarded != nullptr) guarded[count] = below_guard == lo && path == eol;
    }
    ++count;
  }
  return count;
}

namespace {

// The mappings of /proc/self/maps text for which keep(perms, size) holds, appended to `out`
// (capacity `cap`); returns how many there are.
template <class Keep>
size_t parse_where(const char* text, size_t len, ScanRange* out, size_t cap, Keep keep) {
  size_t count = 0;
  uintptr_t lo, hi;
  const char *s, *eol;
  for (const char* line = text; next_mapping(&line, text + len, &lo, &hi, &s, &eol);) {
    if (hi <= lo || !keep(s, hi - lo)) continue;
    if (count < cap) out[count] = {lo, hi};
    ++count;
  }
  return count;
}

}  // namespace

size_t parse_unreadable(const char* text, size_t len, ScanRange* out, size_t cap) {
  return parse_where(text, len, out, cap, [](const char* s, size_t) { return s[1] != 'r'; });
}

size_t parse_private(const char* text, size_t len, ScanRange* out, size_t cap, size_t min_size) {
  return parse_where(text, len, out, cap, [min_size](const char* s, size_t size) {
    return s[1] == 'r' && s[2] == 'w' && s[4] == 'p' && size >= min_size && anonymous(s);
  });
}

size_t parse_readable(const char* text, size_t len, ScanRange* out, size_t cap) {
  size_t count = 0;
  uintptr_t lo, hi;
  const char *s, *eol;
  for (const char* line = text; next_mapping(&line, text + len, &lo, &hi, &s, &eol);) {
    if (s[1] != 'r' || hi <= lo) continue;
    if (count != 0 && count <= cap && out[count - 1].hi == lo) {
      out[count - 1].hi = hi;  // continues the last range
      continue;
    }
    if (count < cap) out[count] = {lo, hi};
    ++count;
  }
  return count;
}

void sort_ranges(ScanRange* r, size_t n) {
  if (n < 2) return;
  for (size_t i = n / 2; i-- > 0;) sift_down(r, i, n);
  for (size_t end = n - 1; end > 0; --end) {
    ScanRange t = r[0];
    r[0] = r[end];
    r[end] = t;
    sift_down(r, 0, end);
  }
}

size_t subtract_ranges(const ScanRange* ranges, size_t n, ScanRange* holes, size_t nholes,
                       ScanRange* out) {
  sort_ranges(holes, nholes);
  size_t count = 0, h = 0;
  for (size_t i = 0; i < n; ++i) {
    uintptr_t lo = ranges[i].lo, hi = ranges[i].hi;
    while (h < nholes && holes[h].hi <= lo) ++h;  // holes wholly before this range
    for (size_t k = h; k < nholes && holes[k].lo < hi && lo < hi; ++k) {
      if (holes[k].hi <= lo) continue;
      if (holes[k].lo > lo) out[count++] = {lo, holes[k].lo};
      if (holes[k].hi > lo) lo = holes[k].hi;
    }
    if (lo < hi) out[count++] = {lo, hi};
  }
  return count;
}

int64_t find_range(const ScanRange* r, size_t n, uintptr_t addr) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r[mid].hi <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && r[lo].lo <= addr && addr < r[lo].hi ? int64_t(lo) : -1;
}

const char* read_maps(Scratch& scratch, size_t* len) {
  // A buffer that the file fills may have cut it short: read it again into one twice as
  // big (the old one stays until the check ends).
  for (size_t cap = size_t(1) << 20;; cap *= 2) {
    char* buf = scratch.array<char>(cap);
    if (buf == nullptr) return nullptr;
    char path[40];
    long n = prim::read_file(prim::proc_file("maps", path, sizeof path), buf, cap);
    if (n < 0) return nullptr;
    if (size_t(n) < cap) {
      *len = size_t(n);
      return buf;
    }
  }
}

Place place_of(uintptr_t addr) {
  Scratch scratch;
  size_t len;
  const char* text = read_maps(scratch, &len);
  if (text == nullptr) return Place::Unknown;
  // The buffer may have been mapped where nothing was: that counts as nothing.
  if (scratch.overlaps(addr, addr + 1)) return Place::Unmapped;
  auto sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  uintptr_t lo, hi;
  const char *s, *eol;
  for (const char* line = text; next_mapping(&line, text + len, &lo, &hi, &s, &eol);) {
    if (addr < lo || addr >= hi) continue;
    bool main_stack = eol - s >= 7 && memcmp(eol - 7, "[stack]", 7) == 0;
    if (main_stack || (sp >= lo && sp < hi)) return Place::Stack;
    return prim::in_module(reinterpret_cast<const void*>(addr)) ? Place::Global : Place::Unknown;
  }
  return Place::Unmapped;
}

namespace {

// Reads /proc/self/task/TID/<name> into buf (NUL-terminated); returns its length.
size_t read_task_file(int tid, const char* name, char* buf, size_t cap) {
  char path[64] = "/proc/self/task/";
  size_t n = strlen(path);
  char digits[16];
  size_t k = 0;
  for (int t = tid; t > 0 && k < sizeof digits; t /= 10) digits[k++] = char('0' + t % 10);
  while (k > 0) path[n++] = digits[--k];
  path[n++] = '/';
  memcpy(path + n, name, strlen(name) + 1);
  long len = prim::read_file(path, buf, cap - 1);
  if (len < 0) len = 0;
  buf[len] = '\0';
  return size_t(len);
}

}  // namespace

// The stack pointer in /proc/self/task/TID/syscall: "nr args... sp pc" or "-1 sp pc"
// when blocked, "running" otherwise.
uintptr_t blocked_sp(int tid, bool* in_call) {
  char buf[256];
  size_t len = read_task_file(tid, "syscall", buf, sizeof buf);
  if (in_call != nullptr) *in_call = len != 0 && buf[0] >= '0' && buf[0] <= '9';  // "-1 ...": not in a call
  if (len == 0 || buf[0] == 'r') return 0;
  const char* tok[9];
  size_t ntok = 0;
  for (char* p = buf; *p != '\0' && ntok < 9;) {
    while (*p == ' ' || *p == '\n') ++p;
    if (*p == '\0') break;
    tok[ntok++] = p;
    while (*p != '\0' && *p != ' ' && *p != '\n') ++p;
  }
  if (ntok < 3) return 0;
  const char* s = tok[ntok - 2];
  if (s[0] == '0' && s[1] == 'x') s += 2;
  uintptr_t sp;
  return hex_field(s, s + 18, &sp) ? sp : 0;
}

namespace {

struct TaskList {
  TaskInfo* out;
  size_t cap, count;
  int self;
};

void add_task(const char* name, void* ctx) {
  auto* l = static_cast<TaskList*>(ctx);
  int tid = 0;
  for (const char* c = name; *c >= '0' && *c <= '9'; ++c) tid = tid * 10 + (*c - '0');
  if (tid <= 0 || tid == l->self) return;
  if (l->count < l->cap) {
    l->out[l->count].tid = tid;
    l->out[l->count].sp = blocked_sp(tid, &l->out[l->count].in_call);
  }
  ++l->count;
}

}  // namespace

size_t list_other_tasks(TaskInfo* out, size_t cap) {
  TaskList l{out, cap, 0, prim::os_gettid()};
  prim::list_dir("/proc/self/task", add_task, &l);
  return l.count;
}

// ---------------------------------------------------------------------------------------
// Registers of other threads

namespace {

constexpr int kRegsSignal = prim::kQuietSignal;  // ignored by default: a late delivery does nothing
static_assert(kThreadRegs == prim::kContextRegs && kThreadRegSp == prim::kContextRegSp);

// Published to the handler for one snapshot.
std::atomic<ThreadRegs*> g_asked{nullptr};
std::atomic<size_t> g_nasked{0};
std::atomic<uint32_t> g_answers{0};
std::atomic<int> g_in_handler{0};  // handlers that may still use g_asked

// Runs on the asked thread, anywhere in the program: only atomics and system calls
// (async-signal-safe), never the allocator.
void on_regs_signal(int, void*, void* context) {
  g_in_handler.fetch_add(1);
  ThreadRegs* t = g_asked.load();
  size_t n = t != nullptr ? g_nasked.load() : 0;
  int self = prim::os_gettid();
  for (size_t i = 0; i < n; ++i) {
    if (t[i].tid != self || t[i].answered.load(std::memory_order_relaxed) != 0) continue;
    prim::context_registers(context, t[i].regs);
    t[i].handler_frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    t[i].answered.store(1, std::memory_order_release);
    g_answers.fetch_add(1);
    prim::futex_wake(&g_answers, INT_MAX);
    break;
  }
  g_in_handler.fetch_sub(1);
}

// True when thread `tid` would run a handler for `sig` soon: it is neither exiting nor
// stopped and does not block the signal.
bool can_answer(int tid, int sig) {
  char buf[4096];
  if (read_task_file(tid, "status", buf, sizeof buf) == 0) return false;
  const char* state = strstr(buf, "\nState:\t");
  const char* blocked = strstr(buf, "\nSigBlk:\t");
  if (state == nullptr || blocked == nullptr) return false;
  char s = state[8];
  if (s == 'Z' || s == 'X' || s == 'T' || s == 't') return false;
  const char* hex = blocked + 9;
  uintptr_t mask;
  return hex_field(hex, hex + 16, &mask) && (mask >> (sig - 1) & 1) == 0;
}

// True when thread `tid` sits in a system call that a signal handler makes fail with
// EINTR even under SA_RESTART (prim::interrupted_by_handler): such a thread is not asked,
// so the check never changes what the program sees.
bool in_unrestartable_call(int tid) {
  char buf[256];
  size_t len = read_task_file(tid, "syscall", buf, sizeof buf);
  if (len == 0 || buf[0] < '0' || buf[0] > '9') return false;  // running, or not in a call
  // "NR 0xARG1 ... 0xARG6 0xSP 0xPC"
  const char* p = buf;
  const char* end = buf + len;
  long nr = 0;
  for (; p < end && *p >= '0' && *p <= '9'; ++p) nr = nr * 10 + (*p - '0');
  uintptr_t args[6] = {};
  for (uintptr_t& a : args) {
    if (end - p < 3 || p[0] != ' ' || p[1] != '0' || p[2] != 'x') break;
    p += 3;
    if (!hex_field(p, end, &a)) break;
  }
  return prim::interrupted_by_handler(nr, args);
}

}  // namespace

size_t snapshot_registers(ThreadRegs* t, size_t n, uint64_t timeout_ns) {
  if (n == 0) return 0;
  g_answers.store(0);
  g_nasked.store(n);
  g_asked.store(t);
  // On the thread's own stack: a program's alternate stack may be shared by its threads
  // (varnish's workers), which answer at once, or be meant only for its crash handler.
  if (prim::take_signal(kRegsSignal, on_regs_signal, false)) {
    size_t asked = 0;
    for (size_t i = 0; i < n; ++i)
      if (can_answer(t[i].tid, kRegsSignal) && !in_unrestartable_call(t[i].tid) &&
          prim::signal_thread(t[i].tid, kRegsSignal))
        ++asked;
    uint64_t deadline = prim::now_ns() + timeout_ns;
    for (uint32_t got; (got = g_answers.load()) < asked;) {
      uint64_t now = prim::now_ns();
      if (now >= deadline) break;
      prim::futex_wait(&g_answers, got, deadline - now);
    }
    // A signal still pending is then dropped; a handler the program installed meanwhile
    // stays.
    prim::release_signal(kRegsSignal, on_regs_signal);
  }
  // A handler that already started may still write to `t`: wait for it.
  g_asked.store(nullptr);
  while (g_in_handler.load() != 0) sched_yield();
  g_nasked.store(0);
  size_t answered = 0;
  for (size_t i = 0; i < n; ++i) answered += t[i].answered.load(std::memory_order_acquire);
  return answered;
}

}  // namespace mpshim::track
