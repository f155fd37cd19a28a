// Multi-threaded, fork, out-of-memory and dlopen workloads, one case per run:
//   stress CASE [ARG]   exit status 0 when every check of CASE holds, failures on stderr.
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "check.h"

using check::aligned;
using check::all_zero;
using check::fill;
using check::holds;
using check::Rng;

namespace {

// A size drawn mostly small, sometimes medium, rarely large, as real programs do.
size_t random_size(Rng& r) {
  uint64_t k = r.below(1000);
  if (k < 850) return 1 + r.below(512);
  if (k < 997) return 512 + r.below(32 << 10);
  return (64 << 10) + r.below(1 << 20);
}

struct Block {
  void* p = nullptr;
  size_t n = 0;
  uint64_t seed = 0;
  enum From : uint8_t { Malloc, New, NewArray } from = Malloc;  // freed by its pair
};

void release(const Block& b) {
  if (b.from == Block::New) ::operator delete(b.p);
  else if (b.from == Block::NewArray) ::operator delete[](b.p);
  else free(b.p);
}

// Each thread keeps a table of live blocks made by every entry point, each filled with
// its own pattern, and verifies a block before it is resized or freed.
void fill_worker(int id, int ops) {
  Rng r(id + 1);
  std::vector<Block> slots(1500);
  for (int op = 0; op < ops; ++op) {
    Block& b = slots[r.below(slots.size())];
    if (b.p) {
      CHECKF(holds(b.p, b.n, b.seed), "thread %d: block of %zu corrupted", id, b.n);
      if (r.below(4) == 0 && b.from == Block::Malloc) {  // resize and keep it
        size_t n = random_size(r);
        void* q = realloc(b.p, n);
        CHECK(q != nullptr && aligned(q, 16));
        CHECK(holds(q, std::min(n, b.n), b.seed));
        b.p = q;
        b.n = n;
        b.seed = r.next();
        fill(b.p, b.n, b.seed);
        continue;
      }
      release(b);
      b.p = nullptr;
      b.from = Block::Malloc;
      continue;
    }
    size_t n = random_size(r);
    switch (r.below(5)) {
      case 0:
        b.p = calloc(1, n);
        CHECKF(b.p && all_zero(b.p, n), "calloc(%zu) not zeroed", n);
        break;
      case 1: {
        size_t a = size_t{16} << r.below(9);
        CHECK(posix_memalign(&b.p, a, n) == 0 && aligned(b.p, a));
        break;
      }
      case 2:
        b.p = ::operator new(n);
        b.from = Block::New;
        break;
      default:
        b.p = malloc(n);
    }
    CHECK(b.p != nullptr && aligned(b.p, 16));
    b.n = n;
    b.seed = r.next();
    fill(b.p, n, b.seed);
  }
  for (Block& b : slots) {
    if (!b.p) continue;
    CHECK(holds(b.p, b.n, b.seed));
    release(b);
  }
}

void case_fill() {
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i) ts.emplace_back(fill_worker, i, 60000);
  for (auto& t : ts) t.join();
}

// Producers allocate and fill; consumers on other threads verify and free. Blocks travel
// in batches so the queue lock does not dominate.
struct Queue {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::vector<Block>> batches;
  bool done = false;
};

void case_cross_thread() {
  const int kPairs = 4, kBatches = 1500, kBatch = 40;
  Queue queues[kPairs];
  std::atomic<long> consumed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < kPairs; ++i) {
    ts.emplace_back([&, i] {
      Rng r(100 + i);
      Queue& q = queues[i];
      for (int k = 0; k < kBatches; ++k) {
        std::vector<Block> batch(kBatch);
        for (Block& b : batch) {
          b.n = random_size(r);
          b.from = r.below(8) ? Block::Malloc : Block::NewArray;
          b.p = b.from == Block::NewArray ? ::operator new[](b.n) : malloc(b.n);
          b.seed = r.next();
          fill(b.p, b.n, b.seed);
        }
        std::unique_lock<std::mutex> l(q.m);
        q.cv.wait(l, [&] { return q.batches.size() < 64; });
        q.batches.push_back(std::move(batch));
        q.cv.notify_all();
      }
      std::lock_guard<std::mutex> l(q.m);
      q.done = true;
      q.cv.notify_all();
    });
    ts.emplace_back([&, i] {
      Queue& q = queues[i];
      for (;;) {
        std::unique_lock<std::mutex> l(q.m);
        q.cv.wait(l, [&] { return !q.batches.empty() || q.done; });
        if (q.batches.empty()) return;
        std::vector<Block> batch = std::move(q.batches.front());
        q.batches.pop_front();
        q.cv.notify_all();
        l.unlock();
        for (Block& b : batch) {
          CHECKF(holds(b.p, b.n, b.seed), "block of %zu corrupted in transit", b.n);
          release(b);
        }
        consumed += static_cast<long>(batch.size());
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(consumed == long{kPairs} * kBatches * kBatch);
}

// Thousands of threads that allocate, hand blocks to the main thread and exit: their
// caches must go back, so RSS stays flat.
void case_short_threads() {
  const int kThreads = 4000, kBatch = 8;
  std::mutex m;
  std::vector<Block> handed;
  size_t rss_warm = 0, rss_max = 0;
  for (int done = 0; done < kThreads; done += kBatch) {
    std::vector<std::thread> ts;
    for (int i = 0; i < kBatch; ++i)
      ts.emplace_back([&, id = done + i] {
        Rng r(id + 7);
        std::vector<Block> mine;
        for (int k = 0; k < 200; ++k) {
          Block b;
          b.n = r.below(100) ? 16 + r.below(2048) : 64 << 10;
          b.p = malloc(b.n);
          b.seed = id * 1000 + k;
          fill(b.p, b.n, b.seed);
          mine.push_back(b);
        }
        std::lock_guard<std::mutex> l(m);
        for (size_t k = 0; k < mine.size(); ++k) {
          if (k % 30 == 0)
            handed.push_back(mine[k]);  // freed by the main thread
          else
            free(mine[k].p);
        }
      });
    for (auto& t : ts) t.join();
    for (Block& b : handed) {
      CHECK(holds(b.p, b.n, b.seed));
      free(b.p);
    }
    handed.clear();
    size_t rss = check::rss_bytes();
    if (done == 400) rss_warm = rss;
    if (done > 400) rss_max = std::max(rss_max, rss);
  }
  printf("rss after 400 threads %zu KiB, highest later %zu KiB\n", rss_warm >> 10,
         rss_max >> 10);
  CHECKF(rss_max <= rss_warm + (48 << 20), "RSS grew by %zu KiB over %d threads",
         (rss_max - rss_warm) >> 10, kThreads);
}

// Children forked while other threads allocate must be able to allocate (no lock left held).
void case_fork() {
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int i = 0; i < 2; ++i)
    ts.emplace_back([&, i] {
      Rng r(i + 50);
      std::vector<void*> v(256);
      while (!stop) {
        void*& p = v[r.below(v.size())];
        free(p);
        size_t n = 1 + r.below(r.below(8) ? 1024 : 256 << 10);
        p = malloc(n);
        memset(p, 1, n < 8 ? n : 8);
      }
      for (void* p : v) free(p);
    });
  const int kForks = 100;
  for (int i = 0; i < kForks; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      Rng r(i);
      std::vector<Block> v;
      for (int k = 0; k < 1000; ++k) {
        Block b;
        b.n = 1 + r.below(r.below(10) ? 2048 : 128 << 10);
        b.p = malloc(b.n);
        if (!b.p) _exit(3);
        b.seed = k;
        fill(b.p, b.n, b.seed);
        v.push_back(b);
      }
      for (Block& b : v) {
        if (!holds(b.p, b.n, b.seed)) _exit(4);
        free(b.p);
      }
      std::thread t([] { free(malloc(1000)); });  // a new thread in the child, too
      t.join();
      if (i == kForks - 1) exit(0);  // one child runs the normal exit path
      _exit(0);
    }
    CHECK(pid > 0);
    int status = -1;
    int waited_ms = 0;
    while (waitpid(pid, &status, WNOHANG) == 0 && waited_ms < 20000) {
      usleep(1000);
      ++waited_ms;
    }
    if (waited_ms >= 20000) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      CHECKF(false, "child %d hung (deadlock after fork?)", i);
      break;
    }
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %#x", i, status);
  }
  stop = true;
  for (auto& t : ts) t.join();
}

size_t vm_size() {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long size = 0;
  if (f) {
    if (fscanf(f, "%lu", &size) != 1) size = 0;
    fclose(f);
  }
  return size * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Under RLIMIT_AS every entry point fails cleanly with ENOMEM, and works again after frees.
void case_oom() {
  // Bookkeeping is reserved up front or kept inside the blocks: the test itself must not
  // need memory once the limit is reached.
  std::vector<void*> big;
  big.reserve(100000);
  void* small = nullptr;  // a list threaded through the small blocks
  size_t big_n = 0, small_n = 0;
  rlimit rl{};
  getrlimit(RLIMIT_AS, &rl);
  rl.rlim_cur = vm_size() + (256 << 20);
  CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
  for (;;) {
    errno = 0;
    void* p = malloc(1 << 20);
    if (!p) {
      CHECKF(errno == ENOMEM, "malloc failed with errno %d", errno);
      break;
    }
    memset(p, 1, 4096);
    big.push_back(p);
    if (big.size() == big.capacity()) break;
  }
  big_n = big.size();
  for (;;) {
    errno = 0;
    void* p = malloc(48);
    if (!p) {
      CHECKF(errno == ENOMEM, "small malloc failed with errno %d", errno);
      break;
    }
    *static_cast<void**>(p) = small;
    small = p;
    if (++small_n > 20000000) break;
  }
  CHECK(small_n < 20000000);
  errno = 0;
  CHECK(calloc(1, 8 << 20) == nullptr && errno == ENOMEM);
  void* kept = big.empty() ? nullptr : big.back();
  if (kept) {
    big.pop_back();
    fill(kept, 1 << 20, 5);
    errno = 0;
    CHECK(realloc(kept, 64 << 20) == nullptr && errno == ENOMEM);
    CHECK(holds(kept, 1 << 20, 5));
  }
  void* al = nullptr;
  CHECK(posix_memalign(&al, 4096, 64 << 20) == ENOMEM);
  bool threw = false;
  try {
    check::keep(::operator new(64 << 20));
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  CHECK(threw);
  free(kept);
  for (void* p : big) free(p);
  while (small) {
    void* next = *static_cast<void**>(small);
    free(small);
    small = next;
  }
  printf("before failure: %zu blocks of 1 MiB, then %zu of 48 bytes\n", big_n, small_n);
  CHECK(big_n >= 100 && big_n < 300);
  // Everything was freed: blocks of another size must fit again, whatever was cached.
  std::vector<void*> again;
  again.reserve(40);
  for (int i = 0; i < 40; ++i) {
    void* p = malloc(4 << 20);
    CHECKF(p != nullptr, "4 MiB block %d failed after freeing everything", i);
    if (!p) break;
    memset(p, 2, 4 << 20);
    again.push_back(p);
  }
  for (int i = 0; i < 100000; ++i) {
    void* p = malloc(100);
    CHECK(p != nullptr);
    free(p);
  }
  for (void* p : again) free(p);
}

// A library that allocates in its constructor, destructor and functions, opened and
// closed many times, with blocks passing between it and the program.
void case_dlopen(const char* lib) {
  for (int round = 0; round < 150; ++round) {
    void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    CHECKF(h != nullptr, "dlopen: %s", dlerror());
    if (!h) return;
    auto make = reinterpret_cast<char* (*)(size_t)>(dlsym(h, "e2e_dl_make"));
    auto take = reinterpret_cast<int (*)(char*, size_t)>(dlsym(h, "e2e_dl_take"));
    auto work = reinterpret_cast<long (*)(int)>(dlsym(h, "e2e_dl_work"));
    CHECK(make && take && work);
    if (!(make && take && work)) return;
    for (size_t n : {size_t{10}, size_t{1000}, size_t{200000}}) {
      char* p = make(n);  // the library's block, freed here
      CHECK(p && p[0] == 'd' && p[n - 2] == 'd' && p[n - 1] == 0);
      free(p);
      char* q = static_cast<char*>(malloc(n));  // our block, freed by the library
      memset(q, 'm', n);
      CHECK(take(q, n) == 1);
    }
    CHECK(work(round) == 3L * (round % 7 + 100));
    CHECK(dlclose(h) == 0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: stress CASE [LIB]\n");
    return 2;
  }
  std::string c = argv[1];
  if (c == "fill") {
    case_fill();
  } else if (c == "cross_thread") {
    case_cross_thread();
  } else if (c == "short_threads") {
    case_short_threads();
  } else if (c == "fork") {
    case_fork();
  } else if (c == "oom") {
    case_oom();
  } else if (c == "dlopen" && argc == 3) {
    case_dlopen(argv[2]);
  } else {
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
  }
  printf("%s: %d failure(s)\n", argv[1], check::failures.load());
  return check::failures ? 1 : 0;
}
