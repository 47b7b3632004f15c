#include "ledger/metrics.h"

#include <cmath>
#include <cstdio>

namespace ledger {

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<std::uint64_t>[upper_bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  std::size_t i = 0;
  while (i < upper_bounds_.size() && value > upper_bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

namespace {

void AppendNumber(double value, std::string* out) {
  char buffer[64];
  if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.9g", value);
  }
  out->append(buffer);
}

void AppendSeries(std::string_view name, std::string_view suffix, std::string_view labels,
                  std::string_view extra_label, double value, std::string* out) {
  out->append(name);
  out->append(suffix);
  if (!labels.empty() || !extra_label.empty()) {
    out->push_back('{');
    out->append(labels);
    if (!labels.empty() && !extra_label.empty()) out->push_back(',');
    out->append(extra_label);
    out->push_back('}');
  }
  out->push_back(' ');
  AppendNumber(value, out);
  out->push_back('\n');
}

}  // namespace

void Histogram::Render(std::string_view name, std::string_view labels, std::string* out) const {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= upper_bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le = "le=\"";
    if (i == upper_bounds_.size()) {
      le += "+Inf";
    } else {
      AppendNumber(upper_bounds_[i], &le);
    }
    le += "\"";
    AppendSeries(name, "_bucket", labels, le, static_cast<double>(cumulative), out);
  }
  AppendSeries(name, "_sum", labels, "", sum_.load(std::memory_order_relaxed), out);
  AppendSeries(name, "_count", labels, "", static_cast<double>(cumulative), out);
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,   10};
}

std::vector<double> SizeBuckets() {
  std::vector<double> bounds;
  for (double b = 1; b <= 8192; b *= 2) bounds.push_back(b);
  return bounds;
}

std::string RenderLabels(const Labels& labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    if (!out.empty()) out.push_back(',');
    out.append(key);
    out.append("=\"");
    for (char c : value) {
      if (c == '\\' || c == '"') {
        out.push_back('\\');
        out.push_back(c);
      } else if (c == '\n') {
        out.append("\\n");
      } else {
        out.push_back(c);
      }
    }
    out.push_back('"');
  }
  return out;
}

Metrics::Family& Metrics::FamilyFor(std::string_view name, std::string_view help,
                                    std::string_view type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{}).first;
    it->second.help = std::string(help);
    it->second.type = std::string(type);
  }
  return it->second;
}

Counter& Metrics::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = FamilyFor(name, help, "counter").counters[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Metrics::GetGauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = FamilyFor(name, help, "gauge").gauges[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Metrics::GetHistogram(std::string_view name, std::string_view help,
                                 std::vector<double> upper_bounds, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = FamilyFor(name, help, "histogram").histograms[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(std::move(upper_bounds));
  return *slot;
}

void Metrics::SetGaugeFunction(std::string_view name, std::string_view help,
                               std::function<double()> read, const Labels& labels) {
  std::lock_guard lock(mutex_);
  FamilyFor(name, help, "gauge").functions[RenderLabels(labels)] = std::move(read);
}

void Metrics::RemoveGaugeFunction(std::string_view name, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.functions.erase(RenderLabels(labels));
}

std::string Metrics::RenderPrometheus() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + family.help + "\n";
    out += "# TYPE " + name + " " + family.type + "\n";
    for (const auto& [labels, counter] : family.counters) {
      AppendSeries(name, "", labels, "", static_cast<double>(counter->Value()), &out);
    }
    for (const auto& [labels, gauge] : family.gauges) {
      AppendSeries(name, "", labels, "", gauge->Value(), &out);
    }
    for (const auto& [labels, read] : family.functions) {
      AppendSeries(name, "", labels, "", read(), &out);
    }
    for (const auto& [labels, histogram] : family.histograms) {
      histogram->Render(name, labels, &out);
    }
  }
  return out;
}

}  // namespace ledger
