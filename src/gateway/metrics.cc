#include <fmt/format.h>

#include "gateway/internal/metrics.h"

namespace firebreak::gateway::internal {

void Histogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(uint64_t(seconds * 1e6), std::memory_order_relaxed);
}

void Histogram::Render(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], cumulative);
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name,
                     double(sum_us_.load(std::memory_order_relaxed)) / 1e6, name,
                     count_.load(std::memory_order_relaxed));
}

void Metrics::Count(const std::string& name, const std::string& labels, uint64_t n) {
  {
    std::shared_lock lock(mu_);
    auto it = counters_.find(name);
    if (it != counters_.end()) {
      auto series = it->second.find(labels);
      if (series != it->second.end()) {
        series->second.fetch_add(n, std::memory_order_relaxed);
        return;
      }
    }
  }
  std::unique_lock lock(mu_);
  counters_[name][labels].fetch_add(n, std::memory_order_relaxed);
}

std::string Metrics::Render(const std::string& extra) const {
  std::string out;
  {
    std::shared_lock lock(mu_);
    for (const auto& [name, series] : counters_) {
      out += fmt::format("# TYPE {} counter\n", name);
      for (const auto& [labels, counter] : series) {
        uint64_t v = counter.load(std::memory_order_relaxed);
        out += labels.empty() ? fmt::format("{} {}\n", name, v)
                              : fmt::format("{}{{{}}} {}\n", name, labels, v);
      }
    }
  }
  request_seconds_.Render(out, "firebreak_request_seconds", "Time to answer an API request.");
  sequence_seconds_.Render(out, "firebreak_log_sequence_seconds",
                           "Time from decision to a durable (sequenced) log entry.");
  publish_seconds_.Render(out, "firebreak_log_publish_seconds",
                          "Time from a sequenced entry to a signed checkpoint covering it (receipts).");
  out += extra;
  return out;
}

}  // namespace firebreak::gateway::internal
