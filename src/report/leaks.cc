#include "report/leaks.h"

#include <dlfcn.h>
#include <link.h>

#include "config/options.h"
#include "prim/file.h"
#include "prim/fmt.h"
#include "prim/os.h"
#include "report/sort.h"
#include "report/suppress.h"
#include "report/symbolize.h"

namespace mpshim::report {

namespace {

StackSource g_source{track::stack_frames, track::stack_count};

// Frames of one stack symbolised at once for suppression matching (MPSHIM_STACK_DEPTH is
// at most 64).
constexpr size_t kMaxFrames = 256;

struct Group {
  uint64_t bytes, count;
  uint32_t stack;
  track::Kind kind;
  LeakClass cls;
  track::Memory mem;
};

uint64_t block_key(const Block& b) {
  return uint64_t(b.mem) << 42 | uint64_t(b.cls) << 40 | uint64_t(b.stack) << 8 | uint64_t(b.kind);
}

// Listing order: direct, then indirect, then reachable (as LeakSanitizer lists direct
// leaks first); within a class the most bytes first; ties broken so output is stable.
bool listed_before(const Group& a, const Group& b) {
  if (a.cls != b.cls) return a.cls < b.cls;
  if (a.bytes != b.bytes) return a.bytes > b.bytes;
  if (a.count != b.count) return a.count > b.count;
  if (a.stack != b.stack) return a.stack < b.stack;
  if (a.kind != b.kind) return a.kind < b.kind;
  return a.mem < b.mem;
}

const char* class_word(LeakClass c) {
  switch (c) {
    case LeakClass::Direct: return "direct";
    case LeakClass::Indirect: return "indirect";
    default: return "reachable";
  }
}

const char* class_title(LeakClass c) {
  switch (c) {
    case LeakClass::Direct: return "Direct leak of ";
    case LeakClass::Indirect: return "Indirect leak of ";
    default: return "Still reachable: ";
  }
}

// ---- text ------------------------------------------------------------------------------

void text_frames(prim::Writer& w, const uintptr_t* pcs, size_t n) {
  if (n == 0) {
    w.str("    (no stack recorded)\n");
    return;
  }
  uint64_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    const SymInfo* si = symbolize(pcs[i]);
    for (const SymFrame* f = &si->frame; f != nullptr; f = f->next) {
      w.str("    #").u64(k++).chr(' ').hex(pcs[i]).str(" in ");
      w.str(f->function != nullptr ? f->function : "??");
      if (si->module != nullptr) w.chr(' ').str(si->module).chr('+').hex(si->offset);
      if (f->file != nullptr) {
        w.chr(' ').str(f->file);
        if (f->line != 0) w.chr(':').u64(f->line);
      }
      w.chr('\n');
    }
  }
}

void text_group(prim::Writer& w, const Group& g) {
  w.str(class_title(g.cls)).u64(g.bytes).str(" byte(s) in ").u64(g.count).str(" object(s)");
  if (g.mem != track::Memory::Host) w.str(" of ").str(track::memory_name(g.mem)).str(" memory");
  w.str(" allocated with ").str(track::kind_name(g.kind)).str(" from:\n");
  text_stack(w, g.stack);
  w.chr('\n');
}

// The last line, naming the program: under a build or a test script several processes may
// report to one terminal.
void text_summary(prim::Writer& w, const Totals& t, bool reachable, const char* exe, uint64_t errors) {
  int d = int(LeakClass::Direct), i = int(LeakClass::Indirect), r = int(LeakClass::Reachable);
  w.str("SUMMARY: mpshim: ").u64(t.bytes[d] + t.bytes[i]).str(" byte(s) leaked in ");
  w.u64(t.blocks[d] + t.blocks[i]).str(" allocation(s): direct ").bytes(t.bytes[d]);
  w.str(" in ").u64(t.blocks[d]).str(", indirect ").bytes(t.bytes[i]).str(" in ").u64(t.blocks[i]);
  if (reachable) w.str(", reachable ").bytes(t.bytes[r]).str(" in ").u64(t.blocks[r]);
  if (t.suppressed_blocks != 0)
    w.str(", suppressed ").bytes(t.suppressed_bytes).str(" in ").u64(t.suppressed_blocks);
  if (errors != 0) w.str(", ").u64(errors).str(" memory error(s)");
  w.str(" (").u64(t.groups_listed).str(" of ").u64(t.groups_total).str(" groups listed)");
  const char* name = exe;
  for (const char* c = exe; *c != '\0'; ++c)
    if (*c == '/') name = c + 1;
  if (*name != '\0') w.str(" in ").str(name);
  w.chr('\n');
}

void text_suppressions(prim::Writer& w, const Suppressions* s) {
  if (s == nullptr) return;
  bool any = false;
  for (size_t i = 0; i < s->size(); ++i) {
    if (s->hit_blocks(i) == 0) continue;
    if (!any) w.str("Suppressions used:\n  objects    bytes      pattern\n");
    any = true;
    w.str("  ").u64(s->hit_blocks(i)).chr(' ').pad_to(13).u64(s->hit_bytes(i)).chr(' ').pad_to(24);
    w.str(s->pattern(i)).chr('\n');
  }
  if (any) w.chr('\n');
}

void write_text(prim::Writer& w, const Group* g, const Totals& t, const ReportOptions& o) {
  int d = int(LeakClass::Direct), i = int(LeakClass::Indirect);
  bool leaks = t.blocks[d] + t.blocks[i] != 0;
  w.str("==").i64(o.pid).str("== mpshim: ").str(leaks ? "leak report" : "no leaks found");
  w.str("\n\n");
  for (uint64_t k = 0; k < t.groups_listed; ++k) text_group(w, g[k]);
  if (t.groups_listed < t.groups_total) {
    w.str("... ").u64(t.groups_total - t.groups_listed);
    w.str(" more group(s) not listed (MPSHIM_REPORT_MAX)\n\n");
  }
  text_suppressions(w, o.suppressions);
  text_summary(w, t, o.reachable, o.exe, o.errors);
}

// ---- JSON ------------------------------------------------------------------------------

void json_or_null(prim::Writer& w, const char* s) {
  if (s != nullptr) w.json_str(s);
  else w.str("null");
}

void json_group(prim::Writer& w, const Group& g) {
  w.str("{\"class\":\"").str(class_word(g.cls)).str("\",\"bytes\":").u64(g.bytes);
  w.str(",\"count\":").u64(g.count).str(",\"function\":").json_str(track::kind_name(g.kind));
  w.str(",\"memory\":\"").str(track::memory_name(g.mem)).chr('"');
  w.str(",\"stack\":");
  json_stack(w, g.stack);
  w.chr('}');
}

}  // namespace

void text_stack(prim::Writer& w, uint32_t id) {
  const uintptr_t* pcs = nullptr;
  size_t n = g_source.frames(id, &pcs);
  text_frames(w, pcs, n);
}

void json_frame(prim::Writer& w, uintptr_t pc, const SymInfo* si, const SymFrame* f) {
  w.str("\"pc\":\"").hex(pc).str("\",\"function\":");
  json_or_null(w, f->function);
  w.str(",\"module\":");
  json_or_null(w, si->module);
  w.str(",\"offset\":");
  if (si->module != nullptr) w.chr('"').hex(si->offset).chr('"');
  else w.str("null");
  w.str(",\"file\":");
  json_or_null(w, f->file);
  w.str(",\"line\":");
  if (f->file != nullptr && f->line != 0) w.u64(f->line);
  else w.str("null");
  if (f->next != nullptr) w.str(",\"inlined\":true");
}

void json_stack(prim::Writer& w, uint32_t id) {
  w.chr('[');
  const uintptr_t* pcs = nullptr;
  size_t n = g_source.frames(id, &pcs);
  bool first = true;
  for (size_t i = 0; i < n; ++i) {
    const SymInfo* si = symbolize(pcs[i]);
    for (const SymFrame* f = &si->frame; f != nullptr; f = f->next) {
      w.str(first ? "{" : ",{");
      first = false;
      json_frame(w, pcs[i], si, f);
      w.chr('}');
    }
  }
  w.chr(']');
}

namespace {

void json_class(prim::Writer& w, const char* name, const Totals& t, LeakClass c) {
  int k = int(c);
  w.chr('"').str(name).str("\":{\"bytes\":").u64(t.bytes[k]).str(",\"blocks\":").u64(t.blocks[k]);
  w.str(",\"groups\":").u64(t.groups[k]).str("},");
}

void write_json(prim::Writer& w, const Group* g, const Totals& t, const ReportOptions& o) {
  w.str("{\"mpshim_report\":1,\"pid\":").i64(o.pid).str(",\"exe\":").json_str(o.exe);
  w.str(",\"summary\":{");
  json_class(w, "direct", t, LeakClass::Direct);
  json_class(w, "indirect", t, LeakClass::Indirect);
  json_class(w, "reachable", t, LeakClass::Reachable);
  w.str("\"suppressed\":{\"bytes\":").u64(t.suppressed_bytes).str(",\"blocks\":");
  w.u64(t.suppressed_blocks).str("},\"groups_listed\":").u64(t.groups_listed);
  w.str(",\"groups_total\":").u64(t.groups_total).str(",\"errors\":").u64(o.errors);
  w.str("},\"suppressions\":[");
  const Suppressions* s = o.suppressions;
  bool first = true;
  for (size_t i = 0; s != nullptr && i < s->size(); ++i) {
    if (s->hit_blocks(i) == 0) continue;
    w.str(first ? "{\"pattern\":" : ",{\"pattern\":").json_str(s->pattern(i));
    w.str(",\"bytes\":").u64(s->hit_bytes(i)).str(",\"blocks\":").u64(s->hit_blocks(i)).chr('}');
    first = false;
  }
  w.str("],\"leaks\":[");
  for (uint64_t k = 0; k < t.groups_listed; ++k) {
    w.str(k == 0 ? "\n" : ",\n");
    json_group(w, g[k]);
  }
  w.str("\n]}\n");
}

// ---- folded stacks ---------------------------------------------------------------------

// A frame name for a folded line: ';' separates frames and the line ends with a count,
// so ';' and newlines inside names become ':' and ' '.
void folded_name(prim::Writer& w, const char* s) {
  for (; *s != '\0'; ++s) w.chr(*s == ';' ? ':' : (*s == '\n' ? ' ' : *s));
}

void folded_group(prim::Writer& w, const Group& g) {
  const uintptr_t* pcs = nullptr;
  size_t n = g_source.frames(g.stack, &pcs);
  bool first = true;
  for (size_t i = n; i-- > 0;) {
    const SymInfo* si = symbolize(pcs[i]);
    const SymFrame* chain[64];  // inlined chain, innermost first; printed outermost first
    size_t m = 0;
    for (const SymFrame* f = &si->frame; f != nullptr && m < 64; f = f->next) chain[m++] = f;
    while (m-- > 0) {
      if (!first) w.chr(';');
      first = false;
      if (chain[m]->function != nullptr) {
        folded_name(w, chain[m]->function);
      } else if (si->module != nullptr) {
        folded_name(w, si->module);
        w.chr('+').hex(si->offset);
      } else {
        w.hex(pcs[i]);
      }
    }
  }
  if (first) w.str("(no stack)");
  // Memory other than the host's gets a leaf of its own, so a flame graph sets it apart.
  if (g.mem != track::Memory::Host) w.str(";[").str(track::memory_name(g.mem)).str(" memory]");
  w.chr(' ').u64(g.bytes).chr('\n');
}

// ---- output files ----------------------------------------------------------------------

// One line saying why a report file was not written and that stderr gets it instead.
void warn_open(const char* var, const char* path, prim::OpenStatus why) {
  prim::Writer w(2);
  w.str("mpshim: ").str(var).chr('=').str(path);
  switch (why) {
    case prim::OpenStatus::Symlink: w.str(" is a symbolic link; not following it"); break;
    case prim::OpenStatus::NotOwned: w.str(" belongs to another user; not overwriting it"); break;
    default: w.str(": cannot open it"); break;
  }
  w.str(", writing to stderr\n");
}

bool is_stderr(const char* path) {
  return __builtin_strcmp(path, "stderr") == 0 || __builtin_strcmp(path, "/dev/stderr") == 0;
}

// A path without %p names one file for every process followed (a test runner and its
// tests): the program started empties it at its start (start_shared_files) and each
// process appends its report, under a lock so that reports written at once do not mix.
bool shared_path(const char* path) {
  for (const char* p = path; *p != '\0'; ++p) {
    if (p[0] == '%' && p[1] == 'p') return false;
    if (p[0] == '%' && p[1] == '%') ++p;
  }
  return true;
}

// Opens a report destination: "stderr" (or /dev/stderr) is fd 2; an empty path is fd 2 for
// the report (`optional` false) and no output (-1) for an optional one; fd 2 when it fails,
// with `*fell_back` set (when given).
int open_output(const char* path, int pid, const char* var, bool optional, bool append = false,
                bool* fell_back = nullptr) {
  if (path[0] == '\0') return optional ? -1 : 2;
  if (is_stderr(path)) return 2;
  char buf[4096];
  prim::OpenStatus why = prim::OpenStatus::Failed;
  bool expanded = expand_path(path, pid, buf, sizeof buf);
  bool shared = shared_path(path);
  int fd = expanded ? prim::open_report_file(buf, prim::os_geteuid(), &why, append || shared) : -1;
  if (fd < 0) {
    warn_open(var, expanded ? buf : path, why);
    if (fell_back != nullptr) *fell_back = true;
    return 2;
  }
  if (shared) prim::lock_file(fd);
  return fd;
}

void empty_shared_file(const char* path) {
  if (path[0] == '\0' || is_stderr(path) || !shared_path(path)) return;
  char buf[4096];
  prim::OpenStatus why = prim::OpenStatus::Failed;
  // A file that cannot be emptied is left as it is: the report says why at exit.
  int fd = expand_path(path, 0, buf, sizeof buf) ? prim::open_report_file(buf, prim::os_geteuid(), &why) : -1;
  if (fd >= 0) prim::os_close(fd);
}

}  // namespace

void start_shared_files() {
  const config::Config& c = config::get();
  empty_shared_file(c.report);
  empty_shared_file(c.folded);
}

int open_report(int pid, bool append) {
  return open_output(config::get().report, pid, "MPSHIM_REPORT", false, append);
}

void set_stack_source(const StackSource* s) {
  g_source = s != nullptr ? *s : StackSource{track::stack_frames, track::stack_count};
}

bool expand_path(const char* tmpl, int pid, char* out, size_t cap) {
  size_t n = 0;
  for (const char* p = tmpl; *p != '\0'; ++p) {
    char num[24];
    const char* s = p;
    size_t len = 1;
    if (p[0] == '%' && p[1] == 'p') {
      len = prim::format_u64(num, sizeof num, uint64_t(pid));
      s = num;
      ++p;
    } else if (p[0] == '%' && p[1] == '%') {
      ++p;
    }
    if (n + len >= cap) return false;
    for (size_t i = 0; i < len; ++i) out[n++] = s[i];
  }
  if (cap == 0) return false;
  out[n] = '\0';
  return true;
}

bool write_leak_report_to(Block* blocks, size_t n, const ReportOptions& o, Totals* out) {
  Totals t{};
  radix_sort(blocks, n, block_key);
  Group none;  // a clean process maps nothing
  Group* groups = n == 0 ? &none : map_array<Group>(n);
  if (groups == nullptr) {
    prim::Writer(2).str("mpshim: out of memory for the leak report\n");
    bool leaks = false;
    for (size_t i = 0; i < n; ++i) leaks |= blocks[i].cls != LeakClass::Reachable;
    if (out != nullptr) *out = t;
    return leaks;
  }
  // One group per run of equal keys; suppressed and hidden groups are counted, and the
  // ones to list are compacted to the front.
  size_t listed = 0;
  Suppressions* supp = o.suppressions != nullptr && o.suppressions->size() > 0 ? o.suppressions : nullptr;
  for (size_t i = 0; i < n;) {
    uint64_t key = block_key(blocks[i]);
    Group g{0, 0, blocks[i].stack, blocks[i].kind, blocks[i].cls, blocks[i].mem};
    for (; i < n && block_key(blocks[i]) == key; ++i) {
      g.bytes += blocks[i].size;
      ++g.count;
    }
    bool shown = g.cls != LeakClass::Reachable || o.reachable;
    if (shown && supp != nullptr) {
      const uintptr_t* pcs = nullptr;
      size_t nf = g_source.frames(g.stack, &pcs);
      if (nf > kMaxFrames) nf = kMaxFrames;
      const SymInfo* infos[kMaxFrames];
      for (size_t k = 0; k < nf; ++k) infos[k] = symbolize(pcs[k]);
      long p = supp->match(infos, nf);
      if (p >= 0) {
        supp->add_hit(size_t(p), g.bytes, g.count);
        t.suppressed_bytes += g.bytes;
        t.suppressed_blocks += g.count;
        continue;
      }
    }
    int c = int(g.cls);
    t.bytes[c] += g.bytes;
    t.blocks[c] += g.count;
    ++t.groups[c];
    if (shown) groups[listed++] = g;
  }
  sort(groups, listed, listed_before);
  t.groups_total = listed;
  t.groups_listed = o.max_groups != 0 && o.max_groups < listed ? o.max_groups : listed;
  if (!(o.quiet_when_clean && listed == 0 && t.suppressed_blocks == 0)) {
    ReportOptions named = o;
    if (named.exe == nullptr) named.exe = executable_path();
    // Other processes may write to the same stderr: the names are looked up first, so that
    // its lock is held only while the report is written.
    int lock = -1;
    if (o.fd == 2) {
      for (size_t k = 0; k < t.groups_listed; ++k) {
        const uintptr_t* pcs = nullptr;
        size_t nf = g_source.frames(groups[k].stack, &pcs);
        for (size_t i = 0; i < nf; ++i) symbolize(pcs[i]);
      }
      lock = prim::lock_stream(2);
    }
    {
      prim::Writer w(o.fd);
      if (o.format == Format::Json) write_json(w, groups, t, named);
      else write_text(w, groups, t, named);
    }
    if (lock >= 0) prim::os_close(lock);
  }
  if (o.folded_fd >= 0) {
    prim::Writer w(o.folded_fd);
    for (size_t k = 0; k < listed; ++k) folded_group(w, groups[k]);
  }
  if (n != 0) unmap_array(groups, n);
  if (out != nullptr) *out = t;
  return t.blocks[int(LeakClass::Direct)] + t.blocks[int(LeakClass::Indirect)] != 0;
}

bool write_leak_report(Block* blocks, size_t n, Totals* out, int pid) {
  const config::Config& c = config::get();
  ReportOptions o;
  o.pid = pid;
  o.exe = nullptr;  // a clean process that stays silent never reads it
  o.format = c.report_format == 1 ? Format::Json : Format::Text;
  o.reachable = c.report_reachable;
  o.max_groups = c.report_max;
  o.errors = memory_errors();
  // Memory errors of this process went to the file already: the leak report follows them.
  bool fell_back = false;
  o.fd = open_output(c.report, o.pid, "MPSHIM_REPORT", false, o.errors != 0, &fell_back);
  o.folded_fd = open_output(c.folded, o.pid, "MPSHIM_FOLDED", true);
  // A report meant for a file that stderr gets instead is written in full, as the warning
  // about the file says.
  o.quiet_when_clean = o.fd == 2 && !fell_back && o.format == Format::Text && !c.verbose && o.errors == 0;
  Suppressions supp;
  if (c.suppressions[0] != '\0') {
    if (supp.load(c.suppressions)) {
      o.suppressions = &supp;
    } else {
      prim::Writer(2).str("mpshim: cannot read MPSHIM_SUPPRESSIONS=").str(c.suppressions).chr('\n');
    }
  }
  bool leaks = write_leak_report_to(blocks, n, o, out);
  if (o.fd != 2) prim::os_close(o.fd);
  if (o.folded_fd >= 0 && o.folded_fd != 2) prim::os_close(o.folded_fd);
  supp.release();
  return leaks;
}

void after_fork_child() { symbolize_after_fork_child(); }

void before_module_unload(void* dl_handle) {
  link_map* lm = nullptr;
  if (dl_handle == nullptr || dlinfo(dl_handle, RTLD_DI_LINKMAP, &lm) != 0 || lm == nullptr) return;
  // The dynamic section lies inside the module: it names the module's load range.
  uintptr_t lo = 0, hi = 0;
  const char* path = nullptr;
  if (!module_of(reinterpret_cast<uintptr_t>(lm->l_ld), &lo, &hi, &path)) return;
  uint32_t ids = g_source.count();
  for (uint32_t id = 0; id < ids; ++id) {
    const uintptr_t* pcs = nullptr;
    size_t nf = g_source.frames(id, &pcs);
    for (size_t k = 0; k < nf; ++k)
      if (pcs[k] > lo && pcs[k] <= hi) symbolize(pcs[k]);  // looked up at pc - 1
  }
}

}  // namespace mpshim::report
