// CPU time of the calling thread, for the ns/op figures the tests print (less sensitive to
// other load on the machine than wall time).
#pragma once
#include <ctime>

namespace mpshim::track {

inline double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

}  // namespace mpshim::track
