// Platform layer: every OS call the shim makes. Nothing here allocates through malloc.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::prim {

/// Maps `size` bytes of zeroed read-write memory; nullptr on failure (errno left as set).
void* os_map(size_t size);
/// Maps `size` bytes aligned to `align` (a power of two >= page size); nullptr on failure.
void* os_map_aligned(size_t size, size_t align);
/// Unmaps a range returned by os_map/os_map_aligned (or part of one).
void os_unmap(void* p, size_t size);
/// Gives the pages of a range back to the OS; they read as zero afterwards.
void os_purge(void* p, size_t size);
/// Moves the pages of mapping [old, old + old_size) to `target` (a mapping of `size` bytes
/// that it replaces), growing or shrinking it; nullptr on failure (nothing moved).
void* os_remap(void* old, size_t old_size, size_t size, void* target);
/// Makes [p, p + size) (page-aligned) readable and writable, or inaccessible (a guard page);
/// false when the kernel refuses.
bool os_protect(void* p, size_t size, bool accessible);
/// Makes [p, p + size) (page-aligned) an inaccessible guard: os_protect(p, size, false),
/// and marked apart from the pages it guards (left out of core dumps), so that the kernel
/// never merges their mappings. A change of those pages' protection then touches their own
/// mapping alone, where it would split and merge the guards' too (three times the cost).
bool os_guard(void* p, size_t size);
/// The system page size.
size_t page_size();
/// Writes all of `s` to file descriptor `fd`, retrying on EINTR and short writes.
void write_fd(int fd, const char* s, size_t n);
/// Writes all of `s` to stderr: fd 2, or the copy save_stderr (file.h) kept when the
/// program closed fd 2.
void write_err(const char* s, size_t n);
/// Monotonic clock in nanoseconds.
uint64_t now_ns();
/// Process id and kernel thread id, by system call (no cached values across fork).
int os_getpid();
int os_gettid();
/// The working directory into buf (NUL-terminated); its length, 0 when it does not fit or
/// cannot be read.
size_t os_getcwd(char* buf, size_t cap);
/// prctl(2) by system call: the result, or -1 with errno set.
long os_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4,
              unsigned long a5);
/// True for prctl's PR_SET_SECCOMP (a filter or strict mode).
bool prctl_sets_seccomp(int option);
/// The process environment (environ, or /proc/self/environ when environ is not set yet).
const char* const* environment();
/// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
size_t os_rss();
void os_close(int fd);
/// Loads a shared library by name (RTLD_NOW | RTLD_LOCAL); nullptr when it cannot, or when
/// the dynamic linker is in the middle of loading or unloading (a nested dlopen is not
/// allowed then).
void* load_library(const char* name);
/// True when library `name` is loaded already (load_library would load nothing).
bool library_loaded(const char* name);
/// The address of `symbol` in a library from load_library; nullptr when absent.
void* library_symbol(void* library, const char* symbol);
/// The name of the exported symbol that holds `addr` (dladdr); nullptr when none.
const char* symbol_at(const void* addr);
/// True when `addr` is where a module defines the symbol `name` (not a PLT entry that a
/// program taking the address of an imported function makes its canonical address).
bool defines_symbol(const void* addr, const char* name);
/// True when `addr` lies in a loaded module's segments (its code or static data).
bool in_module(const void* addr);

}  // namespace mpshim::prim
