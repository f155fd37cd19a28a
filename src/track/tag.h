// The 64-bit tag the allocator keeps beside every block (cpu::tag_of), as the tracker
// fills it. A tag of 0 means "no live tracked block here": the allocator hands out fresh
// blocks with tag 0 and on_free writes 0 back, which is how a double free is seen.
//
//   bits  0..3   kind (track::Kind; never None for a live block, so a live tag is never 0)
//   bit   4      ignored: mpshim_ignore'd; live, scanned as a root, never reported
//   bit   5      internal: allocated inside the shim or with tracking disabled on the
//                thread; live, scanned as a root, never reported, no stack
//   bit   6      slack: the size field holds usable - requested (blocks >= 32 MiB)
//   bits  7..38  stack id (track::stack_frames)
//   bits 39..63  size: requested bytes (25 bits), or the slack when bit 6 is set; all ones
//                with bit 6 set means "unknown, use the usable size"
#pragma once
#include <cstdint>

#include "track/track.h"

namespace mpshim::track::tag {

constexpr uint64_t kIgnored = 1u << 4;
constexpr uint64_t kInternal = 1u << 5;
constexpr uint64_t kSlack = 1u << 6;
constexpr int kStackShift = 7;
constexpr int kSizeShift = 39;
constexpr uint64_t kSizeMax = (uint64_t(1) << (64 - kSizeShift)) - 1;

/// True when a block with this requested size needs the usable size to be encoded.
constexpr bool needs_usable(uint64_t size) { return size >= kSizeMax; }

/// Builds a tag. `usable` is only read when needs_usable(size).
constexpr uint64_t make(Kind kind, uint64_t flags, uint32_t stack, uint64_t size,
                        uint64_t usable = 0) {
  uint64_t t = uint64_t(kind) | flags | (uint64_t(stack) << kStackShift);
  if (!needs_usable(size)) return t | (size << kSizeShift);
  uint64_t slack = usable >= size ? usable - size : kSizeMax;
  if (slack > kSizeMax) slack = kSizeMax;
  return t | kSlack | (slack << kSizeShift);
}

constexpr Kind kind(uint64_t t) { return Kind(t & 15); }
constexpr bool live(uint64_t t) { return (t & 15) != 0; }
constexpr bool ignored(uint64_t t) { return (t & kIgnored) != 0; }
constexpr bool internal(uint64_t t) { return (t & kInternal) != 0; }
constexpr uint32_t stack(uint64_t t) { return uint32_t(t >> kStackShift); }

/// Requested size of the block; `usable` is its usable size (only read for big blocks).
constexpr uint64_t size(uint64_t t, uint64_t usable) {
  uint64_t field = t >> kSizeShift;
  if ((t & kSlack) == 0) return field;
  if (field == kSizeMax || field > usable) return usable;
  return usable - field;
}

}  // namespace mpshim::track::tag
