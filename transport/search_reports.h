// Saved search reports (PUT/GET/DELETE /_reports/{name}, docs/search.md): a named search with
// aggregations and a staleness bound, stored in the "search_reports" column family (key: the
// name, value: the definition's JSON, written with sync) and answered from an in-memory cache
// until the search index has moved on by more than max_staleness_positions positions or the
// cached answer is older than max_staleness_seconds.
//
// A definition: {"index": "settlements"|"entries", "search": {<search body>},
//                "max_staleness_positions"?: N, "max_staleness_seconds"?: S} (at least one bound).
// Thread-safe: every member may be called from any thread at once.
#pragma once

#include <rocksdb/db.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/event.h"
#include "ledger/status.h"
#include "projections/search_projection.h"
#include "transport/search_dsl.h"

namespace ledger::transport {

// One stored report.
struct SearchReportDefinition {
  std::string name;
  projections::SearchIndexId index = projections::SearchIndexId::kSettlements;
  std::string search_json;  // The "search" object, compact.
  std::optional<std::uint64_t> max_staleness_positions;
  std::optional<std::uint64_t> max_staleness_seconds;
};

// What GET /_reports/{name} answers.
struct SearchReportAnswer {
  std::uint64_t position = 0;  // The search projection's checkpoint the result reflects.
  TimestampUs computed_at_us = 0;
  bool cached = false;      // Served from the cache rather than computed for this request.
  std::string result_json;  // The Elasticsearch search response.
};

class SearchReports {
 public:
  // Microseconds: a wall clock for computed_at, a monotonic one for the cache's age.
  using Clock = std::function<std::int64_t()>;

  // `db`, `family` and `search` must outlive this object. Stored reports are loaded on first
  // use. Empty clocks mean the system and steady clocks.
  SearchReports(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                const projections::SearchProjection& search, Clock wall_clock = {},
                Clock monotonic_clock = {});
  ~SearchReports();
  SearchReports(const SearchReports&) = delete;
  SearchReports& operator=(const SearchReports&) = delete;

  // Validates `body` (a definition) and stores it under `name`, replacing a report of that
  // name and its cache. Returns true if the report is new. Errors: kInvalidArgument (bad name,
  // bad definition, a search the DSL parser refuses, more than kSearchReportsMax reports),
  // kTooLarge, kUnavailable (storage).
  [[nodiscard]] Result<bool> Put(std::string_view name, std::string_view body);
  // kNotFound if there is no such report; kUnavailable (storage).
  [[nodiscard]] Status Delete(std::string_view name);
  // Every report, by name.
  [[nodiscard]] Result<std::vector<SearchReportDefinition>> List();
  // Runs report `name`: the cached answer if it is fresh (see above) and reflects at least
  // `min_position`, else a new one (which is then cached). Errors: kNotFound, the search's
  // errors, kCorruption for a stored definition that no longer parses.
  [[nodiscard]] Result<SearchReportAnswer> Run(std::string_view name, std::uint64_t min_position);

  // The definition's stored JSON, as Put writes it.
  [[nodiscard]] static std::string DefinitionJson(const SearchReportDefinition& definition);

 private:
  struct Report;

  // Loads the stored reports once. Call with mutex_ held.
  [[nodiscard]] Status EnsureLoaded();
  [[nodiscard]] Result<std::shared_ptr<Report>> Find(std::string_view name);
  [[nodiscard]] bool Fresh(const Report& report, std::uint64_t min_position) const;

  rocksdb::DB& db_;
  rocksdb::ColumnFamilyHandle& family_;
  const projections::SearchProjection& search_;
  Clock wall_clock_;
  Clock monotonic_clock_;

  std::mutex mutex_;  // Guards loaded_ and reports_ (not the reports' caches).
  bool loaded_ = false;
  std::map<std::string, std::shared_ptr<Report>, std::less<>> reports_;
};

// Checks a report name: 1..kSearchReportNameBytesMax bytes of [A-Za-z0-9_.-].
[[nodiscard]] Status CheckReportName(std::string_view name);

}  // namespace ledger::transport
