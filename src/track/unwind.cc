#include "track/unwind.h"

#include <link.h>
#if defined(__x86_64__)
#include <emmintrin.h>  // the walk cache's key compare
#endif

#include <atomic>
#include <cstring>

#include "prim/defines.h"
#include "prim/os.h"

namespace mpshim::track {

#if defined(__x86_64__)

namespace {

// ---------------------------------------------------------------------------------------
// A frame's rule, packed into 64 bits so the cache publishes it with one store.

enum Kind : uint8_t {
  kUnknown = 0,  // not cached (0 is also the cache's "not ready")
  kCfaSp,        // CFA = rsp + off
  kCfaBp,        // CFA = rbp + off
  kCfaAtBp,      // CFA = *(rbp + off): a function that realigned its stack
  kOutermost,    // the return address is undefined: the first frame of the thread
  kGeneral,      // anything else: left to libunwind
};
enum BpRule : uint8_t {
  kBpSame,   // rbp is unchanged in the caller
  kBpAtCfa,  // the caller's rbp is at CFA + bp_off
  kBpAtBp,   // the caller's rbp is at rbp + bp_off (realigned stacks)
  kBpLost,   // the caller's rbp cannot be known
};

struct Rule {
  Kind kind = kGeneral;
  BpRule bp = kBpSame;
  int16_t bp_off = 0;
  int32_t cfa_off = 0;
};

uint64_t pack(Rule r) {
  return uint64_t(r.kind) | uint64_t(r.bp) << 8 | uint64_t(uint16_t(r.bp_off)) << 16 |
         uint64_t(uint32_t(r.cfa_off)) << 32;
}

MPSHIM_INLINE Rule unpack(uint64_t v) {
  return Rule{Kind(v & 0xff), BpRule((v >> 8) & 0xff), int16_t(uint16_t(v >> 16)),
              int32_t(uint32_t(v >> 32))};
}

// ---------------------------------------------------------------------------------------
// The cache: open addressing keyed by return address. A slot's key is claimed with CAS and
// its rule stored after it; a reader that finds the key but no rule yet just misses.
// It is mapped by the first rule found (a process that never captures a stack has none),
// and only the pages that hold rules are ever touched. The leak scan skips it.

constexpr int kCacheBits = 16;
constexpr size_t kCacheMask = (size_t(1) << kCacheBits) - 1;
constexpr int kProbes = 8;

struct Slot {
  std::atomic<uintptr_t> pc;
  std::atomic<uint64_t> rule;
};
constexpr size_t kCacheBytes = sizeof(Slot) << kCacheBits;
std::atomic<Slot*> g_cache{nullptr};
std::atomic<size_t> g_cached{0};

MPSHIM_INLINE size_t home(uintptr_t pc) {
  return size_t((pc * 0x9e3779b97f4a7c15ull) >> (64 - kCacheBits));
}

MPSHIM_INLINE uint64_t cached_rule(uintptr_t pc) {
  Slot* cache = g_cache.load(std::memory_order_acquire);
  if (MPSHIM_UNLIKELY(cache == nullptr)) return 0;
  size_t i = home(pc);
  for (int probe = 0; probe < kProbes; ++probe, i = (i + 1) & kCacheMask) {
    uintptr_t key = cache[i].pc.load(std::memory_order_relaxed);
    if (key == pc) return cache[i].rule.load(std::memory_order_acquire);
    if (key == 0) return 0;
  }
  return 0;
}

Slot* cache_slots() {
  Slot* cache = g_cache.load(std::memory_order_acquire);
  if (cache != nullptr) return cache;
  auto* fresh = static_cast<Slot*>(prim::os_map(kCacheBytes));
  if (fresh == nullptr) return nullptr;
  if (g_cache.compare_exchange_strong(cache, fresh, std::memory_order_acq_rel)) return fresh;
  prim::os_unmap(fresh, kCacheBytes);
  return cache;
}

void cache_rule(uintptr_t pc, uint64_t rule) {
  Slot* cache = cache_slots();
  if (cache == nullptr) return;  // no memory: rules are found again each time, only slower
  size_t i = home(pc);
  for (int probe = 0; probe < kProbes; ++probe, i = (i + 1) & kCacheMask) {
    uintptr_t key = 0;
    if (cache[i].pc.compare_exchange_strong(key, pc, std::memory_order_relaxed)) {
      cache[i].rule.store(rule, std::memory_order_release);
      g_cached.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (key == pc) return;  // another thread cached it
  }
  // Crowded: the rule is found again next time, which is only slower.
}

// ---------------------------------------------------------------------------------------
// Reading .eh_frame. Every read stays inside the FDE or CIE being parsed, whose lengths
// come first; anything unexpected makes the frame kGeneral.

struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;

  bool has(size_t n) {
    if (size_t(end - p) < n) ok = false;
    return ok;
  }
  uint8_t u8() { return has(1) ? *p++ : 0; }
  template <class T>
  T fixed() {
    T v{};
    if (has(sizeof(T))) {
      memcpy(&v, p, sizeof(T));
      p += sizeof(T);
    }
    return v;
  }
  uint64_t uleb() {
    uint64_t v = 0;
    for (int shift = 0; has(1); shift += 7) {
      uint8_t b = *p++;
      if (shift < 64) v |= uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return 0;
  }
  int64_t sleb() {
    int64_t v = 0;
    int shift = 0;
    for (; has(1); shift += 7) {
      uint8_t b = *p++;
      if (shift < 64) v |= int64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (shift + 7 < 64 && (b & 0x40) != 0) v |= -(int64_t(1) << (shift + 7));
        return v;
      }
    }
    return 0;
  }
  // A pointer in DW_EH_PE encoding `enc`. Only absolute, pc-relative and (with `data`)
  // data-relative values occur in unwind tables; indirect ones (the personality routine)
  // are read but never dereferenced.
  uintptr_t encoded(uint8_t enc, uintptr_t data = 0) {
    if (enc == 0xff) return 0;  // omitted
    auto here = reinterpret_cast<uintptr_t>(p);
    uintptr_t v = 0;
    switch (enc & 0x0f) {
      case 0x00: v = fixed<uint64_t>(); break;
      case 0x01: v = uleb(); break;
      case 0x02: v = fixed<uint16_t>(); break;
      case 0x03: v = fixed<uint32_t>(); break;
      case 0x04: v = fixed<uint64_t>(); break;
      case 0x09: v = uintptr_t(sleb()); break;
      case 0x0a: v = uintptr_t(int64_t(fixed<int16_t>())); break;
      case 0x0b: v = uintptr_t(int64_t(fixed<int32_t>())); break;
      case 0x0c: v = uintptr_t(fixed<int64_t>()); break;
      default: ok = false; return 0;
    }
    switch (enc & 0x70) {
      case 0x00: break;
      case 0x10: v += here; break;
      case 0x30:
        if (data == 0) ok = false;
        v += data;
        break;
      default: ok = false;
    }
    return v;
  }
};

// Reads the length word of a CIE or FDE at `p` and bounds a reader to it.
bool open_entry(const uint8_t* p, Reader* r) {
  uint32_t len;
  memcpy(&len, p, 4);
  if (len == 0 || len == 0xffffffffu) return false;  // terminator, or 64-bit DWARF
  *r = Reader{p + 4, p + 4 + len};
  return true;
}

struct Cie {
  uint64_t code_align = 1;
  int64_t data_align = 1;
  uint8_t fde_enc = 0;
  bool augmented = false;  // "z": FDEs carry an augmentation length
  bool signal = false;     // "S": frames of signal trampolines
  Reader insns{nullptr, nullptr};
};

bool parse_cie(const uint8_t* at, Cie* c) {
  Reader r{nullptr, nullptr};
  if (!open_entry(at, &r) || r.fixed<uint32_t>() != 0) return false;
  uint8_t version = r.u8();
  if (version != 1 && version != 3 && version != 4) return false;
  auto aug = reinterpret_cast<const char*>(r.p);
  size_t aug_len = strnlen(aug, size_t(r.end - r.p));
  if (!r.has(aug_len + 1)) return false;
  r.p += aug_len + 1;
  if (version == 4) r.p += 2;  // address and segment selector sizes
  c->code_align = r.uleb();
  c->data_align = r.sleb();
  uint64_t ra = version == 1 ? r.u8() : r.uleb();
  if (ra != 16) return false;
  if (aug[0] == 'z') {
    c->augmented = true;
    uint64_t len = r.uleb();
    const uint8_t* data_end = r.p + len;
    for (const char* a = aug + 1; *a != 0 && r.ok; ++a) {
      switch (*a) {
        case 'R': c->fde_enc = r.u8(); break;
        case 'P': r.encoded(r.u8() & 0x7f); break;
        case 'L': r.u8(); break;
        case 'S': c->signal = true; break;
        case 'B': break;
        default: return false;
      }
    }
    r.p = data_end;
  } else if (aug[0] != 0) {
    return false;
  }
  if (!r.ok || r.p > r.end) return false;
  c->insns = Reader{r.p, r.end};
  return true;
}

// ---------------------------------------------------------------------------------------
// The CFA program, reduced to what the walk needs: the CFA, rbp and the return address.

enum How : uint8_t { kSame, kUndefined, kAtCfa, kAtBp, kOther };
struct RegRule {
  How how = kSame;
  int64_t off = 0;
};
struct Row {
  enum CfaHow : uint8_t { kRegOff, kDerefBp, kExpr } cfa_how = kRegOff;
  uint64_t cfa_reg = 7;
  int64_t cfa_off = 8;
  RegRule bp, ra;
};

constexpr uint64_t kRegBp = 6, kRegSp = 7, kRegRa = 16;
constexpr int kStateDepth = 8;

RegRule* rule_of(Row& row, uint64_t reg) {
  if (reg == kRegBp) return &row.bp;
  if (reg == kRegRa) return &row.ra;
  return nullptr;
}

// DW_CFA_restore: back to the rule the CIE set up.
void restore(Row& row, const Row& init, uint64_t reg) {
  if (reg == kRegBp) row.bp = init.bp;
  if (reg == kRegRa) row.ra = init.ra;
}

// Runs the instructions in `r` from address `loc` while loc <= target. `init` is the row
// after the CIE's initial instructions (for DW_CFA_restore). False on anything unusual.
bool run(Reader r, const Cie& cie, uintptr_t loc, uintptr_t target, Row* row, const Row& init) {
  Row saved[kStateDepth];
  int depth = 0;
  while (r.p < r.end && r.ok) {
    uint8_t op = r.u8();
    uint64_t reg = 0, advance = 0;
    int64_t off = 0;
    switch (op >> 6) {
      case 1: advance = op & 0x3f; break;
      case 2:
        reg = op & 0x3f;
        off = int64_t(r.uleb()) * cie.data_align;
        if (RegRule* rr = rule_of(*row, reg)) *rr = {kAtCfa, off};
        else if (reg == kRegSp) return false;
        continue;
      case 3:
        restore(*row, init, op & 0x3f);
        continue;
      default: break;
    }
    if (op >> 6 == 0) {
      switch (op) {
        case 0x00: continue;  // nop
        case 0x01: return false;  // set_loc: not produced by compilers for .eh_frame
        case 0x02: advance = r.u8(); break;
        case 0x03: advance = r.fixed<uint16_t>(); break;
        case 0x04: advance = r.fixed<uint32_t>(); break;
        case 0x05:  // offset_extended
        case 0x11:  // offset_extended_sf
        case 0x2f:  // GNU_negative_offset_extended
          reg = r.uleb();
          off = op == 0x05 ? int64_t(r.uleb()) * cie.data_align
                : op == 0x11 ? r.sleb() * cie.data_align
                             : -int64_t(r.uleb()) * cie.data_align;
          if (RegRule* rr = rule_of(*row, reg)) *rr = {kAtCfa, off};
          else if (reg == kRegSp) return false;
          continue;
        case 0x06:  // restore_extended
          restore(*row, init, r.uleb());
          continue;
        case 0x07:  // undefined
        case 0x08:  // same_value
          reg = r.uleb();
          if (RegRule* rr = rule_of(*row, reg)) *rr = {op == 0x07 ? kUndefined : kSame, 0};
          continue;
        case 0x09:  // register
          reg = r.uleb();
          r.uleb();
          if (RegRule* rr = rule_of(*row, reg)) rr->how = kOther;
          else if (reg == kRegSp) return false;
          continue;
        case 0x0a:  // remember_state
          if (depth == kStateDepth) return false;
          saved[depth++] = *row;
          continue;
        case 0x0b:  // restore_state
          if (depth == 0) return false;
          *row = saved[--depth];
          continue;
        case 0x0c:  // def_cfa
          row->cfa_how = Row::kRegOff;
          row->cfa_reg = r.uleb();
          row->cfa_off = int64_t(r.uleb());
          continue;
        case 0x12:  // def_cfa_sf
          row->cfa_how = Row::kRegOff;
          row->cfa_reg = r.uleb();
          row->cfa_off = r.sleb() * cie.data_align;
          continue;
        case 0x0d: row->cfa_reg = r.uleb(); continue;  // def_cfa_register
        case 0x0e: row->cfa_off = int64_t(r.uleb()); continue;  // def_cfa_offset
        case 0x13: row->cfa_off = r.sleb() * cie.data_align; continue;  // def_cfa_offset_sf
        case 0x0f: {  // def_cfa_expression: only "*(rbp + k)" is understood
          uint64_t len = r.uleb();
          if (!r.has(len)) return false;
          Reader e{r.p, r.p + len};
          r.p += len;
          row->cfa_how = Row::kExpr;
          if (e.u8() == 0x76) {  // DW_OP_breg6
            int64_t k = e.sleb();
            if (e.u8() == 0x06 && e.p == e.end && e.ok) {  // DW_OP_deref, and nothing more
              row->cfa_how = Row::kDerefBp;
              row->cfa_off = k;
            }
          }
          continue;
        }
        case 0x10:    // expression: for rbp only "at rbp + k" is understood
        case 0x16: {  // val_expression
          reg = r.uleb();
          uint64_t len = r.uleb();
          if (!r.has(len)) return false;
          Reader e{r.p, r.p + len};
          r.p += len;
          RegRule* rr = rule_of(*row, reg);
          if (rr == nullptr) {
            if (reg == kRegSp) return false;
            continue;
          }
          rr->how = kOther;
          if (op == 0x10 && reg == kRegBp && e.u8() == 0x76) {
            int64_t k = e.sleb();
            if (e.p == e.end && e.ok) *rr = {kAtBp, k};
          }
          continue;
        }
        case 0x14:  // val_offset
        case 0x15:  // val_offset_sf
          reg = r.uleb();
          if (op == 0x14) r.uleb();
          else r.sleb();
          if (RegRule* rr = rule_of(*row, reg)) rr->how = kOther;
          else if (reg == kRegSp) return false;
          continue;
        case 0x2e: r.uleb(); continue;  // GNU_args_size
        default: return false;
      }
    }
    loc += advance * cie.code_align;
    if (loc > target) break;
  }
  return r.ok;
}

Rule to_rule(const Row& row) {
  Rule out;  // kGeneral
  if (row.ra.how == kUndefined) {
    out.kind = kOutermost;
    return out;
  }
  if (row.ra.how != kAtCfa || row.ra.off != -8) return out;
  switch (row.bp.how) {
    case kSame: out.bp = kBpSame; break;
    case kUndefined: out.bp = kBpLost; break;
    case kAtCfa: out.bp = kBpAtCfa; break;
    case kAtBp: out.bp = kBpAtBp; break;
    default: return out;
  }
  if (out.bp == kBpAtCfa || out.bp == kBpAtBp) {
    if (row.bp.off < -32768 || row.bp.off > 32767) return out;
    out.bp_off = int16_t(row.bp.off);
  }
  if (row.cfa_off < INT32_MIN || row.cfa_off > INT32_MAX) return out;
  out.cfa_off = int32_t(row.cfa_off);
  if (row.cfa_how == Row::kDerefBp) out.kind = kCfaAtBp;
  else if (row.cfa_how == Row::kRegOff && row.cfa_reg == kRegSp) out.kind = kCfaSp;
  else if (row.cfa_how == Row::kRegOff && row.cfa_reg == kRegBp) out.kind = kCfaBp;
  return out;
}

// The rule at `pc` (a return address, so the call is at pc - 1) from the FDE at `fde`.
Rule rule_from_fde(const uint8_t* fde, uintptr_t pc) {
  Reader r{nullptr, nullptr};
  if (!open_entry(fde, &r)) return {};
  const uint8_t* field = r.p;
  uint32_t cie_off = r.fixed<uint32_t>();
  Cie cie;
  if (cie_off == 0 || !parse_cie(field - cie_off, &cie) || cie.signal) return {};
  uintptr_t begin = r.encoded(cie.fde_enc);
  uintptr_t range = r.encoded(cie.fde_enc & 0x0f);
  if (!r.ok || pc - 1 - begin >= range) return {};
  if (cie.augmented) {
    uint64_t len = r.uleb();
    if (!r.has(len)) return {};
    r.p += len;
  }
  Row init;
  init.ra = {kAtCfa, -8};  // overwritten by the CIE, as it always sets it
  if (!run(cie.insns, cie, 0, ~uintptr_t(0), &init, init)) return {};
  Row row = init;
  if (!run(r, cie, begin, pc - 1, &row, init)) return {};
  return to_rule(row);
}

// The FDE for pc through the module's .eh_frame_hdr binary search table.
const uint8_t* search_table(const uint8_t* hdr, uintptr_t pc) {
  if (hdr[0] != 1) return nullptr;
  uint8_t frame_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
  if (count_enc == 0xff || table_enc != 0x3b) return nullptr;  // datarel | sdata4 only
  Reader r{hdr + 4, hdr + 4 + 16};
  r.encoded(frame_enc, uintptr_t(hdr));
  uintptr_t count = r.encoded(count_enc, uintptr_t(hdr));
  if (!r.ok || count == 0) return nullptr;
  auto* table = reinterpret_cast<const int32_t*>(r.p);
  auto base = reinterpret_cast<intptr_t>(hdr);
  size_t lo = 0, hi = count;  // the last entry with initial location <= pc
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (uintptr_t(base + table[2 * mid]) <= pc) lo = mid;
    else hi = mid;
  }
  if (uintptr_t(base + table[2 * lo]) > pc) return nullptr;
  return reinterpret_cast<const uint8_t*>(base + table[2 * lo + 1]);
}

struct Search {
  uintptr_t pc;
  const uint8_t* fde;
};

int search_object(dl_phdr_info* info, size_t, void* data) {
  auto* s = static_cast<Search*>(data);
  const ElfW(Phdr)* hdr = nullptr;
  bool inside = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && s->pc - lo < ph.p_memsz) inside = true;
    if (ph.p_type == PT_GNU_EH_FRAME) hdr = &ph;
  }
  if (!inside) return 0;
  if (hdr != nullptr)
    s->fde = search_table(reinterpret_cast<const uint8_t*>(info->dlpi_addr + hdr->p_vaddr), s->pc);
  return 1;
}

MPSHIM_NOINLINE uint64_t find_rule(uintptr_t pc) {
  Search s{pc - 1, nullptr};
  dl_iterate_phdr(search_object, &s);
  uint64_t packed = pack(s.fde != nullptr ? rule_from_fde(s.fde, pc) : Rule{});
  cache_rule(pc, packed);
  return packed;
}

// A step whose new stack pointer is not above the old one by at most this much is
// taken for a corrupt or foreign stack and ends the walk.
constexpr uintptr_t kMaxFrameBytes = uintptr_t(1) << 30;

// Bumped by walk_forget: memos recorded before it are not trusted.
std::atomic<uint32_t> g_generation{1};

struct State {
  uintptr_t pc, sp, bp;
  bool bp_known;
};

// kEndRule: the rule of the frame marks it the outermost (the result depends on its pc
// alone); kEnd: any other end of the walk.
enum Step { kStepped, kEnd, kEndRule, kFail };

// The rule of return address `pc`: from the thread's own cache (`m`, may be null), else
// the shared one, else the module's unwind table.
MPSHIM_INLINE uint64_t rule_at(uintptr_t pc, WalkMemo* m) {
  if (m == nullptr) {
    uint64_t packed = cached_rule(pc);
    return MPSHIM_LIKELY(packed != 0) ? packed : find_rule(pc);
  }
  size_t i = size_t(pc ^ (pc >> 9)) & (WalkMemo::kRules - 1);
  if (MPSHIM_LIKELY(m->rule_pc[i] == pc)) return m->rule[i];
  uint64_t packed = cached_rule(pc);
  if (MPSHIM_UNLIKELY(packed == 0)) packed = find_rule(pc);
  m->rule_pc[i] = pc;
  m->rule[i] = packed;
  return packed;
}

// Moves `s` to the caller's frame by the rule of s.pc. *bp_at and *cfa_at get the words
// read besides the return address, *flags what the step did with rbp (WalkMemo's flags).
MPSHIM_INLINE Step step(State& s, uintptr_t* bp_at, uintptr_t* cfa_at, uint8_t* flags, WalkMemo* m) {
  uint64_t packed = rule_at(s.pc, m);
  Rule r = unpack(packed);
  uintptr_t cfa;
  if (r.kind == kCfaSp) {
    cfa = s.sp + r.cfa_off;
  } else if (r.kind == kCfaBp && s.bp_known) {
    cfa = s.bp + r.cfa_off;
    *flags |= WalkMemo::kUsesBp;
  } else if (r.kind == kCfaAtBp && s.bp_known && s.bp - s.sp < kMaxFrameBytes) {
    *cfa_at = s.bp + r.cfa_off;
    cfa = *reinterpret_cast<const uintptr_t*>(*cfa_at);
    *flags |= WalkMemo::kUsesBp;
  } else {
    return r.kind == kOutermost ? kEndRule : kFail;
  }
  if (cfa <= s.sp || cfa - s.sp > kMaxFrameBytes || (cfa & 7) != 0) return kEnd;
  uintptr_t pc = *reinterpret_cast<const uintptr_t*>(cfa - 8);
  if (r.bp == kBpAtCfa) {
    *bp_at = cfa + r.bp_off;
  } else if (r.bp == kBpAtBp) {
    if (!s.bp_known || s.bp - s.sp >= kMaxFrameBytes) return kEnd;
    *bp_at = s.bp + r.bp_off;
    *flags |= WalkMemo::kUsesBp;
  } else if (r.bp == kBpLost) {
    s.bp_known = false;
    *flags |= WalkMemo::kSetsBp;
  }
  if (*bp_at != 0) {
    s.bp = *reinterpret_cast<const uintptr_t*>(*bp_at);
    *flags |= WalkMemo::kSetsBp;
  }
  s.sp = cfa;
  s.pc = pc;
  return pc == 0 ? kEnd : kStepped;
}

// Whether the recorded walk from frame k on depends on the rbp it entered k with: some
// step uses it before one replaces it (or the record ends first, and the walk goes on).
bool needs_bp(const WalkMemo& m, size_t k, size_t n) {
  for (; k < n; ++k) {
    if (m.flags[k] & WalkMemo::kUsesBp) return true;
    if (m.flags[k] & WalkMemo::kSetsBp) return false;
  }
  return true;
}

// A frame of the walk in progress: its state on entry and what its step read.
struct Entry {
  State state;
  uintptr_t bp_at, cfa_at;
  uint8_t flags;
};

void put(WalkMemo* m, size_t i, const Entry& e) {
  m->pc[i] = e.state.pc;
  m->sp[i] = e.state.sp;
  m->bp[i] = e.state.bp;
  m->bp_at[i] = e.bp_at;
  m->cfa_at[i] = e.cfa_at;
  m->flags[i] = uint8_t(e.flags | (e.state.bp_known ? WalkMemo::kBpKnown : 0));
}

// Moves memo entries [from, from + len) to `to` (either way).
void shift(WalkMemo* m, size_t from, size_t to, size_t len) {
  memmove(&m->pc[to], &m->pc[from], len * sizeof(uintptr_t));
  memmove(&m->sp[to], &m->sp[from], len * sizeof(uintptr_t));
  memmove(&m->bp[to], &m->bp[from], len * sizeof(uintptr_t));
  memmove(&m->bp_at[to], &m->bp_at[from], len * sizeof(uintptr_t));
  memmove(&m->cfa_at[to], &m->cfa_at[from], len * sizeof(uintptr_t));
  memmove(&m->flags[to], &m->flags[from], len);
}

// True when way `i` started from state `s` and its words all hold what they held.
MPSHIM_INLINE bool matches(const WalkCache& cache, size_t i, const State& s, size_t max, uint32_t generation) {
  const WalkCache::Way& w = cache.ways[i];
  if (w.nchecks == 0 || w.sp != s.sp || w.pc != s.pc || w.max != max || w.generation != generation ||
      (w.needs_bp && w.bp != s.bp))
    return false;
  size_t c = 0;
  while (c < w.nchecks && *reinterpret_cast<const uintptr_t*>(s.sp + w.at[c]) == w.word[c]) ++c;
  return c == w.nchecks;
}

// Way `i` is the one used now.
MPSHIM_INLINE void follow(WalkCache* cache, size_t i) {
  cache->ways[cache->last].next = uint8_t(i);
  cache->last = uint32_t(i);
  cache->way_used[i] = ++cache->clock;
}

// The ways whose key is `key`, as a bit mask: 16 keys per step, compared four at a time
// and packed to one byte each (SSE2, which every x86-64 has).
MPSHIM_INLINE uint64_t ways_keyed(const WalkCache& cache, uint32_t key) {
  static_assert(WalkCache::kWays % 16 == 0 && WalkCache::kWays <= 64);
  const __m128i want = _mm_set1_epi32(int(key));
  const auto* k = reinterpret_cast<const __m128i*>(cache.way_key);
  uint64_t mask = 0;
  for (size_t i = 0; i < WalkCache::kWays / 4; i += 4) {
    __m128i lo = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_load_si128(k + i), want),
                                 _mm_cmpeq_epi32(_mm_load_si128(k + i + 1), want));
    __m128i hi = _mm_packs_epi32(_mm_cmpeq_epi32(_mm_load_si128(k + i + 2), want),
                                 _mm_cmpeq_epi32(_mm_load_si128(k + i + 3), want));
    mask |= uint64_t(uint32_t(_mm_movemask_epi8(_mm_packs_epi16(lo, hi)))) << (4 * i);
  }
  return mask;
}

// The cached way whose starting state is `s` and whose words all hold what they held, or
// nullptr. A program going round a few stacks (allocate, free, allocate elsewhere) meets
// them in the same order each time: the way that followed the last one is tried first.
MPSHIM_INLINE const WalkCache::Way* recall(WalkCache* cache, const State& s, size_t max,
                                           uint32_t generation) {
  static_assert(WalkCache::kWays <= 256);
  size_t guess = cache->ways[cache->last].next;
  size_t found = WalkCache::kWays;
  if (matches(*cache, guess, s, max, generation)) {
    found = guess;
  } else {
    uint64_t mask = ways_keyed(*cache, WalkCache::key_of(s.sp)) & ~(uint64_t(1) << guess);
    for (; mask != 0; mask &= mask - 1) {
      size_t i = size_t(__builtin_ctzll(mask));
      if (matches(*cache, i, s, max, generation)) {
        found = i;
        break;
      }
    }
  }
  if (found == WalkCache::kWays) return nullptr;
  follow(cache, found);
  return &cache->ways[found];
}

}  // namespace

void walk_remember(WalkCache* cache, const WalkMemo& m, uint32_t value) {
  if (cache == nullptr || !m.complete || m.n == 0 ||
      m.generation != g_generation.load(std::memory_order_acquire))
    return;
  size_t h = size_t((uint64_t(value) * 0x9e3779b97f4a7c15ull) >> 56);
  static_assert(WalkCache::kSeen == 256);
  uint32_t now = ++cache->misses;
  bool recent = cache->seen_value[h] == value && cache->seen_at[h] != 0 &&
                now - cache->seen_at[h] <= WalkCache::kSeenWithin;
  cache->seen_value[h] = value;
  cache->seen_at[h] = now;
  if (!recent) return;
  uint32_t slot = 0;  // the way used least recently (an empty one has never been)
  for (uint32_t k = 1; k < WalkCache::kWays; ++k)
    if (cache->way_used[k] < cache->way_used[slot]) slot = k;
  WalkCache::Way& w = cache->ways[slot];
  w.nchecks = 0;
  cache->way_key[slot] = 0;
  size_t c = 0;
  auto add = [&](uintptr_t addr, uintptr_t word) {
    intptr_t off = intptr_t(addr - m.sp[0]);
    if (c == WalkCache::kChecks || off < INT32_MIN || off > INT32_MAX) return false;
    w.at[c] = int32_t(off);
    w.word[c++] = word;
    return true;
  };
  // uses[i]: the rbp frame i was entered with decides some step from frame i on (a step
  // uses it before one replaces it). Most saved rbp values are never used (code without
  // frame pointers keeps anything in rbp), so only those that are count.
  bool uses[WalkMemo::kFrames + 1] = {};
  for (size_t i = m.n - 1; i-- > 0;)
    uses[i] = (m.flags[i] & WalkMemo::kUsesBp) ||
              ((m.flags[i] & WalkMemo::kSetsBp) == 0 && uses[i + 1]);
  // The words each step read: the return address, the saved rbp (where it counts) and the
  // CFA it loaded.
  for (size_t i = 0; i + 1 < m.n; ++i) {
    if (!add(m.sp[i + 1] - 8, m.pc[i + 1])) return;
    if (m.bp_at[i] != 0 && uses[i + 1] && !add(m.bp_at[i], m.bp[i + 1])) return;
    if (m.cfa_at[i] != 0 && !add(m.cfa_at[i], m.sp[i + 1])) return;
  }
  w.pc = m.pc[0];
  w.sp = m.sp[0];
  w.bp = m.bp[0];
  w.needs_bp = uses[0];
  w.max = m.max;
  w.generation = m.generation;
  w.value = value;
  w.nchecks = uint16_t(c == 0 ? 0 : c);
  cache->way_key[slot] = c == 0 ? 0 : WalkCache::key_of(w.sp);
  follow(cache, slot);
}

size_t walk_stack(uintptr_t* out, size_t max, WalkMemo* memo, size_t* walked, WalkCache* cache,
                  uint32_t* recalled) {
  if (max == 0) return 0;
  // This function keeps a frame pointer (it asks for its frame address), so its caller's
  // registers are known without any table.
  auto* top = static_cast<uintptr_t*>(__builtin_frame_address(0));
  State s{top[1], reinterpret_cast<uintptr_t>(top + 2), top[0], true};
  uint32_t generation = g_generation.load(std::memory_order_acquire);
  if (cache != nullptr) {
    if (const WalkCache::Way* w = recall(cache, s, max, generation)) {
      *recalled = w->value;
      return kWalkRecalled;
    }
  }
  constexpr size_t kKept = WalkMemo::kFrames;
  WalkMemo* m = memo;
  if (m != nullptr && m->rules_generation != generation) {
    memset(m->rule_pc, 0, sizeof m->rule_pc);
    m->rules_generation = generation;
  }
  size_t old_n = m != nullptr && m->generation == generation ? m->n : 0;
  // Until the walk first meets a frame of the last walk, its frames wait in `fresh`; then
  // the last walk's entries from there on move to the current index, the fresh frames fill
  // the entries below, and later frames are written to the memo in place (entries from the
  // current index on are then still the last walk's).
  Entry fresh[kKept];
  bool merged = m == nullptr, ended_by_rule = false;
  size_t n = 0, k = 0;
  for (;;) {
    if (merged && k < n) k = n;
    while (k < old_n && m->sp[k] < s.sp) ++k;
    if (k + 1 < old_n && n + 1 < kKept && m->sp[k] == s.sp && m->pc[k] == s.pc &&
        ((m->bp[k] == s.bp && (m->flags[k] & WalkMemo::kBpKnown) == s.bp_known) ||
         !needs_bp(*m, k, old_n))) {
      // Back on a frame of the last walk: bring its entries to this frame's index, then
      // replay them while the words their steps read still hold the same values.
      if (k != n) {
        size_t len = old_n - k < kKept - n ? old_n - k : kKept - n;
        shift(m, k, n, len);
        old_n = n + len;
      }
      if (!merged) {
        for (size_t i = 0; i < n; ++i) put(m, i, fresh[i]);
        merged = true;
      }
      uint8_t seen = 0;
      for (; n + 1 < max && n + 1 < old_n; ++n) {
        uintptr_t next_sp = m->sp[n + 1];
        if (*reinterpret_cast<const uintptr_t*>(next_sp - 8) != m->pc[n + 1]) break;
        if (m->bp_at[n] != 0 && *reinterpret_cast<const uintptr_t*>(m->bp_at[n]) != m->bp[n + 1])
          break;
        if (m->cfa_at[n] != 0 && *reinterpret_cast<const uintptr_t*>(m->cfa_at[n]) != next_sp)
          break;
        out[n] = m->pc[n];
        seen |= m->flags[n];
      }
      s.pc = m->pc[n];
      s.sp = m->sp[n];
      if (seen & WalkMemo::kSetsBp) {  // else rbp is still the one this walk entered with
        s.bp = m->bp[n];
        s.bp_known = (m->flags[n] & WalkMemo::kBpKnown) != 0;
      }
      k = n;
    }
    out[n] = s.pc;
    Entry e{s, 0, 0, 0};
    Step st = n + 1 == max ? kEnd : step(s, &e.bp_at, &e.cfa_at, &e.flags, m);
    if (st == kFail) {
      if (m != nullptr) {
        m->n = 0;
        m->complete = false;
      }
      if (walked != nullptr) *walked = n + 1;
      return kWalkFailed;
    }
    if (n < kKept) {
      if (merged && m != nullptr) put(m, n, e);
      else fresh[n] = e;
    }
    ++n;
    if (st != kStepped) {
      ended_by_rule = st == kEndRule;
      break;
    }
  }
  if (m != nullptr) {
    size_t kept = n < kKept ? n : kKept;
    if (!merged)
      for (size_t i = 0; i < kept; ++i) put(m, i, fresh[i]);
    m->n = uint32_t(kept);
    m->generation = generation;
    m->max = uint32_t(max);
    m->complete = n <= kKept && (n == max || ended_by_rule);
  }
  return n;
}

void walk_forget() {
  g_generation.fetch_add(1, std::memory_order_acq_rel);
  Slot* cache = g_cache.load(std::memory_order_acquire);
  for (size_t i = 0; cache != nullptr && i <= kCacheMask; ++i) {
    cache[i].rule.store(0, std::memory_order_relaxed);
    cache[i].pc.store(0, std::memory_order_release);
  }
  g_cached.store(0, std::memory_order_relaxed);
}

void walk_cache_mapping(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx) {
  auto lo = reinterpret_cast<uintptr_t>(g_cache.load(std::memory_order_acquire));
  if (lo != 0) fn(lo, lo + kCacheBytes, ctx);
}

size_t walk_cached() { return g_cached.load(std::memory_order_relaxed); }

#else  // other architectures always use libunwind

void walk_remember(WalkCache*, const WalkMemo&, uint32_t) {}

size_t walk_stack(uintptr_t*, size_t, WalkMemo*, size_t* walked, WalkCache*, uint32_t*) {
  if (walked != nullptr) *walked = 0;
  return kWalkFailed;
}
void walk_forget() {}
size_t walk_cached() { return 0; }
void walk_cache_mapping(void (*)(uintptr_t, uintptr_t, void*), void*) {}

#endif

}  // namespace mpshim::track
