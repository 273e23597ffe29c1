// Runs functions at given instants on one thread of its own: how the gateway
// holds an outward refusal's log entry until the release deadline, so that
// nothing about the log (a receipt's index, the next checkpoint) shows how
// long the decision took.
//
// Thread model: thread-safe. Functions run one at a time on the queue's
// thread and must not block for long. The destructor runs every function
// still queued, each at its instant, then joins; `At` after that runs the
// function at once on the caller's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace firebreak::gateway::internal {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  TimerQueue();
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `fn` at `when` (at once if it has passed).
  void At(Clock::time_point when, std::function<void()> fn);

 private:
  struct Item {
    Clock::time_point when;
    uint64_t seq;  // FIFO among equal instants
    std::function<void()> fn;
    bool operator>(const Item& o) const { return when != o.when ? when > o.when : seq > o.seq; }
  };
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> items_;
  uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace firebreak::gateway::internal
