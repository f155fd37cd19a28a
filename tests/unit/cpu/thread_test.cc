// Thread caches: many threads at once, blocks freed by another thread than the one that
// allocated them, caches returned when threads exit, and fork() while threads allocate.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "cpu/central.h"
#include "cpu/segment.h"
#include "cpu/size_class.h"
#include "cpu/thread_cache.h"
#include "cpu_test.h"
#include "prim/lock.h"

namespace cpu = mpshim::cpu;
using namespace cputest;

namespace {

// One thread's churn: a window of live blocks, each checked before it is freed.
int churn(uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  struct Live { char* p = nullptr; size_t n = 0; uint64_t seed = 0; };
  std::vector<Live> live(256);
  int errors = 0;
  for (int step = 0; step < steps; ++step) {
    Live& slot = live[rng() % live.size()];
    if (slot.p != nullptr) {
      if (!check(slot.p, slot.n, slot.seed)) ++errors;
      cpu::free(slot.p);
    }
    uint64_t r = rng();
    size_t n = r % 1000 < 950 ? r % 300 : r % 1000 < 999 ? r % (256 * kKiB) : 2 * kMiB;
    slot = Live{static_cast<char*>(cpu::alloc(n)), n, rng()};
    if (slot.p == nullptr) return errors + 1;
    fill(slot.p, n, slot.seed);
  }
  for (Live& l : live) {
    if (l.p == nullptr) continue;
    if (!check(l.p, l.n, l.seed)) ++errors;
    cpu::free(l.p);
  }
  return errors;
}

TEST(Threads, ManyThreadsKeepTheirBlocksIntact) {
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back([t, &errors] { errors += churn(1000 + t, 30000); });
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
}

TEST(Threads, CrossThreadFreesBalanceTheStatistics) {
  cpu::trim();
  cpu::Stats before = stats();
  struct Item { char* p; size_t n; uint64_t seed; };
  std::mutex m;
  std::condition_variable cv;
  std::deque<Item> queue;
  int producers_left = 2;
  const int per_producer = 100000;
  std::atomic<int> errors{0}, consumed{0};
  auto produce = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < per_producer; ++i) {
      size_t n = rng() % 100 < 95 ? rng() % 512 : rng() % (128 * kKiB);
      Item it{static_cast<char*>(cpu::alloc(n)), n, rng()};
      if (it.p == nullptr) { ++errors; continue; }
      fill(it.p, n, it.seed);
      std::lock_guard<std::mutex> g(m);
      queue.push_back(it);
      if (queue.size() == 1) cv.notify_all();
    }
    std::lock_guard<std::mutex> g(m);
    --producers_left;
    cv.notify_all();
  };
  auto consume = [&] {
    for (;;) {
      std::unique_lock<std::mutex> g(m);
      cv.wait(g, [&] { return !queue.empty() || producers_left == 0; });
      if (queue.empty()) return;
      Item it = queue.front();
      queue.pop_front();
      g.unlock();
      if (!check(it.p, it.n, it.seed)) ++errors;
      if (!cpu::free(it.p)) ++errors;
      ++consumed;
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back(produce, 1);
  threads.emplace_back(produce, 2);
  threads.emplace_back(consume);
  threads.emplace_back(consume);
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(consumed.load(), 2 * per_producer);
  cpu::trim();
  cpu::Stats after = stats();
  EXPECT_GE(after.mallocs - before.mallocs, uint64_t(2 * per_producer));
  EXPECT_EQ(after.mallocs - before.mallocs, after.frees - before.frees);
  EXPECT_LE(after.allocated, before.allocated + 64 * kKiB);
  EXPECT_GE(after.allocated + 64 * kKiB, before.allocated);
  EXPECT_LE(after.reserved, before.reserved + 16 * kMiB);
}

struct ThreadEntry { uintptr_t stack; bool alive; int tid; };

std::vector<ThreadEntry> threads_seen() {
  std::vector<ThreadEntry> v;
  cpu::for_each_thread(
      [](uintptr_t stack, bool alive, int tid, void* ctx) {
        static_cast<std::vector<ThreadEntry>*>(ctx)->push_back({stack, alive, tid});
      },
      &v);
  return v;
}

TEST(Threads, ShortLivedThreadsReturnTheirCaches) {
  cpu::free(cpu::alloc(1));
  cpu::trim();
  size_t reserved0 = stats().reserved;
  uint64_t threads0 = stats().threads;
  std::mutex m;
  std::set<int> tids;
  std::atomic<int> errors{0};
  for (int wave = 0; wave < 125; ++wave) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        std::vector<void*> mine;
        for (int i = 0; i < 200; ++i) {
          size_t n = size_t(i * 97 + t) % 4000 + (i == 0 ? 200 * kKiB : 0);
          void* p = cpu::alloc(n);
          if (p == nullptr) { ++errors; continue; }
          fill(p, n < 64 ? n : 64, i);
          mine.push_back(p);
        }
        for (size_t i = 0; i < mine.size(); i += 2) cpu::free(mine[i]);
        for (size_t i = 1; i < mine.size(); i += 2) cpu::free(mine[i]);
        std::lock_guard<std::mutex> g(m);
        tids.insert(gettid());
      });
    }
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(stats().threads - threads0, 1000u);
  EXPECT_LT(stats().reserved, reserved0 + 32 * kMiB) << "caches of exited threads are not returned";
  cpu::trim();
  EXPECT_LT(stats().reserved, reserved0 + 8 * kMiB);
  // Live threads are reported with their tid; exited ones only as stacks (alive = false).
  int dead = 0;
  for (const ThreadEntry& e : threads_seen()) {
    if (e.alive) {
      EXPECT_EQ(tids.count(e.tid), 0u) << "thread " << e.tid << " exited but is reported alive";
    } else {
      ++dead;
    }
  }
  EXPECT_GT(dead, 0) << "exited threads are not reported";
  // Records of exited threads are reused: a few waves' worth, not one per thread.
  size_t records = 0;
  cpu::thread_cache_for_each([](cpu::ThreadCache*, void* n) { ++*static_cast<size_t*>(n); }, &records);
  EXPECT_LE(records, 64u) << "caches of exited threads are not reused";
}

// Threads that start together while caches of exited threads wait for reuse must each get
// their own cache.
TEST(Threads, ConcurrentStartsGetDistinctCaches) {
  const int kThreads = 8;
  int shared = 0;
  std::atomic<int> errors{0};
  for (int round = 0; round < 2000 && shared == 0; ++round) {
    std::barrier sync(kThreads);
    std::vector<cpu::ThreadCache*> caches(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        sync.arrive_and_wait();
        void* p = cpu::alloc(48);
        caches[t] = cpu::t_cache;
        sync.arrive_and_wait();  // nobody exits before all caches are recorded
        if (p == nullptr) { ++errors; return; }
        fill(p, 48, t);
        if (!check(p, 48, t)) ++errors;
        cpu::free(p);
      });
    }
    for (auto& th : threads) th.join();
    std::set<cpu::ThreadCache*> distinct(caches.begin(), caches.end());
    if (distinct.size() != size_t(kThreads)) shared = round + 1;
  }
  EXPECT_EQ(shared, 0) << "two live threads shared one cache in round " << shared;
  EXPECT_EQ(errors.load(), 0);
}

// Allocations made by a thread after its cache went back at exit (in a later thread-exit
// destructor) come straight from the central pools and must not lose blocks.
pthread_key_t g_late_key;
void* g_late_block = nullptr;

void late_destructor(void*) {
  const size_t n = 512;
  void* p = cpu::alloc(n);
  if (p != nullptr) fill(p, n, 3);
  g_late_block = p;
  cpu::free(p);
}

TEST(Threads, AllocationsAfterTheCacheIsGoneLoseNoBlocks) {
  cpu::free(cpu::alloc(1));  // the allocator's own exit key is created before ours
  cpu::trim();                // empty transfer caches
  ASSERT_EQ(pthread_key_create(&g_late_key, late_destructor), 0);
  std::thread th([] {
    pthread_setspecific(g_late_key, reinterpret_cast<void*>(1));
    // Whole batches of the class reach the central pool's transfer cache at exit.
    std::vector<void*> v;
    for (int i = 0; i < 2 * cpu::kClasses.info[cpu::class_of(512)].batch; ++i) v.push_back(cpu::alloc(512));
    for (void* p : v) cpu::free(p);
  });
  th.join();
  pthread_key_delete(g_late_key);
  ASSERT_NE(g_late_block, nullptr);
  cpu::trim();
  // With every block of the class free, the span holding the late block is free too.
  if (cpu::owns(g_late_block)) {
    cpu::Span* sp = cpu::span_of(g_late_block);
    EXPECT_TRUE(sp == nullptr || sp->used == 0)
        << (sp != nullptr ? sp->used : 0) << " blocks of the span are neither live nor free";
  }
}

// Carving a batch writes into every block: a new thread's first refill of a class takes a
// page's worth, and later refills double up to the class's batch.
TEST(Threads, FirstRefillsOfAThreadAreSmall) {
  cpu::trim();  // no whole batches wait in the transfer caches
  std::thread th([] {
    unsigned cls = cpu::class_of(1000);
    const cpu::ClassInfo& ci = cpu::kClasses.info[cls];
    std::vector<void*> v{cpu::alloc(1000)};
    cpu::ThreadCache* tc = cpu::t_cache;
    ASSERT_NE(tc, nullptr);
    EXPECT_EQ(tc->bins[cls].count + 1, 4096 / ci.size);
    for (unsigned i = 0; i < 4 * ci.batch; ++i) v.push_back(cpu::alloc(1000));
    EXPECT_EQ(tc->refill[cls], ci.batch);
    for (void* p : v) cpu::free(p);
  });
  th.join();
}

// A block grows in place only when no other block of its span is out, and a block another
// thread freed into its own cache is still out: the growth waits until that cache went back
// (at the thread's exit) and its transfer batch went back to the span.
TEST(Threads, GrowingInPlaceWaitsForANeighbourInAnotherThreadsCache) {
  const unsigned from = cpu::class_of(128 * kKiB), to = cpu::class_of(256 * kKiB);
  ASSERT_EQ(cpu::kClasses.info[from].pages, cpu::kClasses.info[to].pages);  // no pages to take
  cpu::start();
  cpu::trim();  // no spans of `from` in use, no batches waiting
  // Refills of these classes take one block each: p and q are carved one after the other.
  char* p = static_cast<char*>(cpu::alloc(cpu::kClasses.info[from].size));
  char* q = static_cast<char*>(cpu::alloc(cpu::kClasses.info[from].size));
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(cpu::span_of(p)->start(), p) << "not the first block of a fresh span";
  ASSERT_EQ(q, p + cpu::kClasses.info[from].size);
  std::mutex m;
  std::condition_variable cv;
  bool freed = false, go = false;
  std::thread t([&] {
    cpu::free(q);  // into this thread's cache
    std::unique_lock<std::mutex> lk(m);
    freed = true;
    cv.notify_all();
    cv.wait(lk, [&] { return go; });
  });
  {
    std::unique_lock<std::mutex> lk(m);
    cv.wait(lk, [&] { return freed; });
  }
  EXPECT_FALSE(cpu::central_grow(p, to)) << "grew over a block in another thread's cache";
  EXPECT_EQ(cpu::class_at(p), from);
  {
    std::lock_guard<std::mutex> lk(m);
    go = true;
  }
  cv.notify_all();
  t.join();
  cpu::trim();  // the exiting thread's batch waits in the transfer cache until then
  EXPECT_EQ(cpu::realloc(p, cpu::kClasses.info[to].size), p);
  EXPECT_EQ(cpu::usable_size(p), cpu::kClasses.info[to].size);
  cpu::free(p);
}

TEST(Threads, ForkWhileOtherThreadsAllocate) {
#ifdef __SANITIZE_ADDRESS__
  // GCC 12's AddressSanitizer does not hold its own allocator's locks across fork: a child
  // forked while another thread is in libasan's malloc can hang there. The plain and valgrind runs of this test cover the shim's locks.
  GTEST_SKIP() << "libasan's allocator is not fork-safe";
#endif
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      uint64_t seed = 50 + t;
      while (!stop.load()) errors += churn(seed++, 2000);
    });
  }
  for (int i = 0; i < 20; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      alarm(20);  // a deadlock in the child ends as a signal, not a hang
      int bad = churn(900 + i, 3000);
      std::thread child_thread([&bad] { bad += churn(77, 1000); });
      child_thread.join();
      void* big = cpu::alloc(7 * kMiB);
      if (big == nullptr) ++bad;
      else cpu::free(big);
      _exit(bad == 0 ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << "child " << i << " status " << status;
    if (WIFEXITED(status)) {
      EXPECT_EQ(WEXITSTATUS(status), 0) << "child " << i;
    }
  }
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
}

// The locks under the allocator: a counter written without atomics under each kind of lock
// by more threads than there are cores (a spin lock's holder is then preempted at times)
// loses no increment.
template <class L>
long count_under(L& lock, int threads, long each) {
  long counter = 0;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (long i = 0; i < each; ++i) {
        lock.lock();
        long v = counter;
        if ((i & 255) == 0) std::this_thread::yield();  // held while preempted
        counter = v + 1;
        lock.unlock();
      }
    });
  for (auto& t : ts) t.join();
  return counter;
}

TEST(Locks, NoIncrementIsLost) {
  constexpr int kThreads = 8;
  constexpr long kEach = 20000;
  mpshim::prim::Lock lock;
  EXPECT_EQ(count_under(lock, kThreads, kEach), kThreads * kEach);
  mpshim::prim::SpinLock spin;
  EXPECT_EQ(count_under(spin, kThreads, kEach), kThreads * kEach);
}

}  // namespace

