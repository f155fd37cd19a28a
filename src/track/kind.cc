#include "track/track.h"

namespace mpshim::track {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Malloc: return "malloc";
    case Kind::Calloc: return "calloc";
    case Kind::Realloc: return "realloc";
    case Kind::PosixMemalign: return "posix_memalign";
    case Kind::AlignedAlloc: return "aligned_alloc";
    case Kind::Memalign: return "memalign";
    case Kind::Valloc: return "valloc";
    case Kind::Pvalloc: return "pvalloc";
    case Kind::New: return "operator new";
    case Kind::NewArray: return "operator new[]";
    case Kind::NewAligned: return "operator new(align_val_t)";
    case Kind::NewArrayAligned: return "operator new[](align_val_t)";
    case Kind::CuMemAlloc: return "cuMemAlloc";
    case Kind::CuMemAllocPitch: return "cuMemAllocPitch";
    case Kind::CuMemAllocManaged: return "cuMemAllocManaged";
    case Kind::CuMemAllocHost: return "cuMemAllocHost";
    case Kind::CuMemHostAlloc: return "cuMemHostAlloc";
    case Kind::CuMemAllocAsync: return "cuMemAllocAsync";
    case Kind::CuMemAllocFromPoolAsync: return "cuMemAllocFromPoolAsync";
    case Kind::None: break;
  }
  return "unknown";
}

const char* memory_name(Memory m) {
  switch (m) {
    case Memory::Host: return "host";
    case Memory::Device: return "device";
    case Memory::Managed: return "managed";
    case Memory::Pinned: return "pinned";
  }
  return "unknown";
}

}  // namespace mpshim::track
