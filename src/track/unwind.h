// A fast stack walker for the common case on x86-64: every frame's rule comes from the
// modules' .eh_frame (found through PT_GNU_EH_FRAME's sorted table), reduced to "CFA = rsp
// or rbp + offset, return address at CFA - 8, rbp saved at CFA + k or unchanged", and kept
// in a lock-free cache keyed by return address. A capture then costs a hash probe and two
// loads a frame instead of libunwind's full cursor set-up. Frames with any other rule
// (signal frames, CFA expressions, code without unwind tables) make the walk give up, and
// the caller falls back to libunwind, so stacks are never worse than libunwind's.
//
// Consecutive captures on a thread share most of their frames, so each thread also keeps
// a memo of its last walk: the state at each frame (pc, stack pointer, rbp) and the stack
// words the step from it read. Where a new walk reaches a state of the memo, it replays
// the memo for as long as those words still hold what they held then; the checks are
// independent loads, not a chain of dependent ones, so shared frames cost little. The
// result is exactly that of a full walk: the walk is a function of the state and of the
// words it reads.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::track {

/// Returned by walk_stack when a frame needs the general unwinder.
constexpr size_t kWalkFailed = ~size_t(0);
/// Returned by walk_stack when its WalkCache knew the stack (see WalkCache).
constexpr size_t kWalkRecalled = ~size_t(0) - 1;

/// A thread's memo of its last walk (see above). Zero-filled is a valid empty memo.
struct WalkMemo {
  static constexpr size_t kFrames = 32;
  /// flags[i]: rbp was known on entry to frame i; the step from it used rbp; it replaced
  /// rbp (from the stack, or with "unknown").
  static constexpr uint8_t kBpKnown = 1, kUsesBp = 2, kSetsBp = 4;

  uint32_t generation;  ///< walk_forget's count when recorded
  uint32_t n;           ///< frames recorded; the step of frame i is known for i + 1 < n
  uint32_t max;         ///< the last walk's `max`
  /// The last walk is recorded whole and ended where its own frames say (at `max`, or at a
  /// frame whose rule marks the outermost), so its words decide its result (WalkCache).
  bool complete;
  /// The state on entry to each frame.
  uintptr_t pc[kFrames], sp[kFrames], bp[kFrames];
  /// The words the step from frame i read besides the return address at sp[i + 1] - 8
  /// (0 when it read none).
  uintptr_t bp_at[kFrames], cfa_at[kFrames];
  uint8_t flags[kFrames];

  /// The thread's own small cache of frame rules (return address -> packed rule), in front
  /// of the shared one: a thread walks through a few hundred return addresses over and over,
  /// and the shared table's lines, spread over a megabyte, are mostly cold.
  static constexpr size_t kRules = 256;
  uint32_t rules_generation;  ///< walk_forget's count when the rules were cached
  uintptr_t rule_pc[kRules];
  uint64_t rule[kRules];
};

/// The stacks a thread walked last, each with a value of the caller's (its stack id) and the
/// stack words its walk read: the walk is a function of its starting state (the caller's
/// pc, stack pointer and, where a step uses it, rbp) and of those words, so a walk that
/// starts from the same state and finds every word unchanged has the same result, and
/// walk_stack returns the value instead (kWalkRecalled). Checking the words costs one
/// load and compare each, without a rule lookup or a dependent chain. Zero-filled is a
/// valid empty cache; it belongs to one thread.
///
/// Many stacks share a starting state (the shim's own frames at the same depth) and differ
/// only in their words, and a thread goes round a few dozen of them (allocations and, under
/// the memory-error checks, frees at each place it works; sqlite3 running inserts under
/// MPSHIM_CHECK=light goes round between 32 and 64): the cache holds 64, replaces the one
/// used least recently and first tries the one that followed the last one.
struct WalkCache {
  static constexpr size_t kWays = 64;
  static constexpr size_t kChecks = 36;
  struct Way {
    uintptr_t pc, sp, bp;  ///< the starting state
    uint32_t max, generation, value;
    uint8_t next;          ///< the way recalled or filled right after this one, last time
    uint16_t nchecks;      ///< 0: empty
    bool needs_bp;
    int32_t at[kChecks];      ///< offsets from sp of the words read
    uintptr_t word[kChecks];  ///< what they held
  };
  /// Each way's key (key_of its starting stack pointer; 0 while it is empty or being
  /// filled) and `clock` when it was last recalled or filled, apart from the ways, so that
  /// a walk no way knows and the choice of a way to replace cost a few lines, not one per way.
  alignas(16) uint32_t way_key[kWays];
  uint32_t way_used[kWays];
  Way ways[kWays];
  uint32_t last;   ///< the way that matched or was filled last
  uint32_t clock;  ///< counts recalls and fills
  /// Stacks (the values walk_remember is given) of walks not recalled, direct-mapped by
  /// their hash, with the count of such walks when each was met. A walk is remembered only
  /// when its stack was also one of the last kSeenWithin not recalled: a stack met once (a
  /// compiler allocates from ever new places) would cost the remembering and push out a
  /// way recalled more often. The window is twice the ways, so that a round of as many
  /// stacks as there are ways, all missed while the cache fills, is taken in.
  static constexpr size_t kSeen = 256;
  static constexpr uint32_t kSeenWithin = 2 * kWays;
  uint32_t seen_value[kSeen];
  uint32_t seen_at[kSeen];
  uint32_t misses;

  /// A way's key: the stack pointer's low bits, never 0 (it is 8-aligned).
  static uint32_t key_of(uintptr_t sp) { return uint32_t(sp) | 1; }
};

/// After walk_stack(..., memo, ..., cache, ...) gave frames (not kWalkRecalled nor
/// kWalkFailed): remembers `value` as that walk's result, when `memo` holds the whole walk,
/// its words fit the cache and a recent walk started from the same state.
void walk_remember(WalkCache* cache, const WalkMemo& memo, uint32_t value);

/// Writes up to `max` return addresses to `out`, innermost first: out[0] is the return
/// address into walk_stack's caller. Returns the count (the walk ends at the outermost
/// frame, at `max`, or at a frame whose stack pointer makes no sense), or kWalkFailed;
/// then the frames up to the one it could not step from are in `out`, their count in
/// *walked (when given). With `cache` (and `memo`, which walk_remember reads), a stack the
/// cache knows gives kWalkRecalled and its value in *recalled, and `out` is left alone.
/// `memo` and `cache` (may be null) must belong to the calling thread. Never allocates; the
/// first capture through a new return address takes the dynamic linker's lock once
/// (dl_iterate_phdr) to find its rule.
__attribute__((noinline)) size_t walk_stack(uintptr_t* out, size_t max,
                                            WalkMemo* memo = nullptr, size_t* walked = nullptr,
                                            WalkCache* cache = nullptr,
                                            uint32_t* recalled = nullptr);

/// Forgets every cached rule (after a module is unloaded, its addresses may be reused).
void walk_forget();

/// Calls fn for the mapping of the rule cache, when there is one (the leak scan skips it:
/// it holds code addresses only).
void walk_cache_mapping(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);

/// Number of return addresses whose rule is cached (tests).
size_t walk_cached();

}  // namespace mpshim::track
