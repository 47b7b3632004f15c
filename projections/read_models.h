// The read side of one ledgerd: every projection, its runner and its column family. Built in
// main after the Store is opened (with ColumnFamilies()), started after the sequencer, stopped
// after the HTTP server. Query handlers reach views through it and never touch the write path.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/metrics.h"
#include "ledger/status.h"
#include "ledger/store.h"
#include "projections/accounts_projection.h"
#include "projections/holders_projection.h"
#include "projections/projection_runner.h"
#include "projections/search_projection.h"

namespace ledger::projections {

enum class ProjectionId : std::uint8_t {
  kAccounts,
  kEntries,
  kWallets,
  kStatements,
  kHolders,
  kSearch,
};
inline constexpr std::size_t kProjectionCount = 6;

// The column family of the saved search reports (PUT /_reports/{name}): read-side settings,
// not a projection, so neither replay nor repair touches it.
inline constexpr std::string_view kSearchReportsFamily = "search_reports";

// What GET /v1/projections reports for one projection.
struct ProjectionStatus {
  std::string_view name;
  std::uint64_t position = 0;  // Last applied event.
  std::uint64_t head = 0;      // The log's head when asked.
  std::optional<Error> failure;
};

class ReadModels {
 public:
  // Column families ledgerd must open the Store with (every projection's, then
  // kSearchReportsFamily), and those of them read by whole key only
  // (StoreOptions::extra_column_families / point_lookup_families).
  [[nodiscard]] static std::vector<std::string> ColumnFamilies();
  [[nodiscard]] static std::vector<std::string> PointLookupFamilies();

  // `store` (opened with ColumnFamilies()) and `metrics` must outlive this. kInternal if a
  // column family is missing.
  [[nodiscard]] static Result<std::unique_ptr<ReadModels>> Create(Store& store, Metrics& metrics);
  ~ReadModels();
  ReadModels(const ReadModels&) = delete;
  ReadModels& operator=(const ReadModels&) = delete;

  // Starts every runner (each resumes from its checkpoint).
  [[nodiscard]] Status Start();
  // Stops every runner and drops queries still waiting for one. Idempotent.
  void Stop();

  [[nodiscard]] static std::string_view Name(ProjectionId id);
  [[nodiscard]] static std::optional<ProjectionId> IdFromName(std::string_view name);
  // A new, empty instance of projection `id` (what the runners, benchmarks and replay run).
  [[nodiscard]] static std::unique_ptr<Projection> MakeProjection(ProjectionId id);
  [[nodiscard]] ProjectionRunner& Runner(ProjectionId id) const;
  [[nodiscard]] rocksdb::ColumnFamilyHandle& Family(ProjectionId id) const;
  [[nodiscard]] rocksdb::DB& db() const { return *store_.db(); }
  // The holders bitmap, readable from any thread.
  [[nodiscard]] const HoldersProjection& holders() const;
  // The search indexes, readable from any thread.
  [[nodiscard]] const SearchProjection& search() const;
  // The saved reports' column family (kSearchReportsFamily).
  [[nodiscard]] rocksdb::ColumnFamilyHandle& ReportsFamily() const { return *reports_family_; }
  [[nodiscard]] std::vector<ProjectionStatus> Statuses() const;

 private:
  struct Slot {
    std::unique_ptr<Projection> projection;
    rocksdb::ColumnFamilyHandle* family = nullptr;
    std::unique_ptr<ProjectionRunner> runner;
  };
  ReadModels(Store& store, Metrics& metrics) : store_(store), metrics_(metrics), source_(store) {}

  Store& store_;
  Metrics& metrics_;
  StoreEventSource source_;
  std::array<Slot, kProjectionCount> slots_;
  rocksdb::ColumnFamilyHandle* reports_family_ = nullptr;
};

}  // namespace ledger::projections
