// Allocation-free text output: a fixed buffer that flushes to a file descriptor when full.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::prim {

class Writer {
 public:
  /// Writes to `fd` (2 = stderr). Flushes on destruction.
  explicit Writer(int fd = 2) : fd_(fd) {}
  ~Writer() { flush(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  Writer& str(const char* s);
  Writer& str(const char* s, size_t n);
  Writer& chr(char c);
  Writer& u64(uint64_t v);
  /// A count with thousands separators: 1,234,567.
  Writer& grouped(uint64_t v);
  Writer& i64(int64_t v);
  Writer& hex(uint64_t v);  ///< 0x-prefixed
  /// A byte count in human units: "512 B", "1.5 KiB", "20.0 MiB".
  Writer& bytes(uint64_t v);
  /// Fixed-point decimal: v / 10^decimals with `decimals` digits.
  Writer& fixed(uint64_t v, int decimals);
  /// Pads with spaces up to column `col` since the last newline.
  Writer& pad_to(size_t col);
  /// A JSON string literal with escapes.
  Writer& json_str(const char* s);
  void flush();
  int fd() const { return fd_; }

 private:
  int fd_;
  size_t len_ = 0;
  size_t col_ = 0;
  char buf_[4096];
};

/// Formats into a caller's buffer (always NUL-terminated); returns the length.
size_t format_u64(char* out, size_t cap, uint64_t v);

}  // namespace mpshim::prim
