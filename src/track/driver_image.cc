#include "track/driver_image.h"

#include <link.h>

#include <cstring>

namespace mpshim::track {
namespace {

int on_object(dl_phdr_info* info, size_t, void* arg) {
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  const char* slash = strrchr(name, '/');
  const char* base = slash != nullptr ? slash + 1 : name;
  if (strncmp(base, "libcuda.so", 10) != 0) return 0;
  auto* out = static_cast<DriverImage*>(arg);
  out->text_lo = ~uintptr_t(0);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
    if ((ph.p_flags & PF_X) != 0) {
      if (lo < out->text_lo) out->text_lo = lo;
      if (hi > out->text_hi) out->text_hi = hi;
    } else if ((ph.p_flags & PF_W) != 0 && out->ndata < sizeof out->data / sizeof out->data[0]) {
      out->data[out->ndata++] = ScanRange{lo, hi};
    }
  }
  if (out->text_hi == 0) out->text_lo = 0;
  return 1;  // the first one is the driver
}

}  // namespace

bool find_driver_image(DriverImage* out) {
  *out = DriverImage{};
  dl_iterate_phdr(on_object, out);
  return out->text_hi != 0;
}

}  // namespace mpshim::track
