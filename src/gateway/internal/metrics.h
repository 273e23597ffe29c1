// Counters and latency histograms in Prometheus text format.
//
// Thread model: thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>

namespace firebreak::gateway::internal {

class Histogram {
 public:
  void Observe(double seconds);
  void Render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  static constexpr std::array<double, 12> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.5,    1.0};
  std::array<std::atomic<uint64_t>, 13> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

class Metrics {
 public:
  // `labels` is Prometheus label text without braces: `path="/v1/x",code="200"`.
  void Count(const std::string& name, const std::string& labels, uint64_t n = 1);
  Histogram& request_seconds() { return request_seconds_; }
  Histogram& sequence_seconds() { return sequence_seconds_; }
  Histogram& publish_seconds() { return publish_seconds_; }
  // Counters, then histograms, then `extra` (gauges).
  std::string Render(const std::string& extra) const;

 private:
  // Counting takes the lock shared (series exist after their first count);
  // only a new series takes it exclusively.
  mutable std::shared_mutex mu_;
  std::map<std::string, std::map<std::string, std::atomic<uint64_t>>> counters_;
  Histogram request_seconds_, sequence_seconds_, publish_seconds_;
};

}  // namespace firebreak::gateway::internal
