#include "report/suppress.h"

#include <cstring>

#include "prim/fs.h"

namespace mpshim::report {

namespace {

// Glob match of p[0..pn) against s[0..sn) where '*' matches any run: linear scan that
// backtracks only to the last star.
bool glob(const char* p, size_t pn, const char* s, size_t sn) {
  size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;
  while (j < sn) {
    if (i < pn && p[i] == '*') {
      star = i++;
      mark = j;
    } else if (i < pn && p[i] == s[j]) {
      ++i;
      ++j;
    } else if (star != SIZE_MAX) {
      i = star + 1;
      j = ++mark;
    } else {
      return false;
    }
  }
  while (i < pn && p[i] == '*') ++i;
  return i == pn;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

bool pattern_match(const char* pattern, const char* str) {
  if (str == nullptr || str[0] == '\0') return false;
  // Unanchored ends become stars: "abc" is "*abc*", "^abc" is "abc*", "abc$" is "*abc".
  char buf[kMaxPattern + 3];
  size_t pn = strlen(pattern), n = 0;
  bool start = pn > 0 && pattern[0] == '^';
  if (start) ++pattern, --pn;
  bool end = pn > 0 && pattern[pn - 1] == '$';
  if (end) --pn;
  if (pn > kMaxPattern) return false;
  if (!start) buf[n++] = '*';
  memcpy(buf + n, pattern, pn);
  n += pn;
  if (!end) buf[n++] = '*';
  return glob(buf, n, str, strlen(str));
}

bool Suppressions::parse(const char* text, size_t len) {
  size_t pos = 0;
  while (pos < len) {
    size_t eol = pos;
    while (eol < len && text[eol] != '\n') ++eol;
    size_t b = pos, e = eol;
    pos = eol + 1;
    while (b < e && is_space(text[b])) ++b;
    while (e > b && is_space(text[e - 1])) --e;
    if (b == e || text[b] == '#') continue;
    if (e - b <= 5 || memcmp(text + b, "leak:", 5) != 0) continue;
    b += 5;
    while (b < e && is_space(text[b])) ++b;
    if (b == e || e - b > kMaxPattern) continue;
    if (n_ == cap_) {
      size_t cap = cap_ == 0 ? 32 : 2 * cap_;
      auto* p = static_cast<Pattern*>(arena_.alloc(cap * sizeof(Pattern)));
      if (p == nullptr) return false;
      if (n_ > 0) memcpy(p, pat_, n_ * sizeof(Pattern));
      pat_ = p;
      cap_ = cap;
    }
    const char* t = arena_.dup(text + b, e - b);
    if (t == nullptr) return false;
    pat_[n_++] = Pattern{t, 0, 0};
  }
  return true;
}

bool Suppressions::load(const char* path) {
  Arena buf;
  long len = -1;
  char* data = nullptr;
  // A buffer the file fills may have cut it short: read it again into a bigger one.
  for (size_t cap = 64 << 10;; cap *= 2) {
    data = static_cast<char*>(buf.alloc(cap));
    len = data != nullptr ? prim::read_file(path, data, cap) : -1;
    if (len < 0 || size_t(len) < cap) break;
  }
  bool ok = len >= 0 && parse(data, size_t(len));
  buf.release();
  return ok;
}

long Suppressions::match(const SymInfo* const* frames, size_t n) const {
  for (size_t p = 0; p < n_; ++p) {
    const char* pat = pat_[p].text;
    for (size_t k = 0; k < n; ++k) {
      const SymInfo* si = frames[k];
      if (pattern_match(pat, si->module)) return long(p);
      for (const SymFrame* f = &si->frame; f != nullptr; f = f->next)
        if (pattern_match(pat, f->function) || pattern_match(pat, f->file)) return long(p);
    }
  }
  return -1;
}

void Suppressions::add_hit(size_t i, uint64_t bytes, uint64_t blocks) {
  pat_[i].bytes += bytes;
  pat_[i].blocks += blocks;
}

void Suppressions::release() {
  arena_.release();
  pat_ = nullptr;
  n_ = cap_ = 0;
}

}  // namespace mpshim::report
