// Memory-error checks (MPSHIM_CHECK): the layout of a checked block (redzones, patterns),
// frees checked against the allocation history, the quarantine of freed blocks and guarded
// blocks (sampled ones, big ones in full mode). Errors go to a sink the entry layer sets,
// which writes the report and decides whether the program goes on.
#pragma once
#include <cstddef>
#include <cstdint>

#include "prim/defines.h"
#include "track/track.h"

namespace mpshim::track {

/// MPSHIM_CHECK, in the option's order.
enum class CheckMode : uint8_t { Off = 0, Sample, Light, Full };
extern CheckMode g_check;
/// True when any check is on (then tracking is on too).
inline bool checking() { return g_check != CheckMode::Off; }

/// The kinds of memory error, named as AddressSanitizer names them (error_name).
enum class ErrorKind : uint8_t {
  HeapOverflow,   ///< heap-buffer-overflow: a write or access past the block's end
  HeapUnderflow,  ///< heap-buffer-underflow: before its start (full mode's front redzone)
  UseAfterFree,   ///< heap-use-after-free
  DoubleFree,     ///< double-free
  BadFree,        ///< bad-free: not the start of a live block (interior, never returned)
  Mismatch,       ///< alloc-dealloc-mismatch: new/free, new[]/delete, malloc/delete, ...
  SizeMismatch,   ///< new-delete-type-mismatch: a sized delete given another size than new got
};
const char* error_name(ErrorKind k);

/// Where an error was seen.
enum class Found : uint8_t {
  Call,     ///< at the bad call itself (bad, double, mismatched free)
  Free,     ///< a redzone checked when the block was freed
  Realloc,  ///< a redzone checked when the block was reallocated
  Reuse,    ///< a freed block's pattern checked when it left the quarantine
  Exit,     ///< the check of every block at exit
  Fault,    ///< a guard page: the faulting access itself
};

/// Where an address that is no memory of any allocator's lies (a bad free's): a program
/// may hand over other memory of its own (another allocator's, its own mappings), which is
/// never blamed, but an address in no mapping or on the stack is no heap block of anyone's.
enum class Place : uint8_t { Unknown, Unmapped, Stack, Global };
/// `addr`'s place by /proc/self/maps: Stack when its mapping holds the calling thread's
/// stack pointer or is the main thread's stack, Global in a loaded module's segments;
/// Unknown elsewhere or when the file cannot be read.
Place place_of(uintptr_t addr);

/// One memory error, with what is known of its block (the allocation history).
struct MemError {
  ErrorKind kind = ErrorKind::BadFree;
  Found found = Found::Call;
  Memory mem = Memory::Host;
  bool write = true;        ///< Fault: a write (else a read)
  uintptr_t addr = 0;       ///< the pointer passed, the first corrupted byte, the faulting address
  uintptr_t last = 0;       ///< the last corrupted byte (redzone and pattern checks); 0: addr only
  uintptr_t block = 0;      ///< the block's start as the program got it; 0: no block known
  uint64_t size = 0;        ///< its requested size
  Kind alloc_kind = Kind::None;  ///< how it was allocated (None: unknown)
  bool freed = false;       ///< it was freed already (free_stack is its first free)
  uint32_t alloc_stack = 0, free_stack = 0;
  uint32_t access_stack = 0;     ///< the bad call or access; 0: none (Found::Exit)
  const char* call = nullptr;    ///< function of the bad call ("free", "operator delete", "cuMemFree")
  uint64_t call_size = 0;        ///< SizeMismatch: the size the sized delete was given
  Place place = Place::Unknown;  ///< BadFree of no block: where the address lies
};

/// Receives every error found, outside the tracker's locks. Returns only when the program
/// is to go on (MPSHIM_ON_ERROR=report).
using ErrorSink = void (*)(const MemError& e);
/// Sets the sink (the entry layer's, once at start-up). Without one, errors are dropped.
void set_error_sink(ErrorSink sink);
/// Hands `e` to the sink, capturing the calling thread's stack as its access stack when it
/// has none (unless found at exit).
void report_error(MemError e);

/// For a misused CUDA free: what is known of the device, managed or pinned block at `addr`
/// (its start, live in the records, or freed earlier and remembered by the history) goes to
/// `e` (block, size, alloc_kind, alloc_stack, mem, and freed with free_stack); false when
/// nothing is known.
bool describe_foreign(uintptr_t addr, MemError* e);
/// The same for a host block holding `addr` (cuMemFree or cuMemFreeHost of malloc's memory).
bool describe_host(uintptr_t addr, MemError* e);

/// The calling thread's stack (its caller first), interned; 0 when stacks are off.
uint32_t capture_current();
/// The same from a signal handler: frames before `pc` (the handler, the signal
/// trampoline) are dropped when `pc` is among them.
uint32_t capture_from(uintptr_t pc);

/// How the program frees: the name of each is what reports print.
enum class Dealloc : uint8_t { Free, Delete, DeleteArray, Realloc };
/// The size given to a free that takes none (all but the sized operator delete).
constexpr uint64_t kAnySize = ~uint64_t(0);

/// Function name of `how` ("free", "operator delete", ...).
const char* dealloc_name(Dealloc how);
/// True when freeing a block allocated with `kind` as `how` frees is a mismatch: a bit of
/// a mask of kinds (inline and branch-free: sample mode asks it on every free).
MPSHIM_INLINE bool mismatched(Kind kind, Dealloc how) {
  constexpr uint32_t kNew = 1u << unsigned(Kind::New) | 1u << unsigned(Kind::NewAligned);
  constexpr uint32_t kNewArray = 1u << unsigned(Kind::NewArray) | 1u << unsigned(Kind::NewArrayAligned);
  uint32_t bad = how == Dealloc::Delete ? ~kNew : how == Dealloc::DeleteArray ? ~kNewArray : kNew | kNewArray;
  return (bad >> (unsigned(kind) & 31)) & 1;
}

/// False for a mismatch that is none. A module with an operator new and delete of its own
/// built on malloc and free (libLLVM, a library with libstdc++ linked in) calls them
/// itself, while the program's calls of the same operators reach the shim's: a block of
/// such an operator new is malloc's to the shim, and the program's delete of it is right;
/// so is such an operator delete's free of a block of the shim's operator new. Told by the
/// symbol of the allocation's first frame, or of the bad call's (`call_stack`).
bool real_mismatch(Kind kind, Dealloc how, uint32_t alloc_stack, uint32_t call_stack);

/// Bytes written in redzones, over new blocks in full mode (reads of them show) and over
/// freed blocks in quarantine.
constexpr unsigned char kRedzoneByte = 0xac;
constexpr unsigned char kUninitByte = 0xbe;
constexpr unsigned char kFreedByte = 0xdf;
/// Full mode writes kUninitByte over at most this many bytes of a guarded block on pages
/// mapped for it: the pages past them stay untouched (zero, not resident until the program
/// writes them), so a program that allocates big and uses little keeps its memory. A block
/// in the allocator's slots, or on a spare's pages (resident already), is filled whole.
constexpr size_t kUninitFreshFill = size_t(64) << 10;

/// Front redzone of a block allocated with `kind`: 16 bytes in full mode when its
/// alignment is the default, else none.
MPSHIM_INLINE size_t front_of(Kind kind) {
  constexpr uint32_t kDefault = 1u << unsigned(Kind::Malloc) | 1u << unsigned(Kind::Calloc) |
                                1u << unsigned(Kind::Realloc) | 1u << unsigned(Kind::New) |
                                1u << unsigned(Kind::NewArray);
  return g_check == CheckMode::Full && ((kDefault >> (unsigned(kind) & 31)) & 1) ? 16 : 0;
}

/// Layout of a checked block in its allocator slot: `front` redzone bytes, the block, then
/// at least `back` redzone bytes up to the slot's end.
struct Layout {
  size_t front, back;
};
MPSHIM_INLINE Layout layout(size_t size, Kind kind) {
  if (g_check != CheckMode::Light && g_check != CheckMode::Full) return Layout{0, 0};
  size_t back = size <= 128 ? 16 : ((size / 8 + 15) & ~size_t(15));
  if (back > 1024) back = 1024;
  return Layout{front_of(kind), back};
}

/// The allocation side: records the slot `slot` (from the allocator, `layout(size,
/// kind)` bytes around `size`) as a block allocated with `kind`, fills its redzones and
/// returns the pointer the program gets.
void* on_alloc_checked(void* slot, size_t size, Kind kind);

/// True for this allocation when it is to be sampled (MPSHIM_CHECK=sample).
bool sample_now();
/// Allocations left before this thread's next sample (sample_now's countdown).
extern MPSHIM_TLS uint32_t t_sample_countdown;
/// Sample mode, an allocation that is not this thread's next sample: counted, true, and
/// the caller tracks it as without checks (no call into the checked path). False
/// otherwise, the caller then goes through alloc_checked.
MPSHIM_INLINE bool skip_sample() {
  uint32_t c = t_sample_countdown;
  if (g_check != CheckMode::Sample || c <= 1) return false;
  t_sample_countdown = c - 1;
  return true;
}
/// Sample mode, the free of a live block of the allocator starting at `p`, freed as it was
/// allocated: its tag cleared as tracking alone clears it, true, and the caller gives the
/// slot back to the allocator. False for anything else (a sampled block, an error, another
/// mode): the caller then goes through checked_free. Unsampled blocks keep no history.
bool free_unsampled(void* p, Dealloc how, uint64_t sized = kAnySize);
/// MPSHIM_GUARD_SIZE.
extern uint64_t g_guard_size;
/// True when a block of `size` goes on guard pages in full mode.
MPSHIM_INLINE bool guard_big(size_t size) { return g_check == CheckMode::Full && size > g_guard_size; }
/// A block of `size` alone on pages ending in a guard page, recorded and tracked;
/// nullptr when none can be had (too many sampled blocks, no memory, alignment above a page).
void* guarded_alloc(size_t size, size_t align, Kind kind);

/// Checks and frees `p` as `how` frees it: bad, double and mismatched frees are reported
/// (a bad free is then ignored), and so is a sized delete given another size (`sized`)
/// than its block's; redzones verified, the block quarantined or given back.
/// False when `p` is not the shim's memory at all (another allocator's: never blamed).
bool checked_free(void* p, Dealloc how, uint64_t sized = kAnySize);
/// For realloc: checks `p` as checked_free does without freeing it. 1 and the bytes to keep
/// in `*size` (malloc_usable_size's, checked_usable) when it is a live block, 0 when an error was reported (leave it alone), -1
/// when it is not the shim's memory.
int checked_realloc_source(void* p, size_t* size);
/// Frees a block that checked_realloc_source accepted (its redzones verified). For
/// Found::Realloc the profile is not told: realloc told it first (profile_realloc_source).
void checked_release(void* p, Found found);
/// Light mode, realloc of `p`, tried first: in place when `p` is a live block of malloc's
/// family whose slot holds `size` bytes and their redzone, as the allocator reallocates
/// without checks (a block that moves at every call costs a program growing a string by
/// small appends quadratic time). Its redzone is verified (grown: the bytes it gains) and
/// written again after the new end, the bytes it gains are cleared as tracking clears
/// them, the profile told of a free, and it is recorded anew with the realloc's stack.
/// nullptr when it must move (full mode always moves it) or `p` is anything else: the
/// caller then goes on with checked_realloc_source.
void* checked_resize(void* p, size_t size);
/// The profile, for realloc under the checks: the old block at `p` is freed (`freed`:
/// told before the new block is allocated, in the order of a realloc without checks), or
/// stays (no new block could be had: its allocation counted again).
void profile_realloc_source(const void* p, bool freed);
/// Requested size of the live block at `p` (malloc_usable_size under checks: the redzones
/// must stay untouched); 0 when `p` is none.
size_t checked_usable(const void* p);

/// A SIGSEGV at `addr`: true when it hit a guarded block (or its guard page, or the page
/// right below a live one: an underflow), with the error in `*e`. `*recover` (in) makes
/// that page accessible so the access can go on; out: whether it could (not for a page
/// that is not the block's).
bool guarded_fault(uintptr_t addr, bool* recover, MemError* e);

/// At exit: verifies every live block's redzones (a guarded block's: its slack) and the
/// quarantined blocks' patterns.
void check_all_blocks();

/// For the leak check: extra bytes before a live block's requested size that its scan
/// must cover (full mode's front redzone), from its allocation kind.
size_t scan_front(Kind kind);
/// For the leak check: the tracker's own memory that holds block addresses (quarantine,
/// guarded records), which is no root.
void for_each_check_range(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);

/// A guarded block's record for the leak check (a host block outside the allocator's
/// slots, kept with the foreign blocks), with its allocation stack; and its removal.
void record_foreign(const void* p, size_t size, Kind kind, uint32_t stack);
/// `counted`: the profile counts the block's free (not when realloc counted it first).
void forget_foreign(const void* p, bool counted);
/// A checked block in a slot, whose tag was `tag`, freed by the program (it may wait in the
/// quarantine): the profile, when on (profile::on()), counts the free.
void on_checked_free(void* slot, uint64_t tag);
/// True on a thread inside the tracker (or with tracking disabled): no sampling there.
bool thread_quiet();

/// Start-up (from track::init) and fork.
void check_init();
void check_before_fork();
void check_after_fork_parent();
void check_after_fork_child();

}  // namespace mpshim::track
