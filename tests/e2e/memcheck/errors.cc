// One memory error per run, chosen by argv[1]; prints "survived" when the program goes on
// after it (MPSHIM_ON_ERROR=report). Blocks come from make_block and go to release_block,
// whose names the tests look for in the reported stacks.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

void* g_kept[64];

// The process's resident bytes, -1 when unknown.
long resident_bytes() {
  long pages = 0, rss = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr || fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
  if (f != nullptr) fclose(f);
  return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

// A block with all of its pages written, as programs write theirs (full mode writes only
// the first 64 KiB of a block on pages mapped for it).
char* written(char* p, size_t n) {
  memset(p, 1, n);
  return p;
}

extern "C" __attribute__((noinline)) char* make_block(size_t n) {
  char* p = static_cast<char*>(malloc(n));
  asm volatile("" ::"r"(p) : "memory");
  return p;
}
extern "C" __attribute__((noinline)) void release_block(void* p) {
  asm volatile("" ::"r"(p) : "memory");
  free(p);
}
extern "C" __attribute__((noinline)) char* resize_block(char* p, size_t n) {
  asm volatile("" ::"r"(p) : "memory");
  return static_cast<char*>(realloc(p, n));
}
extern "C" __attribute__((noinline)) void write_byte(char* p, long i) {
  asm volatile("" ::"r"(p) : "memory");
  p[i] = 1;
}
extern "C" __attribute__((noinline)) char read_byte(const char* p, long i) {
  asm volatile("" ::"r"(p) : "memory");
  return *static_cast<const volatile char*>(p + i);
}
extern "C" __attribute__((noinline)) int* make_object() { return new int(3); }
extern "C" __attribute__((noinline)) int* make_array() { return new int[3]; }
extern "C" __attribute__((noinline)) void delete_object(int* p) { delete p; }
// A sized delete of a bigger type than the block was made for (no virtual destructor).
struct Wide {
  long words[9];
};
extern "C" __attribute__((noinline)) void delete_wide(Wide* p) { delete p; }

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* c = argv[1];
  if (!strcmp(c, "overflow1")) {
    char* p = make_block(10);
    write_byte(p, 10);
    release_block(p);
  } else if (!strcmp(c, "overflow100")) {
    char* p = make_block(1000);
    memset(p + 1000, 1, 100);
    release_block(p);
  } else if (!strcmp(c, "underflow")) {
    char* p = make_block(32);
    write_byte(p, -1);
    release_block(p);
  } else if (!strcmp(c, "underflow_kept")) {
    // Never freed: found by the check at exit.
    g_kept[0] = make_block(32);
    write_byte(static_cast<char*>(g_kept[0]), -1);
  } else if (!strcmp(c, "double")) {
    char* p = make_block(32);
    release_block(p);
    release_block(p);
  } else if (!strcmp(c, "double_large")) {
    // Two large blocks freed: together they overflow light's quarantine and full's
    // inaccessible freed pages, so the first has been given back to the allocator or
    // unmapped by the time it is freed again.
    char* a = make_block(size_t(2) << 20);
    char* b = make_block(size_t(3) << 20);
    release_block(a);
    release_block(b);
    release_block(a);
  } else if (!strcmp(c, "interior")) {
    char* p = make_block(32);
    release_block(p + 8);
  } else if (!strcmp(c, "free_before")) {
    // One byte before a 1-byte block: a front redzone (full) or a sampled block's slack.
    char* p = make_block(1);
    release_block(p - 1);
  } else if (!strcmp(c, "free_past")) {
    char* p = make_block(1);
    release_block(p + 1);
  } else if (!strcmp(c, "never")) {
    // A small block's 4 MiB chunk starts with the allocator's header: never a block.
    char* p = make_block(32);
    release_block(reinterpret_cast<void*>(uintptr_t(p) & ~((uintptr_t(1) << 22) - 1)));
  } else if (!strcmp(c, "stack_free")) {
    char local[64];
    asm volatile("" ::"r"(local) : "memory");
    release_block(local + 8);
  } else if (!strcmp(c, "global_free")) {
    static char table[64];
    release_block(table + 16);
  } else if (!strcmp(c, "unmapped_free")) {
    // A page mapped and given back: nothing is mapped there any more.
    void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || munmap(m, 4096) != 0) return 7;
    release_block(static_cast<char*>(m) + 16);
  } else if (!strcmp(c, "mapped_free")) {
    // The program's own mapping: no heap of the shim's, but maybe another allocator's.
    void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 7;
    release_block(static_cast<char*>(m) + 16);
  } else if (!strcmp(c, "sized_delete")) {
    delete_wide(reinterpret_cast<Wide*>(make_object()));
  } else if (!strcmp(c, "new_free")) {
    release_block(make_object());
  } else if (!strcmp(c, "newarray_delete")) {
    delete_object(make_array());
  } else if (!strcmp(c, "malloc_delete")) {
    delete_object(reinterpret_cast<int*>(make_block(4)));
  } else if (!strcmp(c, "write_after_free")) {
    char* p = make_block(64);
    release_block(p);
    write_byte(p, 3);
  } else if (!strcmp(c, "quarantine_holds") || !strcmp(c, "quarantine_bound")) {
    // A block written after its free, then 5 MiB (or 20) of other blocks freed: within the
    // 16 MiB quarantine the block stays there till exit; past it, it leaves.
    char* p = make_block(64);
    release_block(p);
    write_byte(p, 3);
    int n = !strcmp(c, "quarantine_holds") ? 160 : 640;
    for (int i = 0; i < n; ++i) release_block(make_block(32 << 10));
  } else if (!strcmp(c, "guard")) {
    char* p = make_block(100000);
    write_byte(p, 100000);
    release_block(p);
  } else if (!strcmp(c, "guard_spare") || !strcmp(c, "guard_spare_underflow")) {
    // Blocks above 64 KiB freed past the quarter of the quarantine (4 MiB): the oldest
    // leave their time inaccessible, and their mappings wait, pages resident, for new
    // blocks. The next one takes one over (its pages written without a fault), cut to its
    // size below a guard page of its own and above one made of the old block's pages.
    for (int i = 0; i < 12; ++i) release_block(written(make_block(512 << 10), 512 << 10));
    rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    char* p = make_block(100000);
    getrusage(RUSAGE_SELF, &after);
    if (after.ru_minflt - before.ru_minflt >= 10) return 9;  // mapped afresh
    write_byte(p, !strcmp(c, "guard_spare") ? 100000 : -4096);
    release_block(p);
  } else if (!strcmp(c, "guard_spare_rest")) {
    // A spare larger than the block taking it over keeps its pages below as a spare of
    // its own: a 1 MiB block's mapping, pushed out by 80 freed blocks of 68 KiB (too small
    // for what follows, and on spares of their size), holds two blocks of 100,000 bytes,
    // the second on pages the first left, under a guard page of its own.
    for (int i = 0; i < 80; ++i) release_block(written(make_block(68 << 10), 68 << 10));
    release_block(written(make_block(1 << 20), 1 << 20));
    for (int i = 0; i < 80; ++i) release_block(written(make_block(68 << 10), 68 << 10));
    char* p = make_block(100000);
    rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    char* q = make_block(100000);
    getrusage(RUSAGE_SELF, &after);
    if (after.ru_minflt - before.ru_minflt >= 10) return 9;  // mapped afresh
    if (q >= p) return 10;  // not below it
    write_byte(q, 100000);
    release_block(q);
    release_block(p);
  } else if (!strcmp(c, "sample_overflow")) {
    char* p = make_block(64);
    write_byte(p, 64);
    release_block(p);
  } else if (!strcmp(c, "sample_reused")) {
    // Sampled blocks whose pages newer ones took over (16 slots): the guard page still faults.
    for (int i = 0; i < 40; ++i) release_block(make_block(64));
    char* p = make_block(64);
    write_byte(p, 64);
    release_block(p);
  } else if (!strcmp(c, "sample_thread_first")) {
    // A thread's first allocation is sampled too (MPSHIM_SAMPLE_RATE=1).
    pthread_t t;
    auto first = [](void*) -> void* {
      char* p = make_block(64);
      write_byte(p, 64);
      release_block(p);
      return nullptr;
    };
    if (pthread_create(&t, nullptr, first, nullptr) != 0 || pthread_join(t, nullptr) != 0) return 10;
  } else if (!strcmp(c, "double_reused")) {
    // A sampled block freed twice after newer sampled blocks took its page over (16 slots):
    // a double free of it, not a bad free inside the block on its page now.
    char* p = make_block(16);
    release_block(p);
    for (int i = 0; i < 40; ++i) release_block(make_block(200));
    release_block(p);
  } else if (!strcmp(c, "sample_fault_once")) {
    // A write that runs through a sampled block's slack into its guard page: one report,
    // the fault's, not the slack's again at free.
    char* p = make_block(17);
    for (long i = 17; i < 40; ++i) write_byte(p, i);
    release_block(p);
  } else if (!strcmp(c, "freed_next")) {
    // A list freed node by node, the next pointer read from the node just freed.
    struct Node {
      Node* next;
      long v;
    };
    Node* head = nullptr;
    for (int i = 0; i < 4; ++i) {
      Node* n = reinterpret_cast<Node*>(make_block(sizeof(Node)));
      n->next = head;
      head = n;
    }
    Node* n = head;
    release_block(n);
    n = n->next;  // read after free: the fill of freed blocks
    release_block(n);
  } else if (!strcmp(c, "realloc_in_place")) {
    // Light reallocates in place where the slot holds the new size and its redzone (a
    // 100-byte block's slot has room for 4 more): the redzone moves to the new end.
    char* p = make_block(100);
    char* q = resize_block(p, 104);
    if (q != p) return 8;
    write_byte(q, 104);
    release_block(q);
  } else if (!strcmp(c, "realloc_grown_over") || !strcmp(c, "realloc_grown_past")) {
    // Grown in place, the block takes bytes of its redzone: what was written there is an
    // overflow of the old block, found by the realloc; an overflow past the new end stays
    // in the redzone, found at the free.
    char* p = make_block(100);
    write_byte(p, !strcmp(c, "realloc_grown_over") ? 101 : 110);
    if (resize_block(p, 104) != p) return 8;
    release_block(p);
  } else if (!strcmp(c, "new_realloc")) {
    // realloc of operator new's block, which its slot would hold in place.
    resize_block(reinterpret_cast<char*>(make_object()), 8);
  } else if (!strcmp(c, "sample_slots_full")) {
    // Every slot (16) holds a live sampled block, so the next blocks go unsampled, until one
    // of the sampled blocks is freed: its slot takes the next block, whose overflow faults.
    for (int i = 0; i < 16; ++i) g_kept[i] = make_block(64);
    for (int i = 0; i < 20000; ++i) release_block(make_block(64));
    release_block(static_cast<char*>(g_kept[0]));
    g_kept[0] = nullptr;
    char* p = make_block(64);
    write_byte(p, 64);
    release_block(p);
  } else if (!strcmp(c, "sample_underflow")) {
    // A sampled block of a whole page starts on its page: an underflow lands in the guard
    // page below.
    char* p = make_block(4096);
    write_byte(p, -32);
    release_block(p);
  } else if (!strcmp(c, "sample_uaf")) {
    char* p = make_block(64);
    release_block(p);
    write_byte(p, 0);
  } else if (!strcmp(c, "sample_freed_underflow")) {
    // A read just before a freed sampled block, in its inaccessible page.
    char* p = make_block(1);
    release_block(p);
    read_byte(p, -1);
  } else if (!strcmp(c, "sample_freed_overflow")) {
    // A read just past a freed sampled block of a whole page, in its guard page.
    char* p = make_block(4096);
    release_block(p);
    read_byte(p, 4096);
  } else if (!strcmp(c, "usable")) {
    // Every byte malloc_usable_size gives is the program's, and realloc keeps them all.
    for (int i = 0; i < 3000; ++i) {
      size_t n = size_t(i) % 700 + 1;
      auto* p = reinterpret_cast<unsigned char*>(make_block(n));
      size_t u = malloc_usable_size(p);
      if (u < n) return 4;
      for (size_t k = 0; k < u; ++k) p[k] = static_cast<unsigned char>(k * 31 + size_t(i));
      p = static_cast<unsigned char*>(realloc(p, i % 3 == 0 ? u / 2 + 1 : 2 * u + 9));
      size_t kept = i % 3 == 0 ? u / 2 + 1 : u;
      for (size_t k = 0; k < kept; ++k)
        if (p[k] != static_cast<unsigned char>(k * 31 + size_t(i))) return 5;
      release_block(p);
    }
  } else if (!strcmp(c, "uninit")) {
    // Full mode: a new block reads as 0xbe, and a big one on pages mapped for it only in
    // its first 64 KiB: its other pages (48 MiB) stay untouched, not resident.
    auto* small = reinterpret_cast<volatile unsigned char*>(make_block(100));
    for (int k = 0; k < 100; ++k)
      if (small[k] != 0xbe) return 11;
    long before = resident_bytes();
    auto* big = reinterpret_cast<volatile unsigned char*>(make_block(48 << 20));
    long grew = resident_bytes() - before;
    if (before < 0 || grew > (8 << 20)) return 12;
    if (big[0] != 0xbe || big[(64 << 10) - 1] != 0xbe) return 13;
    if (big[64 << 10] != 0 || big[(40 << 20) + 5] != 0) return 14;
    release_block(const_cast<unsigned char*>(big));
    release_block(const_cast<unsigned char*>(small));
  } else if (!strcmp(c, "calloc")) {
    // calloc's blocks are zero in every size, on memory other blocks wrote and freed, and
    // a big one the program barely touches stays out of its resident memory.
    const size_t sizes[] = {24, 3000, 100000, 1 << 20, 8 << 20};
    for (int round = 0; round < 3; ++round)
      for (size_t n : sizes) {
        release_block(written(make_block(n), n));
        auto* z = static_cast<unsigned char*>(calloc(1, n));
        for (size_t k = 0; k < n; ++k)
          if (z[k] != 0) return 15;
        release_block(written(reinterpret_cast<char*>(z), n));
      }
    long before = resident_bytes();
    auto* big = static_cast<volatile char*>(calloc(256, 1 << 20));
    big[12345] = 1;
    if (resident_bytes() - before > (16 << 20) || big[200 << 20] != 0) return 16;
    release_block(const_cast<char*>(big));
  } else if (!strcmp(c, "guard_neighbour")) {
    // A mapping of the program's right above a guarded block's guard page (MPSHIM_SAMPLE_RATE=1:
    // every block is guarded), holding the only pointer to a block: it must not be taken
    // for a dead thread's stack above its guard page, and the block is no leak.
    long page = sysconf(_SC_PAGESIZE);
    for (int i = 0; i < 64; ++i) {
      void* r = mmap(nullptr, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (r == MAP_FAILED) return 6;
      char* p = make_block(100);
      uintptr_t guard_end = ((uintptr_t(p) + 100 + uintptr_t(page) - 1) & ~uintptr_t(page - 1)) + uintptr_t(page);
      if (guard_end == uintptr_t(r)) {
        static_cast<void**>(r)[0] = p;
        static_cast<void**>(r)[100] = make_block(40);
        printf("adjacent\n");
        break;
      }
      g_kept[i] = p;  // reachable, as the mappings stay
    }
  } else if (!strcmp(c, "threads")) {
    // Threads started and joined: the dynamic linker allocates their TLS vectors and keeps
    // one with the cached stack of a finished thread, which only that stack points to.
    for (int i = 0; i < 8; ++i) {
      pthread_t t;
      if (pthread_create(&t, nullptr, [](void* a) -> void* { return a; }, nullptr) != 0) return 7;
      pthread_join(t, nullptr);
    }
  } else if (!strcmp(c, "clean")) {
    // Every allocation function, right sizes and pairs: no report at all.
    for (int i = 0; i < 2000; ++i) {
      char* p = make_block(size_t(i) * 7 + 1);
      memset(p, 1, size_t(i) * 7 + 1);
      p = static_cast<char*>(realloc(p, size_t(i) * 13 + 5));
      memset(p, 2, size_t(i) * 13 + 5);
      release_block(p);
      delete_object(make_object());
      int* a = make_array();
      delete[] a;
      void* q = nullptr;
      if (posix_memalign(&q, 64, 100) == 0) memset(q, 3, 100);
      free(q);
      char* z = static_cast<char*>(calloc(3, 50));
      if (z[149] != 0) return 3;
      free(z);
    }
  } else {
    return 2;
  }
  printf("survived\n");
  return 0;
}
