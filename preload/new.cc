// C++ operator new and delete in every form, straight to the allocator (a sized delete's
// size goes along: the checks compare it with the block's).
#include <cstddef>
#include <new>

#include "entry/entry.h"

using namespace mpshim;
using std::align_val_t;
using std::nothrow_t;

#define NEW_EXPORT __attribute__((visibility("default")))

NEW_EXPORT void* operator new(size_t n) { return entry::op_new(n, 16, false, false); }
NEW_EXPORT void* operator new[](size_t n) { return entry::op_new(n, 16, true, false); }
NEW_EXPORT void* operator new(size_t n, const nothrow_t&) noexcept { return entry::op_new(n, 16, false, true); }
NEW_EXPORT void* operator new[](size_t n, const nothrow_t&) noexcept { return entry::op_new(n, 16, true, true); }
NEW_EXPORT void* operator new(size_t n, align_val_t a) { return entry::op_new(n, size_t(a), false, false); }
NEW_EXPORT void* operator new[](size_t n, align_val_t a) { return entry::op_new(n, size_t(a), true, false); }
NEW_EXPORT void* operator new(size_t n, align_val_t a, const nothrow_t&) noexcept { return entry::op_new(n, size_t(a), false, true); }
NEW_EXPORT void* operator new[](size_t n, align_val_t a, const nothrow_t&) noexcept { return entry::op_new(n, size_t(a), true, true); }

NEW_EXPORT void operator delete(void* p) noexcept { entry::free(p, track::Dealloc::Delete); }
NEW_EXPORT void operator delete[](void* p) noexcept { entry::free(p, track::Dealloc::DeleteArray); }
NEW_EXPORT void operator delete(void* p, const nothrow_t&) noexcept { entry::free(p, track::Dealloc::Delete); }
NEW_EXPORT void operator delete[](void* p, const nothrow_t&) noexcept { entry::free(p, track::Dealloc::DeleteArray); }
NEW_EXPORT void operator delete(void* p, size_t n) noexcept { entry::free(p, track::Dealloc::Delete, n); }
NEW_EXPORT void operator delete[](void* p, size_t n) noexcept { entry::free(p, track::Dealloc::DeleteArray, n); }
NEW_EXPORT void operator delete(void* p, align_val_t) noexcept { entry::free(p, track::Dealloc::Delete); }
NEW_EXPORT void operator delete[](void* p, align_val_t) noexcept { entry::free(p, track::Dealloc::DeleteArray); }
NEW_EXPORT void operator delete(void* p, size_t n, align_val_t) noexcept { entry::free(p, track::Dealloc::Delete, n); }
NEW_EXPORT void operator delete[](void* p, size_t n, align_val_t) noexcept { entry::free(p, track::Dealloc::DeleteArray, n); }
NEW_EXPORT void operator delete(void* p, align_val_t, const nothrow_t&) noexcept { entry::free(p, track::Dealloc::Delete); }
NEW_EXPORT void operator delete[](void* p, align_val_t, const nothrow_t&) noexcept { entry::free(p, track::Dealloc::DeleteArray); }
