// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
// text exposition format. Lookups take a mutex; hot paths keep the returned reference (stable
// for the registry's lifetime) and update it with relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ledger {

// Label pairs in the order given, e.g. {{"type", "AssetChanged"}, {"outcome", "ok"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  [[nodiscard]] double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  [[nodiscard]] std::uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  [[nodiscard]] double Sum() const { return sum_.load(std::memory_order_relaxed); }
  // Appends the _bucket/_sum/_count lines for `name{labels}`.
  void Render(std::string_view name, std::string_view labels, std::string* out) const;

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // Not cumulative; +Inf last.
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Bucket bounds for latencies in seconds, 50 µs .. 10 s.
[[nodiscard]] std::vector<double> LatencyBucketsSeconds();
// Bucket bounds for sizes (batch sizes, page sizes): 1, 2, 4, ... 8192.
[[nodiscard]] std::vector<double> SizeBuckets();

class Metrics {
 public:
  // Returns the series `name{labels}`, creating it (and its HELP line) on first use.
  // Thread-safe; the reference stays valid as long as the registry.
  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help,
                          std::vector<double> upper_bounds, const Labels& labels = {});
  // A gauge computed when scraped. `read` runs on the scraping thread and must be thread-safe.
  void SetGaugeFunction(std::string_view name, std::string_view help,
                        std::function<double()> read, const Labels& labels = {});

  // Drops a gauge function (its owner is going away). No-op if absent.
  void RemoveGaugeFunction(std::string_view name, const Labels& labels = {});

  // The whole registry in Prometheus text format 0.0.4.
  [[nodiscard]] std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    std::string type;  // counter | gauge | histogram
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::map<std::string, std::function<double()>> functions;
  };
  Family& FamilyFor(std::string_view name, std::string_view help, std::string_view type);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

// Renders labels as `a="x",b="y"` with Prometheus escaping.
[[nodiscard]] std::string RenderLabels(const Labels& labels);

}  // namespace ledger
