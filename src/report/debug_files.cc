#include "report/debug_files.h"

#include <elf.h>
#include <fcntl.h>  // O_CREAT and O_TMPFILE: when open's third argument is there

#include <cerrno>
#include <cstdarg>
#include <cstring>

#include "config/options.h"
#include "prim/fs.h"
#include "prim/os.h"

namespace mpshim::report {
namespace {

constexpr char kDebugDir[] = "/usr/lib/debug/";

// The symbol table of one debug file, mapped for the rest of the process.
struct DebugFile {
  uint8_t id[20];  // the build id (its first 20 bytes: GNU ids are SHA-1)
  size_t id_len;
  const Elf64_Sym* syms;
  size_t nsyms;
  const char* strtab;
  size_t strsize;
};
constexpr size_t kMaxFiles = 64;
DebugFile g_files[kMaxFiles];  // guarded by the symboliser's lock
size_t g_nfiles = 0;

bool inside(size_t size, uint64_t off, uint64_t len) { return off <= size && len <= size - off; }

void load(DebugFile* f, const uint8_t* id, size_t len) {
  static const char kHex[] = "0123456789abcdef";
  char path[256] = "/usr/lib/debug/.build-id/";
  size_t n = strlen(path);
  for (size_t i = 0; i < len && n + 16 < sizeof path; ++i) {
    path[n++] = kHex[id[i] >> 4];
    path[n++] = kHex[id[i] & 15];
    if (i == 0) path[n++] = '/';
  }
  memcpy(path + n, ".debug", 7);
  size_t size = 0;
  const void* map = prim::map_file(path, &size);
  if (map == nullptr) return;
  if (size < sizeof(Elf64_Ehdr)) {
    prim::os_unmap(const_cast<void*>(map), size);
    return;
  }
  const auto* base = static_cast<const uint8_t*>(map);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
      eh->e_shentsize == sizeof(Elf64_Shdr) &&
      inside(size, eh->e_shoff, uint64_t(eh->e_shnum) * sizeof(Elf64_Shdr))) {
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; ++i) {
      const Elf64_Shdr& sym = sh[i];
      if (sym.sh_type != SHT_SYMTAB || sym.sh_link >= eh->e_shnum) continue;
      const Elf64_Shdr& str = sh[sym.sh_link];
      if ((sym.sh_flags | str.sh_flags) & SHF_COMPRESSED) break;
      if (!inside(size, sym.sh_offset, sym.sh_size) || !inside(size, str.sh_offset, str.sh_size))
        break;
      f->syms = reinterpret_cast<const Elf64_Sym*>(base + sym.sh_offset);
      f->nsyms = sym.sh_size / sizeof(Elf64_Sym);
      f->strtab = reinterpret_cast<const char*>(base + str.sh_offset);
      f->strsize = str.sh_size;
      return;  // the mapping stays
    }
  }
  prim::os_unmap(const_cast<void*>(map), size);
}

}  // namespace

const char* debug_file_symbol(const uint8_t* id, size_t len, uintptr_t vaddr) {
  if (id == nullptr || len == 0) return nullptr;
  size_t key = len < sizeof g_files[0].id ? len : sizeof g_files[0].id;
  DebugFile* f = nullptr;
  for (size_t i = 0; i < g_nfiles && f == nullptr; ++i)
    if (g_files[i].id_len == len && memcmp(g_files[i].id, id, key) == 0) f = &g_files[i];
  if (f == nullptr) {
    if (g_nfiles == kMaxFiles) return nullptr;
    f = &g_files[g_nfiles++];
    memcpy(f->id, id, key);
    f->id_len = len;
    load(f, id, len);
  }
  for (size_t i = 0; i < f->nsyms; ++i) {
    const Elf64_Sym& s = f->syms[i];
    if (ELF64_ST_TYPE(s.st_info) == STT_FUNC && s.st_shndx != SHN_UNDEF &&
        vaddr - s.st_value < s.st_size && s.st_name < f->strsize)
      return f->strtab + s.st_name;
  }
  return nullptr;
}

}  // namespace mpshim::report

// Every open() of the shared object goes through here (-Wl,--wrap=open): only
// libbacktrace's opens of separate debug files are refused, unless MPSHIM_SYSTEM_DEBUG.
extern "C" __attribute__((visibility("hidden"))) int __wrap_open(const char* path, int flags, ...) {
  int mode = 0;
  if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, int);
    va_end(ap);
  }
  if (path != nullptr && strncmp(path, mpshim::report::kDebugDir, sizeof mpshim::report::kDebugDir - 1) == 0 &&
      !mpshim::config::get().system_debug) {
    errno = ENOENT;
    return -1;
  }
  return mpshim::prim::os_open(path, flags, mode);
}
