#include "prim/fmt.h"

#include "prim/os.h"

#include <cstring>

namespace mpshim::prim {

Writer& Writer::str(const char* s, size_t n) {
  while (n > 0) {
    if (len_ == sizeof buf_) flush();
    size_t k = sizeof buf_ - len_ < n ? sizeof buf_ - len_ : n;
    memcpy(buf_ + len_, s, k);
    // Column tracking for pad_to(): position after the last newline copied.
    const void* nl = memrchr(s, '\n', k);
    col_ = nl != nullptr ? size_t(s + k - static_cast<const char*>(nl) - 1) : col_ + k;
    len_ += k;
    s += k;
    n -= k;
  }
  return *this;
}

Writer& Writer::str(const char* s) {
  if (s == nullptr) s = "(null)";
  return str(s, strlen(s));
}

Writer& Writer::chr(char c) {
  if (len_ == sizeof buf_) flush();
  buf_[len_++] = c;
  col_ = c == '\n' ? 0 : col_ + 1;
  return *this;
}

size_t format_u64(char* out, size_t cap, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = char('0' + v % 10);
    v /= 10;
  } while (v != 0);
  size_t len = 0;
  while (n > 0 && len + 1 < cap) out[len++] = tmp[--n];
  if (cap > 0) out[len] = '\0';
  return len;
}

Writer& Writer::u64(uint64_t v) {
  char tmp[24];
  size_t n = format_u64(tmp, sizeof tmp, v);
  return str(tmp, n);
}

Writer& Writer::grouped(uint64_t v) {
  char digits[24];
  size_t n = format_u64(digits, sizeof digits, v);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) chr(',');
    chr(digits[i]);
  }
  return *this;
}

Writer& Writer::i64(int64_t v) {
  if (v < 0) {
    chr('-');
    return u64(uint64_t(0) - uint64_t(v));
  }
  return u64(uint64_t(v));
}

Writer& Writer::hex(uint64_t v) {
  char tmp[16];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  str("0x");
  while (n > 0) chr(tmp[--n]);
  return *this;
}

Writer& Writer::fixed(uint64_t v, int decimals) {
  uint64_t scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  u64(v / scale);
  if (decimals > 0) {
    chr('.');
    uint64_t frac = v % scale;
    for (uint64_t d = scale / 10; d > 0; d /= 10) chr(char('0' + (frac / d) % 10));
  }
  return *this;
}

Writer& Writer::bytes(uint64_t v) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (v < 1024) return u64(v).str(" B");
  int u = 0;
  uint64_t scaled10 = v * 10;  // tenths
  uint64_t div = 1;
  while (u < 4 && v / div >= 1024) {
    div *= 1024;
    ++u;
  }
  scaled10 = (v * 10 + div / 2) / div;
  return fixed(scaled10, 1).chr(' ').str(units[u]);
}

Writer& Writer::pad_to(size_t col) {
  while (col_ < col) chr(' ');
  return *this;
}

Writer& Writer::json_str(const char* s) {
  chr('"');
  for (; s != nullptr && *s != '\0'; ++s) {
    unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      chr('\\').chr(char(c));
    } else if (c < 0x20) {
      str("\\u00").chr("0123456789abcdef"[c >> 4]).chr("0123456789abcdef"[c & 15]);
    } else {
      chr(char(c));
    }
  }
  return chr('"');
}

void Writer::flush() {
  if (len_ > 0) write_fd(fd_, buf_, len_);
  len_ = 0;
}

}  // namespace mpshim::prim
