// Shared by the projection tests: a fixture with a real store, a projection's column family and a
// running sequencer; commands run to completion; a counting wrapper; a dump of a column family.
#pragma once

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "projections/projection.h"
#include "projections/projection_runner.h"
#include "tests/support/temp_dir.h"

namespace ledger::projections::testing {

// A projection that is `Inner` (hooks included) and counts the events it applies.
template <typename Inner>
class Counting final : public Projection {
 public:
  [[nodiscard]] std::string_view Name() const override { return inner.Name(); }
  [[nodiscard]] Status Load(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) override {
    return inner.Load(db, family);
  }
  [[nodiscard]] Status Apply(const Event& event, ViewWriter& view) override {
    ++applied;
    return inner.Apply(event, view);
  }
  [[nodiscard]] Status FinishBatch(ViewWriter& view) override { return inner.FinishBatch(view); }
  void BatchCommitted(std::uint64_t checkpoint) override { inner.BatchCommitted(checkpoint); }

  Inner inner;
  std::atomic<std::uint64_t> applied{0};  // Written by the runner's worker thread.
};

// Every key and value of `family` in key order, checkpoint included; a failed iteration fails
// the test.
inline std::vector<std::pair<std::string, std::string>> Contents(
    rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) {
  std::vector<std::pair<std::string, std::string>> contents;
  auto it = NewKeyOrderIterator(db, family);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    contents.emplace_back(it->key().ToString(), it->value().ToString());
  }
  EXPECT_TRUE(it->status().ok());
  return contents;
}

// The column families ProjectionTest::OpenStore opens besides the log's own.
struct Families {
  // Also "<projection family>.reference" as reference_family_, to compare with a single run.
  bool reference = false;
  // Opens the projection's family as a point-lookup family (hashed memtable, bloom filters).
  bool point_lookups = false;
};

// A fixture with a store in a temporary directory holding the column family of `ProjectionType`,
// and a sequencer that appends to it with a manual clock. SetUp must call OpenStore.
template <typename ProjectionType>
class ProjectionTest : public ::testing::Test {
 protected:
  explicit ProjectionTest(TimestampUs now_us) : clock_(now_us) {}

  // Opens the store with `families` and starts the sequencer; a fatal test failure if either
  // fails, so call it inside ASSERT_NO_FATAL_FAILURE.
  void OpenStore(Families families = {}) {
    const std::string name = ColumnFamilyName(ProjectionType::kName);
    const std::string reference = name + ".reference";
    StoreOptions options{.path = dir_.path(), .extra_column_families = {name}};
    if (families.reference) options.extra_column_families.push_back(reference);
    if (families.point_lookups) options.point_lookup_families.push_back(name);
    auto store = Store::Open(options);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    family_ = store_->ColumnFamily(name);
    ASSERT_NE(family_, nullptr);
    if (families.reference) {
      reference_family_ = store_->ColumnFamily(reference);
      ASSERT_NE(reference_family_, nullptr);
    }
    source_ = std::make_unique<StoreEventSource>(*store_);
    sequencer_ = std::make_unique<commands::Sequencer>(*store_, clock_, metrics_);
    ASSERT_TRUE(sequencer_->Start().has_value());
  }

  // A runner (not started) of `projection` over the log into `family`.
  std::unique_ptr<ProjectionRunner> MakeRunner(Projection& projection,
                                               rocksdb::ColumnFamilyHandle& family,
                                               Metrics& metrics,
                                               ProjectionRunnerOptions options = {}) {
    return std::make_unique<ProjectionRunner>(*source_, *store_->db(), family, projection, metrics,
                                              std::move(options));
  }

  // A runner (not started) of `projection` over the log into family_, with metrics_.
  std::unique_ptr<ProjectionRunner> MakeRunner(Projection& projection,
                                               ProjectionRunnerOptions options = {}) {
    return MakeRunner(projection, *family_, metrics_, std::move(options));
  }

  // Applies the whole log to family_ with a fresh projection and runner; fails the test if the
  // runner fails.
  void CatchUp() {
    ProjectionType projection;
    auto runner = MakeRunner(projection);
    auto caught_up = runner->CatchUp();
    ASSERT_TRUE(caught_up.has_value()) << caught_up.error().message;
  }

  // Submits one command and waits for its outcome: the submission's error, a rejection or the
  // events appended.
  Result<commands::CommandOutcome> TryRun(commands::CommandBody body) {
    std::promise<Result<commands::CommandOutcome>> promise;
    auto future = promise.get_future();
    commands::Command command{.context = {.client_id = "svc"}, .body = std::move(body)};
    auto submitted = sequencer_->Submit(
        std::move(command),
        [&](Result<commands::CommandOutcome> outcome) { promise.set_value(std::move(outcome)); });
    if (!submitted) return std::unexpected(submitted.error());
    return future.get();
  }

  // Runs one command to completion; fails the test if it is not accepted.
  void Run(commands::CommandBody body) {
    auto outcome = TryRun(std::move(body));
    ASSERT_TRUE(outcome.has_value()) << outcome.error().code << ": " << outcome.error().message;
  }

  // Credits `amount` of `asset` to `account` from an external top-up; fails the test if rejected.
  void Credit(const std::string& account, const std::string& asset, std::int64_t amount) {
    Run(commands::ChangeAsset{.account = account,
                              .asset = asset,
                              .amount = amount,
                              .source = "topup",
                              .reason = "r",
                              .ref = "x"});
  }

  ledger::testing::TempDir dir_;
  ManualClock clock_;
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  rocksdb::ColumnFamilyHandle* family_ = nullptr;
  rocksdb::ColumnFamilyHandle* reference_family_ = nullptr;  // With Families::reference only.
  std::unique_ptr<StoreEventSource> source_;
  std::unique_ptr<commands::Sequencer> sequencer_;
};

}  // namespace ledger::projections::testing
