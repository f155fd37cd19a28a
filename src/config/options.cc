// Parsing of the MPSHIM_* environment. This runs inside the first malloc call of a process:
// it allocates nothing, keeps all state in fixed buffers and writes only through prim.
#include "config/options.h"

#include "config/children.h"

#include <atomic>

#include "config/format.h"
#include "prim/defines.h"
#include "prim/file.h"
#include "prim/fmt.h"
#include "prim/fs.h"
#include "prim/os.h"

namespace mpshim::config {
namespace {

constexpr OptionInfo kTable[] = {
#define MPSHIM_ROW(NAME, field, type, def, lo, hi, choices, help) \
  {#NAME, Type::type, uint64_t(def), uint64_t(lo), uint64_t(hi), choices, help},
    MPSHIM_OPTIONS(MPSHIM_ROW)
#undef MPSHIM_ROW
};
constexpr size_t kCount = sizeof kTable / sizeof kTable[0];
static_assert(kCount <= 64, "the `seen` mask in parse() holds 64 options");

constexpr char kPrefix[] = "MPSHIM_";
constexpr size_t kPrefixLen = sizeof kPrefix - 1;

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

// Case-insensitive comparison of [s, s + n) with the NUL-terminated `word`.
bool equals_ci(const char* s, size_t n, const char* word) {
  for (size_t i = 0; i < n; ++i)
    if (word[i] == '\0' || lower(s[i]) != lower(word[i])) return false;
  return word[n] == '\0';
}

// Index in kTable of the exact (case-sensitive, like environment names) name [s, s + n),
// or kCount.
size_t find(const char* s, size_t n) {
  for (size_t i = 0; i < kCount; ++i) {
    size_t j = 0;
    while (j < n && s[j] == kTable[i].name[j]) ++j;
    if (j == n && kTable[i].name[n] == '\0') return i;
  }
  return kCount;
}

// Options that name a file or change the exit status (see ignored_when_secure).
constexpr const char* kUnsafe[] = {"REPORT", "FOLDED", "SUPPRESSIONS", "LEAK_EXITCODE", "PROFILE"};

constexpr const char* kOn[] = {"1", "on", "yes", "true", "enable"};
constexpr const char* kOff[] = {"0", "off", "no", "false", "disable"};

enum class Status { Ok, Bad, Overflow };

// Reads the leading decimal digits of `s` (at least one) and advances past them.
Status read_digits(const char*& s, uint64_t* out) {
  if (*s < '0' || *s > '9') return Status::Bad;
  uint64_t v = 0;
  bool overflow = false;
  for (; *s >= '0' && *s <= '9'; ++s) {
    uint64_t d = uint64_t(*s - '0');
    if (v > (UINT64_MAX - d) / 10) overflow = true;
    v = v * 10 + d;
  }
  *out = v;
  return overflow ? Status::Overflow : Status::Ok;
}

Status parse_uint(const char* s, uint64_t* out) {
  uint64_t v = 0;
  Status st = read_digits(s, &v);
  if (st == Status::Bad || *s != '\0') return Status::Bad;
  if (st == Status::Ok) *out = v;
  return st;
}

// "<digits>[ ][K|M|G|T][B|iB]" or "<digits>[ ]B", any case; see Type in options.h.
Status parse_size_status(const char* s, uint64_t* out) {
  uint64_t v = 0;
  Status st = read_digits(s, &v);
  if (st == Status::Bad) return st;
  if (*s == ' ' && *++s == '\0') return Status::Bad;  // a space only before a suffix
  unsigned shift = 0;
  switch (lower(*s)) {
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: break;
  }
  if (shift != 0) {
    ++s;
    if (lower(*s) == 'i' && lower(s[1]) == 'b') s += 2;
    else if (lower(*s) == 'b') ++s;
  } else if (lower(*s) == 'b') {
    ++s;
  }
  if (*s != '\0') return Status::Bad;
  if (st == Status::Overflow || v > (UINT64_MAX >> shift)) return Status::Overflow;
  *out = v << shift;
  return Status::Ok;
}

// Index of `s` among the '|'-separated words of `choices`, or -1.
int enum_index(const char* s, const char* choices) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  int index = 0;
  for (const char* w = choices;; ++index) {
    const char* end = w;
    while (*end != '\0' && *end != '|') ++end;
    if (size_t(end - w) == n && n > 0) {
      size_t i = 0;
      while (i < n && lower(s[i]) == lower(w[i])) ++i;
      if (i == n) return index;
    }
    if (*end == '\0') return -1;
    w = end + 1;
  }
}

// One warning line in a fixed buffer. Values from the environment are shortened and their
// control characters replaced, so a warning is always exactly one line.
class Line {
 public:
  Line& str(const char* s) {
    while (*s != '\0') chr(*s++);
    return *this;
  }
  Line& str(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) chr(s[i]);
    return *this;
  }
  Line& user(const char* s, size_t n) {
    const size_t kMax = 64;
    for (size_t i = 0; i < n && i < kMax; ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      chr(c < 0x20 || c == 0x7f ? '?' : char(c));
    }
    if (n > kMax) str("...");
    return *this;
  }
  Line& chr(char c) {
    if (len_ + 1 < sizeof buf_) buf_[len_++] = c;
    buf_[len_] = '\0';
    return *this;
  }
  const char* c_str() const { return buf_; }

 private:
  char buf_[512] = {};
  size_t len_ = 0;
};

void warn_stderr(const char* line) {
  size_t n = 0;
  while (line[n] != '\0') ++n;
  char buf[600];
  if (n > sizeof buf - 1) n = sizeof buf - 1;
  for (size_t i = 0; i < n; ++i) buf[i] = line[i];
  buf[n] = '\n';
  prim::write_err(buf, n + 1);  // one write, so lines of several threads do not mix
}

// Optimal-string-alignment distance, case-insensitive; names longer than kMax are not
// compared (returns a large value).
size_t edit_distance(const char* a, size_t na, const char* b) {
  constexpr size_t kMax = 40;
  size_t nb = 0;
  while (b[nb] != '\0') ++nb;
  if (na > kMax || nb > kMax) return SIZE_MAX;
  size_t d[kMax + 1][kMax + 1];
  for (size_t i = 0; i <= na; ++i) d[i][0] = i;
  for (size_t j = 0; j <= nb; ++j) d[0][j] = j;
  for (size_t i = 1; i <= na; ++i) {
    for (size_t j = 1; j <= nb; ++j) {
      size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      size_t best = d[i - 1][j - 1] + cost;
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1]) && d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[na][nb];
}

// The option closest to an unknown name, when close enough to be a likely typo: one edit
// plus one more per five characters of the longer name.
const OptionInfo* suggest(const char* name, size_t n) {
  const OptionInfo* best = nullptr;
  size_t best_d = SIZE_MAX;
  for (const OptionInfo& o : kTable) {
    size_t d = edit_distance(name, n, o.name);
    size_t len = 0;
    while (o.name[len] != '\0') ++len;
    size_t limit = 1 + (len > n ? len : n) / 5;
    if (d <= limit && d < best_d) {
      best = &o;
      best_d = d;
    }
  }
  return best;
}

// Parses one present, non-empty value into option `i` of `out`, or warns and keeps the default.
void parse_value(size_t i, const char* entry, size_t name_len, const char* value, Config* out,
                 void (*warn)(const char*)) {
  const OptionInfo& o = kTable[i];
  uint64_t v = 0;
  const char* problem = nullptr;
  switch (o.type) {
    case Type::String: set_string(out, i, value); return;
    case Type::Bool: {
      bool b = false;
      if (parse_bool(value, &b)) return set_number(out, i, b ? 1 : 0);
      problem = "is not on/off (or 1/0, yes/no, true/false, enable/disable)";
      break;
    }
    case Type::Enum: {
      int k = enum_index(value, o.choices);
      if (k >= 0) return set_number(out, i, uint64_t(k));
      problem = "is not one of";
      break;
    }
    case Type::Uint:
    case Type::Size: {
      Status s = o.type == Type::Uint ? parse_uint(value, &v) : parse_size_status(value, &v);
      if (s == Status::Ok && v >= o.lo && v <= o.hi) return set_number(out, i, v);
      problem = s == Status::Bad ? (o.type == Type::Uint ? "is not a number in" : "is not a size in")
                                 : "is out of range";
      break;
    }
  }
  size_t value_len = 0;
  while (value[value_len] != '\0') ++value_len;
  char range[96], def[96];
  format_range(i, range, sizeof range);
  format_value(defaults(), i, def, sizeof def);
  Line line;
  line.str("mpshim: ").str(entry, name_len).chr('=').user(value, value_len).chr(' ').str(problem);
  if (o.type != Type::Bool) line.chr(' ').str(range);
  line.str("; using ").str(def);
  warn(line.c_str());
}

}  // namespace

const OptionInfo* options(size_t* count) {
  *count = kCount;
  return kTable;
}

bool parse_bool(const char* s, bool* out) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  for (size_t i = 0; i < sizeof kOn / sizeof kOn[0]; ++i) {
    if (equals_ci(s, n, kOn[i])) return *out = true, true;
    if (equals_ci(s, n, kOff[i])) return *out = false, true;
  }
  return false;
}

bool parse_size(const char* s, uint64_t* out) {
  return parse_size_status(s, out) == Status::Ok;
}

bool ignored_when_secure(const OptionInfo& o) {
  for (const char* name : kUnsafe)
    if (__builtin_strcmp(name, o.name) == 0) return true;
  return false;
}

void parse(const char* const* env, Config* out, void (*warn)(const char* line), bool secure) {
  *out = defaults();
  if (warn == nullptr) warn = warn_stderr;
  uint64_t seen = 0, ignored = 0;
  for (; env != nullptr && *env != nullptr; ++env) {
    const char* entry = *env;
    size_t k = 0;
    while (k < kPrefixLen && entry[k] == kPrefix[k]) ++k;
    if (k < kPrefixLen) continue;
    const char* name = entry + kPrefixLen;
    const char* eq = name;
    while (*eq != '\0' && *eq != '=') ++eq;
    if (*eq != '=') continue;  // not a variable
    size_t n = size_t(eq - name);
    const char* value = eq + 1;
    size_t i = find(name, n);
    if (i == kCount && entry[kPrefixLen + n] == '=' &&
        __builtin_strncmp(entry, kRootVariable, kPrefixLen + n) == 0 &&
        kRootVariable[kPrefixLen + n] == '\0')
      continue;  // the mark of a followed program (children.h), not a setting
    if (i == kCount) {
      size_t value_len = 0;
      while (value[value_len] != '\0') ++value_len;
      Line line;
      line.str("mpshim: unknown variable ").user(entry, kPrefixLen + n).chr('=').user(value, value_len);
      if (const OptionInfo* o = suggest(name, n)) line.str(" (did you mean MPSHIM_").str(o->name).str("?)");
      warn(line.c_str());
      continue;
    }
    if (seen & (uint64_t(1) << i)) continue;  // the first occurrence counts, as for getenv
    seen |= uint64_t(1) << i;
    if (*value == '\0') continue;  // empty: the default
    if (secure && ignored_when_secure(kTable[i])) {
      ignored |= uint64_t(1) << i;
      continue;
    }
    parse_value(i, entry, kPrefixLen + n, value, out, warn);
  }
  if (ignored != 0 && out->verbose) {
    Line line;
    line.str("mpshim: secure-execution mode (setuid/setgid program): ignoring");
    for (size_t i = 0; i < kCount; ++i)
      if (ignored & (uint64_t(1) << i)) line.str(" MPSHIM_").str(kTable[i].name);
    warn(line.c_str());
  }
}

void dump(const Config& c) { dump_to(c, 2); }

namespace {

Config g_config;                   // zero-initialised; valid once g_state is 2
std::atomic<int> g_state{0};       // 0 not parsed, 1 parsing, 2 done
std::atomic<int> g_parser_pid{0};  // pid of the process whose thread parses (0: nobody yet)
MPSHIM_TLS bool t_parsing = false;

// Copies of the string options. Programs that set their process title (redis, nginx,
// postgres) overwrite the environment strings, and the report reads these paths at exit.
char g_string_copies[16384];

// Points the string options of `c` at copies in g_string_copies; a value that does not fit
// keeps pointing into the environment. A relative path becomes one from the directory the
// process starts in, so that a program that changes directory, and the processes it starts
// there, write and read the same files (MPSHIM_REPORT=leaks.txt make -C sub check).
void keep_strings(Config* c) {
  size_t used = 0;
  auto keep = [&used](const char*& s, bool path) {
    size_t n = 0;
    while (s[n] != '\0') ++n;
    char* copy = g_string_copies + used;
    size_t dir = 0;
    if (path && n != 0 && s[0] != '/' && __builtin_strcmp(s, "stderr") != 0) {
      dir = prim::os_getcwd(copy, sizeof g_string_copies - used);
      if (dir != 0) copy[dir++] = '/';
    }
    if (dir + n + 1 > sizeof g_string_copies - used) return;
    for (size_t i = 0; i <= n; ++i) copy[dir + i] = s[i];
    used += dir + n + 1;
    s = copy;
  };
#define MPSHIM_KEEP_Bool(field)
#define MPSHIM_KEEP_Uint(field)
#define MPSHIM_KEEP_Size(field)
#define MPSHIM_KEEP_Enum(field)
#define MPSHIM_KEEP_String(field) keep(c->field, &c->field != &c->children);
#define MPSHIM_KEEP(NAME, field, type, def, lo, hi, choices, help) MPSHIM_KEEP_##type(field)
  MPSHIM_OPTIONS(MPSHIM_KEEP)
#undef MPSHIM_KEEP
}

char g_root_mark[32];  // "HASH.PID", when this process is the root
int g_root_pid;        // its pid (a forked child keeps the mark, not the pid)
char g_exe[4096];      // the executable's path, read when MPSHIM_CHILDREN has patterns

const char* read_exe_path() {
  long n = prim::read_link("/proc/self/exe", g_exe, sizeof g_exe - 1);
  g_exe[n > 0 ? n : 0] = '\0';
  return g_exe;
}

// MPSHIM_CHILDREN names a program by its executable's path, or by the path it was started
// by when that leads to the same file through symbolic links (mysql -> mariadb, python3 ->
// python3.11, cc -> gcc-12); a script's own path does not count: its program is the
// interpreter.
bool names_this_program(const char* patterns) {
  const char* exe = read_exe_path();
  if (matches_children(patterns, exe)) return true;
  const char* started = prim::exec_path();
  return started[0] != '\0' && matches_children(patterns, started) && prim::same_file(started, exe);
}

// Programs exec'd from the one started keep the allocator; unless MPSHIM_CHILDREN names
// them they track, report, write a profile and change their exit status no more.
void apply_role(const char* const* env, int pid, Config* c) {
  uint64_t hash = settings_hash(env);
  Role r = role(env, hash, pid, c->children, names_this_program);
  if (r == Role::Root) {
    write_mark(hash, pid, g_root_mark);
    g_root_pid = pid;
  } else if (r == Role::NotFollowed) {
    c->leaks = false;
    c->check = 0;
    c->profile = "";
    c->stats = false;
    c->verbose = false;
    c->leak_exitcode = 0;
  }
}

}  // namespace

const char* root_mark() { return g_root_mark[0] != '\0' ? g_root_mark : nullptr; }
bool started_program() { return g_root_pid != 0 && g_root_pid == prim::os_getpid(); }

namespace {

const Config& parse_now(int pid) {
  t_parsing = true;
  const char* const* env = prim::environment();
  parse(env, &g_config, nullptr, prim::secure_execution());
  apply_role(env, pid, &g_config);
  keep_strings(&g_config);
  t_parsing = false;
  g_state.store(2, std::memory_order_release);
  return g_config;
}

MPSHIM_COLD const Config& get_slow() {
  // A call from inside parsing on this thread (a hook in the write path, say) must not wait
  // for itself: it gets the defaults.
  if (t_parsing) return defaults();
  // The parser claims the job with its pid. A fork() while another thread parses leaves the
  // child with a claim by a process that is not there: one thread of the child takes over.
  const int self = prim::os_getpid();
  int owner = 0;
  while (g_state.load(std::memory_order_acquire) != 2) {
    if (owner != self && g_parser_pid.compare_exchange_strong(owner, self)) {
      g_state.store(1, std::memory_order_relaxed);
      return parse_now(self);
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  return g_config;
}

}  // namespace

const Config& get() {
  if (MPSHIM_LIKELY(g_state.load(std::memory_order_acquire) == 2)) return g_config;
  return get_slow();
}

}  // namespace mpshim::config
