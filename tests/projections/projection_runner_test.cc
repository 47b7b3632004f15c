#include "projections/projection_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <random>

#include "commands/sequencer.h"
#include "commands/write_state.h"
#include "projections/accounts_projection.h"
#include "tests/support/temp_dir.h"

namespace ledger::projections {
namespace {

using commands::Command;
using commands::CommandOutcome;

// Counts the events it applies, then delegates to the accounts projection.
class CountingProjection final : public Projection {
 public:
  [[nodiscard]] std::string_view Name() const override { return AccountsProjection::kName; }
  [[nodiscard]] Status Apply(const Event& event, ViewWriter& view) override {
    ++applied;
    return inner.Apply(event, view);
  }
  AccountsProjection inner;
  std::atomic<int> applied{0};
};

class ProjectionRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open({.path = dir_.path(),
                              .extra_column_families = {ColumnFamilyName("accounts")},
                              .point_lookup_families = {ColumnFamilyName("accounts")}});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    family_ = store_->ColumnFamily(ColumnFamilyName("accounts"));
    ASSERT_NE(family_, nullptr);
    source_ = std::make_unique<StoreEventSource>(*store_);
    sequencer_ = std::make_unique<commands::Sequencer>(*store_, clock_, metrics_);
    ASSERT_TRUE(sequencer_->Start().has_value());
  }

  std::unique_ptr<ProjectionRunner> MakeRunner(Projection& projection,
                                               ProjectionRunnerOptions options = {}) {
    return std::make_unique<ProjectionRunner>(*source_, *store_->db(), *family_, projection,
                                              metrics_, std::move(options));
  }

  Result<CommandOutcome> Run(commands::CommandBody body) {
    std::promise<Result<CommandOutcome>> promise;
    auto future = promise.get_future();
    Command command{.context = {.client_id = "svc"}, .body = std::move(body)};
    auto submitted = sequencer_->Submit(std::move(command), [&](Result<CommandOutcome> outcome) {
      promise.set_value(std::move(outcome));
    });
    if (!submitted) return std::unexpected(submitted.error());
    return future.get();
  }

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
          (void)Run(commands::ChangeAsset{.account = a, .asset = asset, .amount = amount(random),
                                          .source = "topup", .reason = "r", .ref = "x"});
          break;
        case 1:
          (void)Run(commands::ChangeAsset{.account = a, .asset = asset, .amount = -amount(random),
                                          .source = "spend", .reason = "r", .ref = "x"});
          break;
        default:
          if (a != b) {
            (void)Run(commands::Transfer{.postings = {{a, b, asset, amount(random)}}});
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

  testing::TempDir dir_;
  ManualClock clock_{1'790'000'000'000'000};
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  rocksdb::ColumnFamilyHandle* family_ = nullptr;
  std::unique_ptr<StoreEventSource> source_;
  std::unique_ptr<commands::Sequencer> sequencer_;
};

TEST_F(ProjectionRunnerTest, FollowsAppendsAndMatchesAReplay) {
  std::mt19937_64 random(testing::TestSeed());
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
  std::mt19937_64 random(testing::TestSeed());
  CountingProjection first;
  {
    auto runner = MakeRunner(first);
    ASSERT_TRUE(runner->Start().has_value());
    RandomCommands(100, random);
    ASSERT_EQ(runner->WaitFor(store_->HeadPosition(), 10'000'000), store_->HeadPosition());
  }
  const std::uint64_t before = store_->HeadPosition();
  EXPECT_EQ(first.applied.load(), static_cast<int>(before));
  RandomCommands(60, random);
  CountingProjection second;
  auto runner = MakeRunner(second);
  ASSERT_TRUE(runner->Start().has_value());
  EXPECT_EQ(runner->Checkpoint(), before);
  ASSERT_EQ(runner->WaitFor(store_->HeadPosition(), 10'000'000), store_->HeadPosition());
  EXPECT_EQ(second.applied.load(), static_cast<int>(store_->HeadPosition() - before));
  ExpectViewMatchesReplay();
}

TEST_F(ProjectionRunnerTest, CrashBetweenApplyAndWriteNeitherLosesNorDoubleApplies) {
  std::mt19937_64 random(testing::TestSeed());
  RandomCommands(120, random);
  const std::uint64_t head = store_->HeadPosition();
  ASSERT_GT(head, 25u);
  AccountsProjection projection;
  int batches = 0;
  {
    auto crashing = MakeRunner(projection, {.batch_events_max = 10,
                                            .crash_before_write_for_testing =
                                                [&] { return ++batches == 2; }});
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
  ASSERT_TRUE(Run(commands::ChangeAsset{.account = "user:1", .asset = "CNY", .amount = 5,
                                        .source = "topup", .reason = "r", .ref = "x"})
                  .has_value());
  ASSERT_EQ(runner->WaitFor(1, 10'000'000), 1u);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(runner->WaitFor(2, 50'000), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(50));
}

}  // namespace
}  // namespace ledger::projections
