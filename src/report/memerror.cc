// The report of one memory error, in the words AddressSanitizer and valgrind users know:
// its kind, the addresses and sizes, and the stacks of the bad access or call, of the
// block's allocation and of its first free.
#include <atomic>

#include "config/options.h"
#include "prim/file.h"
#include "prim/fmt.h"
#include "prim/os.h"
#include "report/leaks.h"
#include "report/report.h"
#include "report/symbolize.h"

namespace mpshim::report {

namespace {

using track::ErrorKind;
using track::Found;
using track::MemError;

std::atomic<uint64_t> g_errors{0};
std::atomic<int> g_file_pid{0};  // the process that wrote errors to the report file

const char* found_word(Found f) {
  switch (f) {
    case Found::Call: return "call";
    case Found::Free: return "free";
    case Found::Realloc: return "realloc";
    case Found::Reuse: return "reuse";
    case Found::Exit: return "exit";
    case Found::Fault: return "access";
  }
  return "call";
}

// How far the damage reaches: bytes past the end, before the start, or the offset into
// the block (negative for a bad free before its start).
int64_t distance(const MemError& e) {
  uintptr_t last = e.last != 0 ? e.last : e.addr;
  if (e.kind == ErrorKind::HeapOverflow) return int64_t(last + 1 - (e.block + e.size));
  if (e.kind == ErrorKind::HeapUnderflow) return int64_t(e.block - e.addr);
  return int64_t(e.addr - e.block);
}

// Where a bad free's pointer lies from a known block: before it, inside, or past its end
// (counted as an overflow's bytes: the pointer one past a 1-byte block is 1 byte past).
void bad_free_place(prim::Writer& w, const MemError& e) {
  if (e.addr < e.block) w.u64(e.block - e.addr).str(" byte(s) before the start of a ");
  else if (e.addr - e.block >= e.size) w.u64(e.addr + 1 - (e.block + e.size)).str(" byte(s) past the end of a ");
  else w.u64(e.addr - e.block).str(" byte(s) inside a ");
}

void describe(prim::Writer& w, const MemError& e) {
  const char* mem = e.mem == track::Memory::Host ? "" : track::memory_name(e.mem);
  auto block = [&](const char* state) {
    w.str(state).u64(e.size).str("-byte ");
    if (*mem != '\0') w.str(mem).str(" memory ");
    w.str("block at ").hex(e.block);
  };
  bool known = e.block != 0;
  switch (e.kind) {
    case ErrorKind::HeapOverflow:
      if (e.found == Found::Fault) w.str(e.write ? "WRITE " : "READ ").str("at ").hex(e.addr).str(", ");
      w.u64(uint64_t(distance(e))).str(" byte(s) past the end of a ");
      block(e.freed ? "freed " : "");
      break;
    case ErrorKind::HeapUnderflow:
      if (e.found == Found::Fault) w.str(e.write ? "WRITE " : "READ ").str("at ").hex(e.addr).str(", ");
      w.u64(uint64_t(distance(e))).str(" byte(s) before the start of a ");
      block(e.freed ? "freed " : "");
      break;
    case ErrorKind::UseAfterFree:
      if (e.found == Found::Fault) w.str(e.write ? "WRITE " : "READ ").str("at ").hex(e.addr);
      else w.str("write to ").hex(e.addr);
      w.str(", offset ").u64(uint64_t(distance(e))).str(" in a ");
      block("freed ");
      if (e.last > e.addr) w.str(" (").u64(e.last - e.addr + 1).str(" byte(s) changed)");
      break;
    case ErrorKind::DoubleFree:
      w.str(e.call != nullptr ? e.call : "free").str(" of ").hex(e.addr);
      if (known) {
        w.str(", a ").u64(e.size).str("-byte ");
        if (*mem != '\0') w.str(mem).str(" memory ");
        w.str("block freed already");
      } else {
        w.str(", freed already");
      }
      break;
    case ErrorKind::BadFree:
      w.str(e.call != nullptr ? e.call : "free").str(" of ").hex(e.addr);
      if (known) {
        w.str(", ");
        bad_free_place(w, e);
        block(e.freed ? "freed " : "");
      } else if (track::g_check == track::CheckMode::Sample && e.mem == track::Memory::Host &&
                 e.place == track::Place::Unknown) {
        // Sample mode keeps the history of sampled blocks only.
        w.str(", which is no block allocated now (freed already, or never returned by an allocation function)");
      } else {
        w.str(", which was never returned by an allocation function");
        if (e.place == track::Place::Stack) w.str(": a stack address");
        if (e.place == track::Place::Unmapped) w.str(": no memory is mapped there");
        if (e.place == track::Place::Global) w.str(": a global (a loaded module's static data)");
        // A pointer read from memory the checks filled, as the program went on using it.
        auto every_byte = [&](unsigned char b) { return e.addr == uintptr_t(0x0101010101010101ull) * b; };
        if (every_byte(track::kFreedByte)) w.str(" (the fill of freed blocks: a pointer read from a freed block)");
        if (every_byte(track::kUninitByte)) w.str(" (the fill of new blocks: a pointer read before it was written)");
      }
      break;
    case ErrorKind::SizeMismatch:
      w.str(e.call != nullptr ? e.call : "operator delete").str(" of ").hex(e.addr).str(" given the size ");
      w.u64(e.call_size).str(", a ").u64(e.size).str("-byte block allocated with ");
      w.str(track::kind_name(e.alloc_kind)).str(" (the type deleted is not the type allocated)");
      break;
    case ErrorKind::Mismatch:
      w.u64(e.size).str("-byte ");
      if (*mem != '\0') w.str(mem).str(" memory ");
      w.str("block at ").hex(e.block).str(" allocated with ");
      w.str(track::kind_name(e.alloc_kind)).str(", freed with ").str(e.call != nullptr ? e.call : "free");
      break;
  }
}

const char* access_title(const MemError& e) {
  switch (e.found) {
    case Found::Call: return "Bad call:";
    case Found::Free: return "Found when the block was freed:";
    case Found::Realloc: return "Found when the block was reallocated:";
    case Found::Reuse: return "Found when the block left the quarantine, in:";
    case Found::Fault: return "Faulting access:";
    case Found::Exit: return nullptr;
  }
  return nullptr;
}

void write_text(prim::Writer& w, const MemError& e, int pid, const char* exe) {
  w.str("==").i64(pid).str("== mpshim: ERROR: ").str(track::error_name(e.kind)).str(": ");
  describe(w, e);
  if (e.found == Found::Exit) w.str(" (found at exit)");
  w.chr('\n');
  if (const char* title = access_title(e)) {
    w.str(title).chr('\n');
    text_stack(w, e.access_stack);
  }
  if (e.block != 0) {
    w.str("Block allocated with ").str(track::kind_name(e.alloc_kind)).str(" at:\n");
    text_stack(w, e.alloc_stack);
    if (e.freed) {
      w.str("Block freed at:\n");
      text_stack(w, e.free_stack);
    }
  }
  const char* name = exe;
  for (const char* c = exe; *c != '\0'; ++c)
    if (*c == '/') name = c + 1;
  w.str("SUMMARY: mpshim: ").str(track::error_name(e.kind)).str(" in ").str(name).str("\n\n");
}

void write_json(prim::Writer& w, const MemError& e, int pid, const char* exe) {
  w.str("{\"mpshim_error\":1,\"pid\":").i64(pid).str(",\"exe\":").json_str(exe);
  w.str(",\"kind\":\"").str(track::error_name(e.kind)).str("\",\"found\":\"").str(found_word(e.found));
  w.str("\",\"access\":");
  if (e.found == Found::Fault) w.str(e.write ? "\"write\"" : "\"read\"");
  else w.str("null");
  w.str(",\"address\":\"").hex(e.addr).str("\",\"last\":");
  if (e.last != 0) w.chr('"').hex(e.last).chr('"');
  else w.str("null");
  w.str(",\"call\":");
  if (e.call != nullptr) w.json_str(e.call);
  else w.str("null");
  w.str(",\"call_size\":");
  if (e.kind == ErrorKind::SizeMismatch) w.u64(e.call_size);
  else w.str("null");
  w.str(",\"place\":");
  if (e.place == track::Place::Stack) w.str("\"stack\"");
  else if (e.place == track::Place::Unmapped) w.str("\"unmapped\"");
  else if (e.place == track::Place::Global) w.str("\"global\"");
  else w.str("null");
  w.str(",\"memory\":\"").str(track::memory_name(e.mem)).str("\",\"stack\":");
  if (e.found == Found::Exit) w.str("null");
  else json_stack(w, e.access_stack);
  w.str(",\"block\":");
  if (e.block == 0) {
    w.str("null}\n");
    return;
  }
  w.str("{\"address\":\"").hex(e.block).str("\",\"size\":").u64(e.size);
  w.str(",\"distance\":");
  if (e.kind == ErrorKind::DoubleFree || e.kind == ErrorKind::Mismatch || e.kind == ErrorKind::SizeMismatch)
    w.str("null");
  else w.i64(distance(e));
  w.str(",\"function\":").json_str(track::kind_name(e.alloc_kind));
  w.str(",\"freed\":").str(e.freed ? "true" : "false").str(",\"alloc_stack\":");
  json_stack(w, e.alloc_stack);
  w.str(",\"free_stack\":");
  if (e.freed) json_stack(w, e.free_stack);
  else w.str("null");
  w.str("}}\n");
}

}  // namespace

void write_memory_error(const MemError& e) {
  const config::Config& c = config::get();
  int pid = prim::os_getpid();
  // The first error of a process starts its report file; later ones and the leak report
  // at exit are written after it.
  bool append = g_file_pid.exchange(pid) == pid;
  int fd = open_report(pid, append);
  int lock = fd == 2 ? prim::lock_stream(2) : -1;
  {
    prim::Writer w(fd);
    if (c.report_format == 1) write_json(w, e, pid, executable_path());
    else write_text(w, e, pid, executable_path());
  }
  if (lock >= 0) prim::os_close(lock);
  if (fd != 2) prim::os_close(fd);
  g_errors.fetch_add(1, std::memory_order_relaxed);
}

uint64_t memory_errors() { return g_errors.load(std::memory_order_relaxed); }

}  // namespace mpshim::report
