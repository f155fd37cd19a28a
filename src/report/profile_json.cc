#include "report/profile_json.h"

#include "config/options.h"
#include "prim/file.h"
#include "prim/fmt.h"
#include "prim/os.h"
#include "report/arena.h"
#include "report/leaks.h"
#include "report/symbolize.h"
#include "track/profile.h"
#include "track/track.h"

namespace mpshim::report {

namespace {

namespace pf = track::profile;

struct Row {
  uint32_t stack;
  pf::Side side;
  pf::SiteFigures f;
};

struct Rows {
  Row* items;
  size_t len, cap;
  pf::Side side;
};

void count_row(uint32_t, const pf::SiteFigures&, void* ctx) { ++static_cast<Rows*>(ctx)->cap; }

void add_row(uint32_t stack, const pf::SiteFigures& f, void* ctx) {
  auto* r = static_cast<Rows*>(ctx);
  if (r->len < r->cap) r->items[r->len++] = Row{stack, r->side, f};
}

// Return address -> its run of entries in the frames table (an inlined call gives
// several), by open addressing.
struct PcSlot {
  uintptr_t pc;  // 0: empty
  uint32_t first, count;
};

struct PcIndex {
  PcSlot* slots = nullptr;
  size_t mask = 0;
  uint32_t next = 0;  // entries in the frames table so far

  bool init(size_t pcs) {
    size_t n = 64;
    while (n < 2 * pcs) n *= 2;
    slots = map_array<PcSlot>(n);
    mask = n - 1;
    return slots != nullptr;
  }
  void release() { unmap_array(slots, mask + 1); }
  PcSlot* find(uintptr_t pc, bool* fresh) {
    size_t i = (pc * 0x9E3779B97F4A7C15ull) >> 20 & mask;
    while (slots[i].pc != 0 && slots[i].pc != pc) i = (i + 1) & mask;
    *fresh = slots[i].pc == 0;
    slots[i].pc = pc;
    return &slots[i];
  }
};

// The modules the frames name, each once (by the symboliser's path string), with an
// address inside it for its build id.
struct Modules {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr size_t kMax = 4096;
  const char** paths = nullptr;
  uintptr_t* addrs = nullptr;
  size_t n = 0;

  bool init() {
    paths = map_array<const char*>(kMax);
    addrs = map_array<uintptr_t>(kMax);
    return paths != nullptr && addrs != nullptr;
  }
  void add(const SymInfo* si) {
    if (si->module == nullptr || paths == nullptr || addrs == nullptr) return;
    for (size_t i = n; i-- > 0;)
      if (paths[i] == si->module) return;
    if (n == kMax) return;
    paths[n] = si->module;
    addrs[n++] = si->pc - 1;
  }
  void write(prim::Writer& w) const {
    for (size_t i = 0; i < n; ++i) {
      w.str(i == 0 ? "\n{\"path\":" : ",\n{\"path\":").json_str(paths[i]).str(",\"build_id\":");
      const uint8_t* id;
      size_t len;
      if (module_build_id(addrs[i], &id, &len)) {
        w.chr('"');
        for (size_t k = 0; k < len; ++k) w.chr(kHex[id[k] >> 4]).chr(kHex[id[k] & 15]);
        w.chr('"');
      } else {
        w.str("null");
      }
      w.chr('}');
    }
  }
  void release() {
    unmap_array(paths, kMax);
    unmap_array(addrs, kMax);
  }
};

// The frames of every pc not yet in the table, as the leak report writes frames, named
// from the symbol tables only: the debug info of a program's every module would cost more
// than the rest of the profile; `mpshim report` adds files and lines.
void write_frames(prim::Writer& w, PcIndex& idx, Modules& mods, const uintptr_t* pcs, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    bool fresh;
    PcSlot* slot = idx.find(pcs[i], &fresh);
    if (!fresh) continue;
    slot->first = idx.next;
    const SymInfo* si = symbolize(pcs[i], Detail::Functions);
    mods.add(si);
    for (const SymFrame* f = &si->frame; f != nullptr; f = f->next) {
      w.str(idx.next == 0 ? "\n{" : ",\n{");
      ++idx.next;
      json_frame(w, pcs[i], si, f);
      w.chr('}');
    }
    slot->count = idx.next - slot->first;
  }
}

void write_site(prim::Writer& w, PcIndex& idx, const Row& r, bool first) {
  w.str(first ? "\n{\"memory\":\"" : ",\n{\"memory\":\"").str(r.side == pf::kHost ? "host" : "device");
  w.str("\",\"stack\":[");
  const uintptr_t* pcs = nullptr;
  size_t n = track::stack_frames(r.stack, &pcs);
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    bool fresh;
    const PcSlot* slot = idx.find(pcs[i], &fresh);
    for (uint32_t k = 0; k < slot->count; ++k) {
      if (any) w.chr(',');
      any = true;
      w.u64(slot->first + k);
    }
  }
  w.str("],\"allocations\":").u64(r.f.allocs).str(",\"bytes_allocated\":").u64(r.f.bytes);
  w.str(",\"temporary\":").u64(r.f.temps).str(",\"peak_bytes\":").i64(r.f.peak);
  w.str(",\"live_at_exit\":").i64(r.f.live).chr('}');
}

void write_totals(prim::Writer& w, const char* name, pf::Side side) {
  pf::Totals t = pf::totals(side);
  w.chr('"').str(name).str("\":{\"allocations\":").u64(t.allocs).str(",\"bytes_allocated\":").u64(t.bytes);
  w.str(",\"temporary\":").u64(t.temps).str(",\"peak_bytes\":").i64(t.peak);
  w.str(",\"peak_time_ns\":").u64(t.peak_time_ns).str(",\"live_at_exit\":").i64(t.live);
  w.str(side == pf::kHost ? ",\"peak_resident\":" : ",\"peak_reserved\":").u64(t.peak_reserved).chr('}');
}

}  // namespace

void write_profile_to(int fd, int pid, const char* exe) {
  pf::finish();
  prim::Writer w(fd);
  w.str("{\"mpshim_profile\":1,\"pid\":").i64(pid).str(",\"exe\":").json_str(exe);
  w.str(",\"stack_depth\":").u64(config::get().stack_depth).str(",\"duration_ns\":").u64(pf::elapsed_ns());
  w.chr(',');
  write_totals(w, "host", pf::kHost);
  w.chr(',');
  write_totals(w, "device", pf::kDevice);

  const pf::Sample* s = nullptr;
  size_t ns = pf::timeline(&s);
  w.str(",\"timeline\":{\"interval_ns\":").u64(pf::interval_ns());
  w.str(",\"columns\":[\"time_ns\",\"host\",\"host_resident\",\"device\",\"device_reserved\"],\"samples\":[");
  for (size_t i = 0; i < ns; ++i) {
    w.str(i == 0 ? "\n[" : ",\n[").u64(s[i].time_ns).chr(',').u64(s[i].host).chr(',').u64(s[i].host_resident);
    w.chr(',').u64(s[i].device).chr(',').u64(s[i].device_reserved).chr(']');
  }
  w.str("]}");

  Rows rows[2] = {{nullptr, 0, 0, pf::kHost}, {nullptr, 0, 0, pf::kDevice}};
  size_t total = 0, pcs_total = 0;
  for (Rows& r : rows) {
    pf::for_each_site(r.side, count_row, &r);
    r.cap += 16;  // sites that appear while this runs
    r.items = map_array<Row>(r.cap);
    if (r.items != nullptr) pf::for_each_site(r.side, add_row, &r);
    total += r.len;
    for (size_t i = 0; i < r.len; ++i) {
      const uintptr_t* pcs;
      pcs_total += track::stack_frames(r.items[i].stack, &pcs);
    }
  }
  PcIndex idx;
  Modules mods;
  bool ok = idx.init(pcs_total) && mods.init() && rows[0].items != nullptr && rows[1].items != nullptr;
  w.str(",\"source_lines\":false,\"frames\":[");
  for (Rows& r : rows) {
    for (size_t i = 0; ok && i < r.len; ++i) {
      const uintptr_t* pcs = nullptr;
      size_t n = track::stack_frames(r.items[i].stack, &pcs);
      write_frames(w, idx, mods, pcs, n);
    }
  }
  w.str("],\"modules\":[");
  mods.write(w);
  w.str("],\"sites\":[");
  bool first = true;
  for (Rows& r : rows) {
    for (size_t i = 0; ok && i < r.len; ++i) {
      write_site(w, idx, r.items[i], first);
      first = false;
    }
  }
  w.str(ok || total == 0 ? "\n]}\n" : "\n],\"incomplete\":true}\n");
  idx.release();
  mods.release();
  for (Rows& r : rows) unmap_array(r.items, r.cap);
}

void write_profile() {
  if (!pf::on()) return;
  const char* path = config::get().profile;
  int pid = prim::os_getpid();
  char buf[4096];
  prim::OpenStatus why = prim::OpenStatus::Failed;
  bool expanded = expand_path(path, pid, buf, sizeof buf);
  // A path without %p is the started program's: any other process writing a profile (one
  // it forked, one MPSHIM_CHILDREN follows) writes PATH.PID beside it, not over it.
  if (expanded && __builtin_strstr(path, "%p") == nullptr && !config::started_program()) {
    size_t n = __builtin_strlen(buf);
    char num[24];
    size_t len = prim::format_u64(num, sizeof num, uint64_t(pid));
    if (n + 1 + len < sizeof buf) {
      buf[n] = '.';
      __builtin_memcpy(buf + n + 1, num, len);
      buf[n + 1 + len] = '\0';
    } else {
      expanded = false;
    }
  }
  int fd = expanded ? prim::open_report_file(buf, prim::os_geteuid(), &why) : -1;
  if (fd < 0) {
    prim::Writer e(2);
    e.str("mpshim: MPSHIM_PROFILE=").str(expanded ? buf : path);
    if (why == prim::OpenStatus::Symlink) e.str(" is a symbolic link; not following it");
    else if (why == prim::OpenStatus::NotOwned) e.str(" belongs to another user; not overwriting it");
    else e.str(": cannot open it");
    e.str("; no profile written\n");
    return;
  }
  write_profile_to(fd, pid, executable_path());
  prim::os_close(fd);
}

}  // namespace mpshim::report
