// Files and directories by system calls: nothing here allocates, and errno is left as it
// was. The leak check reads /proc with these, the report its suppressions and debug files.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::prim {

/// Reads up to `cap` bytes of file `path` into `buf`, retrying on EINTR and short reads.
/// Returns the count read (== cap when the file may be longer), or -1 when it cannot be
/// opened or read.
long read_file(const char* path, char* buf, size_t cap);

/// The path of this process's /proc file `name` ("maps", "exe", "fd/3") in `out`: under
/// /proc/self, or, once the main thread has ended with pthread_exit (/proc/self's maps, exe
/// and fd are empty then), under /proc/thread-self, the calling thread's view (Linux 3.17).
const char* proc_file(const char* name, char* out, size_t cap);

/// Calls fn with the name of every entry of directory `path` ("." and ".." included).
/// False when it cannot be opened.
bool list_dir(const char* path, void (*fn)(const char* name, void* ctx), void* ctx);

/// Maps file `path` read-only (private); its size in `*size`. nullptr when it cannot be
/// opened or mapped, or is empty. Unmap with os_unmap.
const void* map_file(const char* path, size_t* size);

/// The target of symbolic link `path` (not terminated); its length, or -1.
long read_link(const char* path, char* buf, size_t cap);

/// The path the program was started by: execve's first argument (AT_EXECFN), which for a
/// program run through a symbolic link is the link's; "" when unknown.
const char* exec_path();

/// True when paths `a` and `b` name the same file, symbolic links followed.
bool same_file(const char* a, const char* b);

/// Calls fn(lo, hi, ctx) with each run of at least `min_bytes` of [lo, hi) (page-aligned)
/// whose pages are neither in memory nor in swap (/proc/self/pagemap): a private mapping's
/// pages the process never touched, or gave back, which hold nothing it wrote. Reading them
/// would fault each one in. False when pagemap cannot be read (the runs passed to fn before
/// still hold).
bool for_each_untouched(uintptr_t lo, uintptr_t hi, size_t min_bytes,
                        void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);

/// open(2) itself (the openat system call), for the link-time wrapper of `open`.
int os_open(const char* path, int flags, int mode);

}  // namespace mpshim::prim
