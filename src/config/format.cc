#include "config/format.h"

#include <cstddef>

#include "prim/fmt.h"

namespace mpshim::config {
namespace {

// Byte offsets of the Config fields, in table order, so code can walk the options by index.
constexpr size_t kOffsets[] = {
#define MPSHIM_OFFSET(NAME, field, type, def, lo, hi, choices, help) offsetof(Config, field),
    MPSHIM_OPTIONS(MPSHIM_OFFSET)
#undef MPSHIM_OFFSET
};

#define MPSHIM_DEF_Bool(def, choices) def != 0
#define MPSHIM_DEF_Uint(def, choices) uint64_t(def)
#define MPSHIM_DEF_Size(def, choices) uint64_t(def)
#define MPSHIM_DEF_String(def, choices) choices
#define MPSHIM_DEF_Enum(def, choices) unsigned(def)
#define MPSHIM_DEFAULT(NAME, field, type, def, lo, hi, choices, help) \
  MPSHIM_DEF_##type(def, choices),
// Constant-initialised: no constructor runs, so it is valid inside the first malloc.
constexpr Config kDefaults = {MPSHIM_OPTIONS(MPSHIM_DEFAULT)};
#undef MPSHIM_DEFAULT

constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};

// Appends to a fixed buffer, truncating silently and keeping it NUL-terminated.
struct Text {
  char* out;
  size_t cap;
  size_t len = 0;
  Text(char* o, size_t c) : out(o), cap(c) {
    if (cap > 0) out[0] = '\0';
  }
  Text& chr(char c) {
    if (len + 1 < cap) {
      out[len++] = c;
      out[len] = '\0';
    }
    return *this;
  }
  Text& str(const char* s) {
    while (*s != '\0') chr(*s++);
    return *this;
  }
  Text& num(uint64_t v) {
    char tmp[24];
    prim::format_u64(tmp, sizeof tmp, v);
    return str(tmp);
  }
  Text& size(uint64_t v) {
    len += format_size(v, out + len, cap > len ? cap - len : 0);
    return *this;
  }
};

}  // namespace

const Config& defaults() { return kDefaults; }

size_t format_size(uint64_t v, char* out, size_t cap) {
  Text t(out, cap);
  if (v == 0) return t.chr('0').len;
  int unit = 0;
  while (unit < 4 && v % 1024 == 0) {
    v /= 1024;
    ++unit;
  }
  return t.num(v).chr(' ').str(kUnits[unit]).len;
}

uint64_t get_number(const Config& c, size_t index) {
  size_t count = 0;
  const OptionInfo& o = options(&count)[index];
  const char* field = reinterpret_cast<const char*>(&c) + kOffsets[index];
  switch (o.type) {
    case Type::Bool: return *reinterpret_cast<const bool*>(field) ? 1 : 0;
    case Type::Uint:
    case Type::Size: return *reinterpret_cast<const uint64_t*>(field);
    case Type::Enum: return *reinterpret_cast<const unsigned*>(field);
    case Type::String: break;
  }
  return 0;
}

const char* get_string(const Config& c, size_t index) {
  size_t count = 0;
  if (options(&count)[index].type != Type::String) return "";
  const char* s = *reinterpret_cast<const char* const*>(reinterpret_cast<const char*>(&c) +
                                                        kOffsets[index]);
  return s != nullptr ? s : "";
}

void set_number(Config* c, size_t index, uint64_t v) {
  size_t count = 0;
  char* field = reinterpret_cast<char*>(c) + kOffsets[index];
  switch (options(&count)[index].type) {
    case Type::Bool: *reinterpret_cast<bool*>(field) = v != 0; break;
    case Type::Uint:
    case Type::Size: *reinterpret_cast<uint64_t*>(field) = v; break;
    case Type::Enum: *reinterpret_cast<unsigned*>(field) = unsigned(v); break;
    case Type::String: break;
  }
}

void set_string(Config* c, size_t index, const char* s) {
  size_t count = 0;
  if (options(&count)[index].type != Type::String) return;
  *reinterpret_cast<const char**>(reinterpret_cast<char*>(c) + kOffsets[index]) = s;
}

// The `index`-th word of "a|b|c".
static void enum_word(Text& t, const char* choices, uint64_t index) {
  for (; index > 0 && *choices != '\0'; ++choices)
    if (*choices == '|') --index;
  for (; *choices != '\0' && *choices != '|'; ++choices) t.chr(*choices);
}

size_t format_value(const Config& c, size_t index, char* out, size_t cap) {
  size_t count = 0;
  const OptionInfo& o = options(&count)[index];
  Text t(out, cap);
  uint64_t v = get_number(c, index);
  switch (o.type) {
    case Type::Bool: t.str(v != 0 ? "on" : "off"); break;
    case Type::Uint: t.num(v); break;
    case Type::Size: t.size(v); break;
    case Type::Enum: enum_word(t, o.choices, v); break;
    case Type::String: {
      const char* s = get_string(c, index);
      t.str(*s != '\0' ? s : "(none)");
      break;
    }
  }
  return t.len;
}

size_t format_range(size_t index, char* out, size_t cap) {
  size_t count = 0;
  const OptionInfo& o = options(&count)[index];
  Text t(out, cap);
  switch (o.type) {
    case Type::Bool: t.str("on/off"); break;
    case Type::Uint: t.num(o.lo).str("..").num(o.hi); break;
    case Type::Size: t.size(o.lo).str("..").size(o.hi); break;
    case Type::Enum:
      for (const char* s = o.choices; *s != '\0'; ++s) *s == '|' ? t.str(", ") : t.chr(*s);
      break;
    case Type::String: break;
  }
  return t.len;
}

void dump_to(const Config& c, int fd) {
  size_t count = 0;
  const OptionInfo* table = options(&count);
  size_t width = 0;
  for (size_t i = 0; i < count; ++i) {
    size_t n = 0;
    while (table[i].name[n] != '\0') ++n;
    if (n > width) width = n;
  }
  prim::Writer w(fd);
  w.str("mpshim: configuration:\n");
  for (size_t i = 0; i < count; ++i) {
    w.str("  MPSHIM_").str(table[i].name).pad_to(2 + 7 + width).str(" = ");
    if (table[i].type == Type::String) {
      const char* s = get_string(c, i);  // paths may be long: no intermediate buffer
      w.str(*s != '\0' ? s : "(none)");
    } else {
      char value[128];
      format_value(c, i, value, sizeof value);
      w.str(value);
    }
    w.chr('\n');
  }
}

}  // namespace mpshim::config
