// Compiler helpers shared by every layer.
#pragma once

#define MPSHIM_LIKELY(x) __builtin_expect(!!(x), 1)
#define MPSHIM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MPSHIM_INLINE inline __attribute__((always_inline))
#define MPSHIM_NOINLINE __attribute__((noinline))
#define MPSHIM_COLD __attribute__((noinline, cold))
#define MPSHIM_EXPORT extern "C" __attribute__((visibility("default")))
#define MPSHIM_TLS __thread __attribute__((tls_model("initial-exec")))
