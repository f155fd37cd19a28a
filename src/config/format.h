// Access to Config fields by option index, and the text forms of option values shared by the
// verbose dump, the warnings and the README check. Every format_ function writes into a
// caller's buffer, always NUL-terminates (truncating) and returns the length.
#pragma once
#include <cstddef>
#include <cstdint>

#include "config/options.h"

namespace mpshim::config {

/// The configuration with every option at its default.
const Config& defaults();

/// A byte count exactly, in the largest binary unit that divides it: "0", "1000 B",
/// "16 KiB", "256 MiB", "1 TiB". parse_size() reads every form back.
size_t format_size(uint64_t v, char* out, size_t cap);

/// Option `index` (of options()) in `c` as the dump shows it: sizes as format_size(), bools
/// as on/off, enums as their word, strings as given or "(none)" when empty.
size_t format_value(const Config& c, size_t index, char* out, size_t cap);

/// The accepted values of option `index`: "on/off", "0..64", "16 KiB..64 MiB",
/// "text, json"; empty for strings (any text).
size_t format_range(size_t index, char* out, size_t cap);

/// Reads option `index` of `c` as a number (Bool, Uint, Size, Enum) or a string (String,
/// never null).
uint64_t get_number(const Config& c, size_t index);
const char* get_string(const Config& c, size_t index);
/// Stores into option `index` of `c`; the setter must match the option's type.
void set_number(Config* c, size_t index, uint64_t v);
void set_string(Config* c, size_t index, const char* s);

/// Like dump(), to any file descriptor.
void dump_to(const Config& c, int fd);

}  // namespace mpshim::config
