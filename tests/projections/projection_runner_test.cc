#include "projections/projection_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>

#include "commands/sequencer.h"
#include "commands/write_state.h"
#include "projections/accounts_projection.h"
#include "tests/projections/support.h"

namespace ledger::projections {
namespace {

class ProjectionRunnerTest : public testing::ProjectionTest<AccountsProjection> {
 protected:
  ProjectionRunnerTest() : ProjectionTest(1'790'000'000'000'000) {}
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(OpenStore({.point_lookups = true})); }

  // `count` seeded random credits, debits and transfers among a few users (some rejected).
  void RandomCommands(int count, std::mt19937_64& random) {
    std::uniform_int_distribution<int> user(0, 9);
    std::uniform_int_distribution<int> kind(0, 2);
    std::uniform_int_distribution<std::int64_t> amount(1, 500);
    const char* assets[] = {"CNY", "COIN"};
    for (int i = 0; i < count; ++i) {
      const std::string asset = assets[i % 2];
      const std::string a = "user:" + std::to_string(user(random));
      const std::string b = "user:" + std::to_string(user(random));
      switch (kind(random)) {
        case 0:
          (void)TryRun(commands::ChangeAsset{.account = a,
                                             .asset = asset,
                                             .amount = amount(random),
                                             .source = "topup",
                                             .reason = "r",
                                             .ref = "x"});
          break;
        case 1:
          (void)TryRun(commands::ChangeAsset{.account = a,
                                             .asset = asset,
                                             .amount = -amount(random),
                                             .source = "spend",
                                             .reason = "r",
                                             .ref = "x"});
          break;
        default:
          if (a != b) {
            (void)TryRun(commands::Transfer{.postings = {{a, b, asset, amount(random)}}});
          }
      }
    }
  }

  // Every account of an independent replay of the log (WriteState::Apply) must read the same
  // balances and version from the projection.
  void ExpectViewMatchesReplay() {
    commands::WriteState reference;
    auto events = store_->ReadFrom(1, 1'000'000);
    ASSERT_TRUE(events.has_value()) << events.error().message;
    for (const StoredEvent& stored : *events) reference.Apply(stored.event);
    ASSERT_FALSE(reference.accounts().empty());
    for (const auto& [account, state] : reference.accounts()) {
      auto read = AccountsProjection::Read(*store_->db(), *family_, account);
      ASSERT_TRUE(read.has_value() && read->account.has_value()) << account;
      EXPECT_EQ(read->position, store_->HeadPosition());
      const AccountView& view = *read->account;
      EXPECT_EQ(view.version, state.version) << account;
      for (const auto& balance : state.balances) {
        auto it = std::find_if(view.balances.begin(), view.balances.end(),
                               [&](const auto& entry) { return entry.first == balance.asset; });
        ASSERT_NE(it, view.balances.end()) << account << " " << balance.asset;
        EXPECT_EQ(it->second, balance.balance) << account << " " << balance.asset;
      }
    }
  }
};

TEST_F(ProjectionRunnerTest, FollowsAppendsAndMatchesAReplay) {
  std::mt19937_64 random(ledger::testing::TestSeed());
  AccountsProjection projection;
  auto runner = MakeRunner(projection);
  ASSERT_TRUE(runner->Start().has_value());
  RandomCommands(400, random);
  const std::uint64_t head = store_->HeadPosition();
  ASSERT_GT(head, 0u);
  EXPECT_EQ(runner->WaitFor(head, 10'000'000), head);
  ExpectViewMatchesReplay();
  EXPECT_NE(metrics_.RenderPrometheus().find("ledger_projection_lag{projection=\"accounts\"}"),
            std::string::npos);
}

TEST_F(ProjectionRunnerTest, RestartResumesFromTheCheckpointWithoutReapplying) {
  std::mt19937_64 random(ledger::testing::TestSeed());
  testing::Counting<AccountsProjection> first;
  {
    auto runner = MakeRunner(first);
    ASSERT_TRUE(runner->Start().has_value());
    RandomCommands(100, random);
    ASSERT_EQ(runner->WaitFor(store_->HeadPosition(), 10'000'000), store_->HeadPosition());
  }
  const std::uint64_t before = store_->HeadPosition();
  EXPECT_EQ(first.applied.load(), before);
  RandomCommands(60, random);
  testing::Counting<AccountsProjection> second;
  auto runner = MakeRunner(second);
  ASSERT_TRUE(runner->Start().has_value());
  EXPECT_EQ(runner->Checkpoint(), before);
  ASSERT_EQ(runner->WaitFor(store_->HeadPosition(), 10'000'000), store_->HeadPosition());
  EXPECT_EQ(second.applied.load(), store_->HeadPosition() - before);
  ExpectViewMatchesReplay();
}

TEST_F(ProjectionRunnerTest, CrashBetweenApplyAndWriteNeitherLosesNorDoubleApplies) {
  std::mt19937_64 random(ledger::testing::TestSeed());
  RandomCommands(120, random);
  const std::uint64_t head = store_->HeadPosition();
  ASSERT_GT(head, 25u);
  AccountsProjection projection;
  std::atomic<int> batches{0};  // counted by the worker, watched by this thread
  {
    auto crashing = MakeRunner(
        projection,
        {.batch_events_max = 10, .crash_before_write_for_testing = [&] { return ++batches == 2; }});
    ASSERT_TRUE(crashing->Start().has_value());
    // The worker applies batch 1, then "crashes" after applying batch 2 in memory.
    for (int i = 0; i < 500 && batches < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    crashing->Stop();
    EXPECT_EQ(crashing->Checkpoint(), 10u);
  }
  auto runner = MakeRunner(projection, {.batch_events_max = 10});
  auto caught_up = runner->CatchUp();
  ASSERT_TRUE(caught_up.has_value()) << caught_up.error().message;
  EXPECT_EQ(*caught_up, head);
  ExpectViewMatchesReplay();
}

TEST_F(ProjectionRunnerTest, WaitForTimesOutWithThePositionReached) {
  AccountsProjection projection;
  auto runner = MakeRunner(projection);
  ASSERT_TRUE(runner->Start().has_value());
  ASSERT_TRUE(TryRun(commands::ChangeAsset{.account = "user:1",
                                           .asset = "CNY",
                                           .amount = 5,
                                           .source = "topup",
                                           .reason = "r",
                                           .ref = "x"})
                  .has_value());
  ASSERT_EQ(runner->WaitFor(1, 10'000'000), 1u);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(runner->WaitFor(2, 50'000), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(50));
}

}  // namespace
}  // namespace ledger::projections
