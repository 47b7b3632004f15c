// ReplayOnce, the shared pass over the log behind rebuild and reconcile: every job sees exactly
// its range, gapless and in order, however far apart the jobs run; errors stop the pass; a
// rebuild through it equals the server's own runner over the log.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "projections/projection_runner.h"
#include "projections/read_models.h"
#include "replay/audit.h"
#include "tests/support/temp_dir.h"

namespace ledger::replay {
namespace {

using projections::ProjectionId;
using projections::ReadModels;

// More than two batches of kReplayBatchEventsMax, not a multiple of it.
constexpr int kEvents = 2 * static_cast<int>(kReplayBatchEventsMax) + 1'234;

class ReplayOnceTest : public ::testing::Test {
 protected:
  // A log of kEvents credits to 300 users, appended by a real sequencer.
  static void SetUpTestSuite() {
    dir_ = new ledger::testing::TempDir();
    auto store = Store::Open({.path = dir_->Sub("data")});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = store->release();
    ManualClock clock(1'700'000'000'000'000);
    Metrics metrics;
    commands::Sequencer sequencer(*store_, clock, metrics);
    ASSERT_TRUE(sequencer.Start().has_value());
    std::atomic<int> accepted{0};
    std::promise<void> all_done;
    for (int i = 0; i < kEvents; ++i) {
      commands::Command command{
          .context = {.client_id = "svc"},
          .body = commands::ChangeAsset{.account = "user:" + std::to_string(i % 300),
                                        .asset = i % 7 == 0 ? "PTS" : "CNY",
                                        .amount = 1 + i % 50,
                                        .source = "topup",
                                        .reason = "r",
                                        .ref = std::to_string(i)}};
      ASSERT_TRUE(sequencer
                      .Submit(std::move(command),
                              [&](Result<commands::CommandOutcome> outcome) {
                                if (!outcome) std::abort();
                                if (++accepted == kEvents) all_done.set_value();
                              })
                      .has_value());
    }
    all_done.get_future().wait();
    sequencer.Stop();
    ASSERT_EQ(store_->HeadPosition(), static_cast<std::uint64_t>(kEvents));
  }
  static void TearDownTestSuite() {
    delete store_;
    delete dir_;
  }

  static ledger::testing::TempDir* dir_;
  static Store* store_;
};

ledger::testing::TempDir* ReplayOnceTest::dir_ = nullptr;
Store* ReplayOnceTest::store_ = nullptr;

// A job that checks it sees 1..end gapless and in order; `slow` sleeps per batch.
ReplayJob CheckingJob(std::string name, std::uint64_t end, bool slow,
                      std::atomic<std::uint64_t>* seen) {
  return ReplayJob{
      .name = std::move(name),
      .end = end,
      .run = [end, slow, seen](projections::EventSource& source) -> Result<std::uint64_t> {
        std::uint64_t next = 1;
        while (true) {
          auto events = source.ReadFrom(next, 1'000);
          if (!events) return std::unexpected(events.error());
          if (events->empty()) break;
          for (const StoredEvent& stored : *events) {
            if (stored.event.envelope.position != next++) {
              return Fail(ErrorKind::kInternal, "test", "out of order");
            }
          }
          if (slow) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        seen->store(next - 1);
        EXPECT_EQ(source.WaitForHeadAbove(0, 0), end);
        return next - 1;
      }};
}

TEST_F(ReplayOnceTest, EveryJobSeesExactlyItsRangeThroughASmallWindow) {
  const std::uint64_t head = store_->HeadPosition();
  std::atomic<std::uint64_t> seen_all{0}, seen_part{0}, seen_one{0}, seen_none{99};
  const std::vector<ReplayJob> jobs = {
      CheckingJob("all", head, /*slow=*/false, &seen_all),
      CheckingJob("part", kReplayBatchEventsMax + 17, /*slow=*/true, &seen_part),
      CheckingJob("one", 1, /*slow=*/false, &seen_one),
      CheckingJob("none", 0, /*slow=*/false, &seen_none),
  };
  // A window of one batch: the fast job keeps waiting for the slow one.
  auto results = ReplayOnce(*store_, jobs, nullptr, kReplayBatchEventsMax);
  ASSERT_TRUE(results.has_value()) << results.error().message;
  ASSERT_EQ(results->size(), 4u);
  EXPECT_EQ((*results)[0].position, head);
  EXPECT_EQ((*results)[1].position, kReplayBatchEventsMax + 17);
  EXPECT_EQ((*results)[2].position, 1u);
  EXPECT_EQ((*results)[3].position, 0u);
  EXPECT_EQ(seen_all.load(), head);
  EXPECT_EQ(seen_part.load(), kReplayBatchEventsMax + 17);
  EXPECT_EQ(seen_one.load(), 1u);
  EXPECT_EQ(seen_none.load(), 0u);
  EXPECT_EQ((*results)[1].name, "part");
}

TEST_F(ReplayOnceTest, AFailingJobStopsThePassWithItsError) {
  const std::uint64_t head = store_->HeadPosition();
  std::atomic<std::uint64_t> seen{0};
  const std::vector<ReplayJob> jobs = {
      CheckingJob("all", head, /*slow=*/true, &seen),
      ReplayJob{.name = "failing",
                .end = head,
                .run = [](projections::EventSource& source) -> Result<std::uint64_t> {
                  auto events = source.ReadFrom(1, 10);
                  if (!events) return std::unexpected(events.error());
                  return Fail(ErrorKind::kCorruption, "corruption", "the job's own failure");
                }},
  };
  auto results = ReplayOnce(*store_, jobs, nullptr, kReplayBatchEventsMax);
  ASSERT_FALSE(results.has_value());
  EXPECT_EQ(results.error().message, "the job's own failure");
  EXPECT_LT(seen.load(), head);  // Stopped early: it never reached the end.
}

TEST_F(ReplayOnceTest, RebuildThroughThePassEqualsTheServersRunner) {
  const std::uint64_t head = store_->HeadPosition();
  auto shared = OpenFreshViewStore(dir_->Sub("shared"));
  ASSERT_TRUE(shared.has_value()) << shared.error().message;
  std::vector<ReplayJob> jobs;
  for (std::size_t i = 0; i < projections::kProjectionCount; ++i) {
    const auto id = static_cast<ProjectionId>(i);
    const std::string family = projections::ColumnFamilyName(ReadModels::Name(id));
    jobs.push_back(RebuildJob(id, head, *(*shared)->db(), *(*shared)->ColumnFamily(family)));
  }
  auto results = ReplayOnce(*store_, jobs, nullptr, kReplayBatchEventsMax);
  ASSERT_TRUE(results.has_value()) << results.error().message;

  // The server's way: one runner per projection over the log itself.
  auto reference = OpenFreshViewStore(dir_->Sub("reference"));
  ASSERT_TRUE(reference.has_value()) << reference.error().message;
  projections::StoreEventSource source(*store_);
  for (std::size_t i = 0; i < projections::kProjectionCount; ++i) {
    const auto id = static_cast<ProjectionId>(i);
    auto projection = ReadModels::MakeProjection(id);
    Metrics metrics;
    projections::ProjectionRunner runner(
        source, *(*reference)->db(),
        *(*reference)->ColumnFamily(projections::ColumnFamilyName(ReadModels::Name(id))),
        *projection, metrics);
    auto reached = runner.CatchUp();
    ASSERT_TRUE(reached.has_value()) << reached.error().message;
    EXPECT_EQ(*reached, head);
  }
  // Same batch boundaries, so even the holders bitmap's layout is the same: every key equal.
  for (std::size_t i = 0; i < projections::kProjectionCount; ++i) {
    const std::string family =
        projections::ColumnFamilyName(ReadModels::Name(static_cast<ProjectionId>(i)));
    auto a = NewKeyOrderIterator(*(*shared)->db(), *(*shared)->ColumnFamily(family));
    auto b = NewKeyOrderIterator(*(*reference)->db(), *(*reference)->ColumnFamily(family));
    std::size_t keys = 0;
    for (a->SeekToFirst(), b->SeekToFirst(); a->Valid() && b->Valid(); a->Next(), b->Next()) {
      ASSERT_EQ(a->key().ToString(), b->key().ToString()) << family;
      ASSERT_EQ(a->value().ToString(), b->value().ToString()) << family;
      ++keys;
    }
    EXPECT_FALSE(a->Valid()) << family;
    EXPECT_FALSE(b->Valid()) << family;
    EXPECT_GT(keys, 1u) << family;
  }
}

}  // namespace
}  // namespace ledger::replay
