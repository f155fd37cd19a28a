// A thread pool (std::thread, mutex, condition variable) whose tasks forget to delete
// their requests, and which is never shut down: when main returns, the four workers are
// still waiting on the condition variable, and the pool is reachable from their stacks.
// Expected: direct 1280 B in 20 blocks (operator new, handle_request: 20 x 64 B), no
// indirect; everything else (pool, workers' states, queue) is reachable.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "leakprog.h"

class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 0; i < n; i++) workers_.emplace_back([this] { loop(); });
  }
  void submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> l(mu_);
      tasks_.push_back(std::move(task));
      ++pending_;
    }
    cv_.notify_one();
  }
  void wait_idle() {
    std::unique_lock<std::mutex> l(mu_);
    idle_.wait(l, [this] { return pending_ == 0; });
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [this] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
      std::lock_guard<std::mutex> l(mu_);
      if (--pending_ == 0) idle_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<std::function<void()>> tasks_;
  int pending_ = 0;
  std::vector<std::thread> workers_;
};

struct Request {
  int id;
  char payload[60];
};

LEAK_FN int handle_request(int id) {
  auto* r = new Request{id, {}};  // @request
  for (char& c : r->payload) c = char(id);
  return r->payload[59];  // the bug: no delete
}

int main() {
  auto* pool = new Pool(4);  // @pool: never shut down
  for (int i = 0; i < 20; i++) pool->submit([i] { handle_request(i); });
  pool->wait_idle();
  scrub_stack();
  return 0;
}
