#include "report/symbolize.h"

#include <backtrace.h>
#include <cstring>
// libiberty.h would declare basename() again, differently from glibc's string.h.
#define HAVE_DECL_BASENAME 1
#include <libiberty/demangle.h>
#include <link.h>

#include "prim/fs.h"
#include "prim/lock.h"
#include "report/arena.h"
#include "report/debug_files.h"

namespace mpshim::report {

namespace {

// ---- modules ---------------------------------------------------------------------------

struct Module {
  uintptr_t lo, hi, bias;
  uintptr_t code_lo, code_hi;  // the executable segments: only code is ever named
  const char* path;
  const uint8_t* build_id;  // in the loaded image, or nullptr
  size_t build_id_len;
};

// Everything below is guarded by g_lock. Plain globals with constant initialisers: they
// must outlive the program's static destructors.
prim::Lock g_lock;
Arena g_arena;
Module* g_modules = nullptr;
size_t g_nmodules = 0, g_cap_modules = 0;
unsigned long long g_mod_adds = ~0ull, g_mod_subs = ~0ull;  // loader counters of the table
const char* g_exe = nullptr;

// libbacktrace state; it sees the modules loaded when it first reads them, so it is
// created again when modules were loaded since (its memory cannot be freed).
backtrace_state* g_bt = nullptr;
unsigned long long g_bt_adds = ~0ull;

SymInfo** g_table = nullptr;  // open addressing by pc, nullptr = empty
size_t g_table_cap = 0, g_table_used = 0;

const char* exe_path() {
  if (g_exe == nullptr) {
    char buf[4096];
    char path[40];
    long n = prim::read_link(prim::proc_file("exe", path, sizeof path), buf, sizeof buf - 1);
    g_exe = n > 0 ? g_arena.dup(buf, size_t(n)) : "";
    if (g_exe == nullptr) g_exe = "";
  }
  return g_exe;
}

int counters_cb(dl_phdr_info* info, size_t, void* data) {
  auto* c = static_cast<unsigned long long*>(data);
  c[0] = info->dlpi_adds;
  c[1] = info->dlpi_subs;
  return 1;  // the counters are the same in every entry: stop at the first
}

void loader_counters(unsigned long long* adds, unsigned long long* subs) {
  unsigned long long c[2] = {0, 0};
  dl_iterate_phdr(counters_cb, c);
  *adds = c[0];
  *subs = c[1];
}

// The GNU build id among the module's loaded notes.
void find_build_id(const dl_phdr_info* info, const uint8_t** id, size_t* len) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    const uint8_t* end = p + ph.p_memsz;
    while (size_t(end - p) >= sizeof(ElfW(Nhdr))) {
      const auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
      size_t name = (nh->n_namesz + 3) & ~size_t(3), desc = (nh->n_descsz + 3) & ~size_t(3);
      const uint8_t* data = p + sizeof(ElfW(Nhdr));
      if (size_t(end - data) < name + desc) break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(data, "GNU", 4) == 0) {
        *id = data + name;
        *len = nh->n_descsz;
        return;
      }
      p = data + name + desc;
    }
  }
}

int module_cb(dl_phdr_info* info, size_t, void*) {
  uintptr_t lo = UINTPTR_MAX, hi = 0, code_lo = UINTPTR_MAX, code_hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t a = info->dlpi_addr + ph.p_vaddr;
    if (a < lo) lo = a;
    if (a + ph.p_memsz > hi) hi = a + ph.p_memsz;
    if ((ph.p_flags & PF_X) != 0) {
      if (a < code_lo) code_lo = a;
      if (a + ph.p_memsz > code_hi) code_hi = a + ph.p_memsz;
    }
  }
  if (lo >= hi) return 0;
  const uint8_t* build_id = nullptr;
  size_t build_id_len = 0;
  find_build_id(info, &build_id, &build_id_len);
  if (g_nmodules == g_cap_modules) {
    size_t cap = g_cap_modules == 0 ? 64 : 2 * g_cap_modules;
    Module* m = static_cast<Module*>(g_arena.alloc(cap * sizeof(Module)));
    if (m == nullptr) return 1;
    if (g_nmodules > 0) memcpy(m, g_modules, g_nmodules * sizeof(Module));
    g_modules = m;
    g_cap_modules = cap;
  }
  const char* name = info->dlpi_name;
  const char* path = name == nullptr || name[0] == '\0' ? exe_path() : g_arena.dup(name);
  g_modules[g_nmodules++] = Module{lo,   hi, info->dlpi_addr, code_lo, code_hi,
                                   path != nullptr ? path : "", build_id, build_id_len};
  return 0;
}

// Re-reads the module list when the loader has loaded or unloaded something since.
void refresh_modules() {
  unsigned long long adds, subs;
  loader_counters(&adds, &subs);
  if (adds == g_mod_adds && subs == g_mod_subs) return;
  g_nmodules = 0;
  dl_iterate_phdr(module_cb, nullptr);
  // Sort by start address (few entries: insertion sort) for binary search.
  for (size_t i = 1; i < g_nmodules; ++i) {
    Module m = g_modules[i];
    size_t j = i;
    for (; j > 0 && g_modules[j - 1].lo > m.lo; --j) g_modules[j] = g_modules[j - 1];
    g_modules[j] = m;
  }
  g_mod_adds = adds;
  g_mod_subs = subs;
}

const Module* find_module(uintptr_t addr) {
  size_t lo = 0, hi = g_nmodules;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (g_modules[mid].lo <= addr) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return nullptr;
  const Module* m = &g_modules[lo - 1];
  return addr < m->hi ? m : nullptr;
}

// ---- libbacktrace ----------------------------------------------------------------------

void bt_error(void*, const char*, int) {}  // missing debug info is normal: stay quiet

// The executable as libbacktrace opens it: /proc/self/exe, which it reads when given no
// name, names nothing once the main thread has ended with pthread_exit (prim::proc_file).
char g_exe_link[40];

backtrace_state* bt_state() {
  if (g_bt == nullptr || g_bt_adds != g_mod_adds) {
    prim::proc_file("exe", g_exe_link, sizeof g_exe_link);
    backtrace_state* s = backtrace_create_state(g_exe_link, 0, bt_error, nullptr);
    if (s != nullptr) {
      g_bt = s;
      g_bt_adds = g_mod_adds;
    }
  }
  return g_bt;
}

// Interned strings by the address libbacktrace gave them: it hands out the same pointer
// for every address in one function or file, so each is demangled and copied once.
struct Interned {
  const char* raw;
  const char* text;
};
Interned* g_names = nullptr;
size_t g_names_cap = 0, g_names_used = 0;

size_t hash_ptr(uintptr_t p, size_t cap) {
  return size_t((uint64_t(p) * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

bool grow_names() {
  size_t cap = g_names_cap == 0 ? 1024 : 2 * g_names_cap;
  Interned* t = map_array<Interned>(cap);
  if (t == nullptr) return false;
  for (size_t i = 0; i < g_names_cap; ++i) {
    if (g_names[i].raw == nullptr) continue;
    size_t s = hash_ptr(uintptr_t(g_names[i].raw), cap);
    while (t[s].raw != nullptr) s = (s + 1) & (cap - 1);
    t[s] = g_names[i];
  }
  unmap_array(g_names, g_names_cap);
  g_names = t;
  g_names_cap = cap;
  return true;
}

char g_name_buf[8192];  // demangler output, guarded by g_lock

// The arena copy of `raw` (demangled when `demangled` is set: function names; file names
// are copied as they are), made once per pointer.
const char* intern(const char* raw, bool demangled) {
  if (raw == nullptr) return nullptr;
  const char* key = raw;
  if (2 * (g_names_used + 1) > g_names_cap && !grow_names()) key = nullptr;
  size_t s = 0;
  if (key != nullptr) {
    for (s = hash_ptr(uintptr_t(key), g_names_cap); g_names[s].raw != nullptr; s = (s + 1) & (g_names_cap - 1))
      if (g_names[s].raw == key) return g_names[s].text;
  }
  const char* text;
  if (demangled) {
    demangle(raw, g_name_buf, sizeof g_name_buf);
    text = g_arena.dup(g_name_buf);
  } else {
    text = g_arena.dup(raw);
  }
  if (key != nullptr && text != nullptr) {
    g_names[s] = Interned{key, text};
    ++g_names_used;
  }
  return text;
}

constexpr int kMaxInline = 32;

struct PcInfo {
  int n;
  const char* function[kMaxInline];
  const char* file[kMaxInline];
  int line[kMaxInline];
};

int pcinfo_cb(void* data, uintptr_t, const char* file, int line, const char* function) {
  auto* pi = static_cast<PcInfo*>(data);
  if (pi->n == kMaxInline) return 1;
  if (file == nullptr && function == nullptr && pi->n > 0) return 0;
  pi->function[pi->n] = function;
  pi->file[pi->n] = file;
  pi->line[pi->n] = line;
  ++pi->n;
  return 0;
}

void syminfo_cb(void* data, uintptr_t, const char* symname, uintptr_t, uintptr_t) {
  *static_cast<const char**>(data) = symname;
}

// The name of the symbol-table entry covering `addr`, or nullptr.
const char* symbol_at(backtrace_state* bt, uintptr_t addr) {
  const char* sym = nullptr;
  backtrace_syminfo(bt, addr, syminfo_cb, bt_error, &sym);
  return sym;
}

// Whether mangled symbol `sym` can name the function debug info calls `plain`: its name
// without the class, namespace or template arguments (`_M_create<...>`, `function<...>`),
// an operator (`operator()`) or a lambda (`<lambda>`), whose mangled forms spell them
// otherwise (`cl`, `UlvE_`).
bool names_same(const char* sym, const char* plain) {
  size_t n = strcspn(plain, "<(");
  if (n == 0 || strncmp(plain, "operator", 8) == 0) return true;
  char base[256];
  if (n >= sizeof base) return false;
  memcpy(base, plain, n);
  base[n] = '\0';
  return strstr(sym, base) != nullptr;
}

// Fills `pi` for the call at `call` inside module `m`'s code.
void lookup_names(const Module* m, uintptr_t call, PcInfo* pi, Detail detail) {
  backtrace_state* bt = bt_state();
  if (bt == nullptr) return;
  if (detail == Detail::Lines) backtrace_pcinfo(bt, call, pcinfo_cb, bt_error, pi);
  // The outermost (not inlined) frame: debug info may lack its name (no -g) or give only
  // the plain name of a function with internal linkage, while the symbol table has the
  // mangled name with parameter types. Prefer that when it names the same function.
  const char* sym = symbol_at(bt, call);
  // A function with internal linkage in a system library: its name is in the separate
  // debug file's symbol table, which libbacktrace is not given by default.
  if (sym == nullptr && (pi->n == 0 || pi->function[pi->n - 1] == nullptr))
    sym = debug_file_symbol(m->build_id, m->build_id_len, call - m->bias);
  if (pi->n == 0) {
    pi->n = 1;
    pi->file[0] = nullptr;
    pi->line[0] = 0;
    pi->function[0] = nullptr;
  }
  const char*& fn = pi->function[pi->n - 1];
  auto mangled = [](const char* name) { return name[0] == '_' && name[1] == 'Z'; };
  if (sym != nullptr && (fn == nullptr || (!mangled(fn) && mangled(sym) && names_same(sym, fn)))) fn = sym;
}

// Whether `pc` is the C library's signal return code (`__restore_rt`: rt_sigreturn), where
// the kernel made a handler return to: the frame above a handler's is the signal frame.
// It has no symbol of its own in a stripped libc; gdb calls it as the report does.
bool signal_return(const Module* m, uintptr_t pc) {
#if defined(__x86_64__)
  static const unsigned char kCode[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};
  return pc >= m->code_lo && pc + sizeof kCode <= m->code_hi &&
         memcmp(reinterpret_cast<const void*>(pc), kCode, sizeof kCode) == 0;
#else
  (void)m;
  (void)pc;
  return false;
#endif
}

SymInfo* lookup(uintptr_t pc, Detail detail) {
  auto* si = static_cast<SymInfo*>(g_arena.alloc(sizeof(SymInfo)));
  if (si == nullptr) return nullptr;
  si->pc = pc;
  si->lines = detail == Detail::Lines;
  uintptr_t call = pc - 1;  // a return address follows its call
  refresh_modules();
  const Module* m = find_module(call);
  PcInfo pi;
  pi.n = 0;
  if (m != nullptr) {
    si->module = m->path;
    si->offset = pc - m->bias;
    // Addresses outside code are never return addresses: debug info would name them
    // wrongly (ranges of discarded sections start at the module's base).
    if (call >= m->code_lo && call < m->code_hi) lookup_names(m, call, &pi, detail);
    if ((pi.n == 0 || (pi.n == 1 && pi.function[0] == nullptr)) && signal_return(m, pc)) {
      pi.n = 1;
      pi.function[0] = "<signal handler called>";
      pi.file[0] = nullptr;
      pi.line[0] = 0;
    }
  }
  SymFrame* f = &si->frame;
  for (int i = 0; i < pi.n; ++i) {
    if (i > 0) {
      auto* nf = static_cast<SymFrame*>(g_arena.alloc(sizeof(SymFrame)));
      if (nf == nullptr) break;
      f->next = nf;
      f = nf;
    }
    f->function = intern(pi.function[i], true);
    f->file = intern(pi.file[i], false);
    f->line = pi.line[i] > 0 ? uint32_t(pi.line[i]) : 0;
  }
  return si;
}

// ---- cache -----------------------------------------------------------------------------

bool grow_table() {
  size_t cap = g_table_cap == 0 ? 4096 : 2 * g_table_cap;
  SymInfo** t = map_array<SymInfo*>(cap);
  if (t == nullptr) return false;
  for (size_t i = 0; i < g_table_cap; ++i) {
    SymInfo* e = g_table[i];
    if (e == nullptr) continue;
    size_t s = hash_ptr(e->pc, cap);
    while (t[s] != nullptr) s = (s + 1) & (cap - 1);
    t[s] = e;
  }
  unmap_array(g_table, g_table_cap);
  g_table = t;
  g_table_cap = cap;
  return true;
}

SymInfo g_unknown;  // handed out when memory runs out

}  // namespace

bool demangle(const char* name, char* out, size_t cap) {
  struct Buf {
    char* p;
    size_t len, cap;
  } b{out, 0, cap};
  auto append = [](const char* s, size_t n, void* opaque) {
    auto* b = static_cast<Buf*>(opaque);
    size_t room = b->cap - 1 - b->len;
    if (n > room) n = room;
    memcpy(b->p + b->len, s, n);
    b->len += n;
  };
  if (cap == 0) return false;
  out[0] = '\0';
  // Rust's names first: its legacy ones are C++ names with a hash for a last component
  // (`::h0123456789abcdef`), which its demangler drops; its v0 names start with _R.
  bool mangled = name[0] == '_' && (name[1] == 'R' || name[1] == 'Z') &&
                 rust_demangle_callback(name, DMGL_PARAMS | DMGL_ANSI, append, &b) != 0;
  if (!mangled) {
    b.len = 0;
    mangled = name[0] == '_' && name[1] == 'Z' &&
              cplus_demangle_v3_callback(name, DMGL_PARAMS | DMGL_ANSI, append, &b) != 0;
  }
  if (!mangled) {
    b.len = 0;
    append(name, strlen(name), &b);
  }
  out[b.len] = '\0';
  return mangled;
}

const SymInfo* symbolize(uintptr_t pc, Detail detail) {
  prim::Guard g(g_lock);
  if (2 * (g_table_used + 1) > g_table_cap && !grow_table()) {
    g_unknown.pc = pc;
    return &g_unknown;
  }
  size_t s = hash_ptr(pc, g_table_cap);
  for (; g_table[s] != nullptr; s = (s + 1) & (g_table_cap - 1))
    if (g_table[s]->pc == pc) break;
  SymInfo* old = g_table[s];
  if (old != nullptr && (old->lines || detail == Detail::Functions)) return old;
  // New, or known by its function only and now wanted with lines: the older entry stays
  // valid for whoever holds it.
  SymInfo* si = lookup(pc, detail);
  if (si == nullptr) {
    if (old != nullptr) return old;
    g_unknown.pc = pc;
    return &g_unknown;
  }
  if (old == nullptr) ++g_table_used;
  g_table[s] = si;
  return si;
}

bool module_of(uintptr_t addr, uintptr_t* lo, uintptr_t* hi, const char** path) {
  prim::Guard g(g_lock);
  refresh_modules();
  const Module* m = find_module(addr);
  if (m == nullptr) return false;
  *lo = m->lo;
  *hi = m->hi;
  *path = m->path;
  return true;
}

bool module_build_id(uintptr_t addr, const uint8_t** id, size_t* len) {
  prim::Guard g(g_lock);
  refresh_modules();
  const Module* m = find_module(addr);
  if (m == nullptr || m->build_id == nullptr || m->build_id_len == 0) return false;
  *id = m->build_id;
  *len = m->build_id_len;
  return true;
}

const char* executable_path() {
  prim::Guard g(g_lock);
  return exe_path();
}

size_t symbolize_cached() {
  prim::Guard g(g_lock);
  return g_table_used;
}

void symbolize_after_fork_child() { g_lock.reset(); }

void symbolize_reset() {
  prim::Guard g(g_lock);
  unmap_array(g_table, g_table_cap);
  g_table = nullptr;
  g_table_cap = g_table_used = 0;
  unmap_array(g_names, g_names_cap);
  g_names = nullptr;
  g_names_cap = g_names_used = 0;
  g_modules = nullptr;
  g_nmodules = g_cap_modules = 0;
  g_mod_adds = g_mod_subs = ~0ull;
  g_exe = nullptr;
  g_arena.release();
  g_bt = nullptr;
  g_bt_adds = ~0ull;
}

}  // namespace mpshim::report
