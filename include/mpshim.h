/* mpshim public API.
 *
 * A program preloaded with libmpshim.so may call these functions. They are declared weak,
 * so a program that includes this header runs unchanged without the shim: test the
 * function's address first, e.g. `if (mpshim_get_stats) mpshim_get_stats(&s, sizeof s);`.
 * Linking with -lmpshim (pkg-config mpshim) makes them strong references instead.
 */
#ifndef MPSHIM_H
#define MPSHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPSHIM_VERSION_MAJOR 0
#define MPSHIM_VERSION_MINOR 1

#if defined(__GNUC__) && !defined(MPSHIM_BUILDING)
#define MPSHIM_API __attribute__((weak))
#else
#define MPSHIM_API
#endif

/** Process-wide allocation statistics of the host allocator. */
typedef struct mpshim_stats {
  uint64_t allocated;     /**< bytes in live blocks (usable sizes) */
  uint64_t peak;          /**< highest value of `allocated` */
  uint64_t reserved;      /**< bytes mapped from the OS and not yet returned */
  uint64_t peak_reserved; /**< highest value of `reserved` */
  uint64_t mallocs;       /**< allocations so far */
  uint64_t frees;         /**< frees so far */
  uint64_t live_blocks;   /**< mallocs - frees */
  uint64_t purged;        /**< bytes given back to the OS so far */
} mpshim_stats;

/** The library version as "MAJOR.MINOR.PATCH". */
MPSHIM_API const char* mpshim_version(void);

/** Fills the first `size` bytes of `*out` (pass sizeof *out); returns 0, or -1 when the
 *  host allocator is off (MPSHIM_HOST=off). */
MPSHIM_API int mpshim_get_stats(mpshim_stats* out, size_t size);

/** Runs a leak check now and prints the report as at exit (like __lsan_do_leak_check).
 *  Returns 1 when direct or indirect leaks were found, 0 otherwise, -1 when tracking is off. */
MPSHIM_API int mpshim_leak_check(void);

/** Never reports the block starting at `p` as a leak (like __lsan_ignore_object). */
MPSHIM_API void mpshim_ignore(const void* p);

/** Stops recording allocations made by the calling thread until the matching
 *  mpshim_enable_tracking(); calls nest (like __lsan_disable/__lsan_enable). */
MPSHIM_API void mpshim_disable_tracking(void);
MPSHIM_API void mpshim_enable_tracking(void);

/** Gives cached free memory back to the OS now; returns 1 if some was released. */
MPSHIM_API int mpshim_trim(void);

/** The CUDA cache's counters for one device (both pools together). */
typedef struct mpshim_cuda_stats {
  int32_t device;          /**< CUDA device ordinal */
  uint64_t allocated;      /**< bytes in live blocks (rounded to 512 B) */
  uint64_t peak_allocated; /**< highest value of `allocated` since start or the last reset */
  uint64_t reserved;       /**< bytes held from the driver (live and cached) */
  uint64_t peak_reserved;  /**< highest value of `reserved` since start or the last reset */
  uint64_t hits;           /**< allocations served from the cache */
  uint64_t misses;         /**< allocations that needed memory from the driver */
} mpshim_cuda_stats;

/** Fills up to `max` entries of `out` (each `size` bytes: pass sizeof *out), one per device
 *  the cache has served, and returns how many devices there are (may exceed `max`); -1 when
 *  the CUDA cache is off (MPSHIM_CUDA=track or off). */
MPSHIM_API int mpshim_cuda_get_stats(mpshim_cuda_stats* out, size_t max, size_t size);

/** Sets every peak of the CUDA cache to its current value. */
MPSHIM_API void mpshim_cuda_reset_peaks(void);

/** Gives every unused cached device segment back to the driver, after the work that may
 *  still use it (like torch.cuda.empty_cache()); returns the bytes given back. */
MPSHIM_API uint64_t mpshim_cuda_release_cache(void);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#if defined(__cplusplus) && !defined(MPSHIM_BUILDING)
/** Scope guard: allocations in its lifetime are not tracked. */
struct mpshim_untracked_scope {
  mpshim_untracked_scope() { if (mpshim_disable_tracking) mpshim_disable_tracking(); }
  ~mpshim_untracked_scope() { if (mpshim_enable_tracking) mpshim_enable_tracking(); }
  mpshim_untracked_scope(const mpshim_untracked_scope&) = delete;
  mpshim_untracked_scope& operator=(const mpshim_untracked_scope&) = delete;
};
#endif

#endif /* MPSHIM_H */
