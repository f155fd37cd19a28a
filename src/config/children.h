// Which processes are followed: tracking, reports and the exit-code option apply to the
// program the user started (the first process that loads the shim with a given set of
// MPSHIM_* settings) and its forked children; programs it execs keep the allocator but are
// followed only as MPSHIM_CHILDREN says. The started program leaves its mark in the
// environment its children inherit, MPSHIM_ROOT (a hash of its MPSHIM_* settings and its
// process id), the only thing a program can observe of this. A program exec'd by the
// started one in the same process (a launcher script's `exec`, `env`, `nice`) is the
// started program still.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::config {

/// Name of the environment variable that marks the descendants of a followed program.
constexpr const char kRootVariable[] = "MPSHIM_ROOT";

/// Hash of the MPSHIM_* entries of `env` other than MPSHIM_ROOT, in any order.
uint64_t settings_hash(const char* const* env);

/// True when `path` (a path or a bare name) matches a glob of `patterns`, a comma-separated
/// list where `*` matches any run of characters (slashes included) and `?` one character.
/// A pattern with a '/' is matched against the whole path, one without against the path's
/// last component.
bool matches_children(const char* patterns, const char* path);

/// How this process relates to the program the user started.
enum class Role {
  Root,        ///< it is that program (no mark, or a mark of other settings): followed
  Followed,    ///< an exec'd descendant that MPSHIM_CHILDREN names
  NotFollowed  ///< an exec'd descendant that it does not
};

/// The role of process `pid` with environment `env`, settings hash `hash` and
/// MPSHIM_CHILDREN value `children` (none, all or patterns). `named` says whether patterns
/// name this program (matches_children on its paths); it is called only when patterns must
/// be matched, so most processes make no system call for it.
Role role(const char* const* env, uint64_t hash, int pid, const char* children,
          bool (*named)(const char* patterns));

/// Writes the mark "HASH.PID" (16 hex digits, '.', decimal pid) to `out` (at least 32 bytes).
void write_mark(uint64_t hash, int pid, char* out);

}  // namespace mpshim::config
