// The allocation profile (MPSHIM_PROFILE) as JSON: totals, the timeline, symbolised frames
// and per-stack figures of host and device memory. Schema: docs/profile-format.md.
#pragma once

namespace mpshim::report {

/// Writes the profile the tracker recorded (track/profile.h) to descriptor `fd`.
void write_profile_to(int fd, int pid, const char* exe);

/// At exit: writes the profile to MPSHIM_PROFILE (%p: pid) when profiling is on.
void write_profile();

}  // namespace mpshim::report
