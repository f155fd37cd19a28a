#include "config/children.h"

namespace mpshim::config {
namespace {

constexpr char kPrefix[] = "MPSHIM_";
constexpr size_t kPrefixLen = sizeof kPrefix - 1;
constexpr size_t kRootLen = sizeof kRootVariable - 1;

bool starts_with(const char* s, const char* prefix, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (s[i] != prefix[i]) return false;
  return true;
}

bool is_root_entry(const char* e) { return starts_with(e, kRootVariable, kRootLen) && e[kRootLen] == '='; }

// Glob match of [p, pe) against the NUL-terminated `s`: '*' any run, '?' one character.
bool glob(const char* p, const char* pe, const char* s) {
  const char* star = nullptr;
  const char* retry = nullptr;
  while (*s != '\0') {
    if (p < pe && (*p == '?' || *p == *s)) {
      ++p;
      ++s;
    } else if (p < pe && *p == '*') {
      star = ++p;
      retry = s;
    } else if (star != nullptr) {
      p = star;
      s = ++retry;
    } else {
      return false;
    }
  }
  while (p < pe && *p == '*') ++p;
  return p == pe;
}

bool words_equal(const char* s, const char* word) {
  size_t i = 0;
  for (; word[i] != '\0'; ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    if (c != word[i]) return false;
  }
  return s[i] == '\0';
}

}  // namespace

uint64_t settings_hash(const char* const* env) {
  uint64_t sum = 0;
  for (; env != nullptr && *env != nullptr; ++env) {
    const char* e = *env;
    if (!starts_with(e, kPrefix, kPrefixLen) || is_root_entry(e)) continue;
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the entry, summed: order does not count
    for (; *e != '\0'; ++e) h = (h ^ uint8_t(*e)) * 0x100000001b3ull;
    sum += h ^ (h >> 29);
  }
  return sum;
}

bool matches_children(const char* patterns, const char* path) {
  const char* base = path;
  for (const char* c = path; *c != '\0'; ++c)
    if (*c == '/') base = c + 1;
  for (const char* p = patterns; *p != '\0';) {
    const char* end = p;
    while (*end != '\0' && *end != ',') ++end;
    const char* lo = p;
    const char* hi = end;
    while (lo < hi && *lo == ' ') ++lo;
    while (hi > lo && hi[-1] == ' ') --hi;
    bool has_slash = false;
    for (const char* c = lo; c < hi; ++c) has_slash = has_slash || *c == '/';
    if (hi > lo && glob(lo, hi, has_slash ? path : base)) return true;
    p = *end == ',' ? end + 1 : end;
  }
  return false;
}

Role role(const char* const* env, uint64_t hash, int pid, const char* children,
          bool (*named)(const char* patterns)) {
  const char* mark = nullptr;
  for (; env != nullptr && *env != nullptr && mark == nullptr; ++env)
    if (is_root_entry(*env)) mark = *env + kRootLen + 1;
  if (mark == nullptr) return Role::Root;
  uint64_t seen = 0;
  const char* c = mark;
  for (; (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'); ++c)
    seen = seen << 4 | uint64_t(*c <= '9' ? *c - '0' : *c - 'a' + 10);
  if (c == mark || *c != '.' || seen != hash) return Role::Root;  // other settings: a new start
  int64_t root_pid = 0;
  const char* d = ++c;
  for (; *c >= '0' && *c <= '9' && root_pid < (int64_t(1) << 32); ++c) root_pid = root_pid * 10 + (*c - '0');
  if (c == d || *c != '\0') return Role::Root;
  if (root_pid == pid) return Role::Root;  // exec'd in the started program's own process
  if (words_equal(children, "all")) return Role::Followed;
  if (words_equal(children, "none") || *children == '\0') return Role::NotFollowed;
  return named(children) ? Role::Followed : Role::NotFollowed;
}

void write_mark(uint64_t hash, int pid, char* out) {
  for (int i = 15; i >= 0; --i, hash >>= 4) out[i] = "0123456789abcdef"[hash & 15];
  out[16] = '.';
  char digits[12];
  int n = 0;
  uint32_t v = uint32_t(pid);
  do digits[n++] = char('0' + v % 10); while ((v /= 10) != 0);
  for (int i = 0; i < n; ++i) out[17 + i] = digits[n - 1 - i];
  out[17 + n] = '\0';
}

}  // namespace mpshim::config
