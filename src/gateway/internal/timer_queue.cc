#include "gateway/internal/timer_queue.h"

namespace firebreak::gateway::internal {

TimerQueue::TimerQueue() : thread_([this] { Loop(); }) {}

TimerQueue::~TimerQueue() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void TimerQueue::At(Clock::time_point when, std::function<void()> fn) {
  bool run_now = false;
  {
    std::lock_guard lock(mu_);
    run_now = stop_;
    if (!run_now) {
      bool earliest = items_.empty() || when < items_.top().when;
      items_.push({when, seq_++, std::move(fn)});
      if (earliest) cv_.notify_one();
      return;
    }
  }
  if (run_now) fn();
}

void TimerQueue::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (items_.empty()) {
      if (stop_) return;
      cv_.wait(lock);
      continue;
    }
    // Each function runs at its instant, also while stopping (the destructor
    // waits for the last): a refusal's entry is never logged early.
    Clock::time_point when = items_.top().when;  // a copy: At() may grow the heap
    if (Clock::now() < when) {
      cv_.wait_until(lock, when);
      continue;
    }
    std::function<void()> fn = std::move(const_cast<Item&>(items_.top()).fn);
    items_.pop();
    lock.unlock();
    try {
      fn();
    } catch (const std::exception&) {
      // The function answers its own failures; nothing may stop the queue.
    }
    lock.lock();
  }
}

}  // namespace firebreak::gateway::internal
