// ledger-replay rebuild and reconcile against a real data dir built the way ledgerd builds it (a
// real Store, Sequencer and ReadModels), the verbs run in-process through RunRebuild and
// RunReconcile with stdout captured.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "projections/read_models.h"
#include "replay/audit.h"
#include "tests/support/temp_dir.h"

namespace ledger::replay {
namespace {

using projections::ProjectionId;
using projections::ReadModels;

constexpr TimestampUs kHourUs = 3'600'000'000;
constexpr TimestampUs kDayUs = 24 * kHourUs;
// 2023-11-15T01:00:00Z.
constexpr TimestampUs kStartUs = 1'700'006'400'000'000 + kHourUs;
constexpr std::string_view kMerchant = "merchant:m1";

struct CliRun {
  int exit_code = 0;
  std::string out;
};

// Runs a verb in-process as `ledger-replay <verb> args...`, capturing its stdout.
CliRun RunCli(int (*verb)(std::span<char* const>), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  ::testing::internal::CaptureStdout();
  const int code = verb(std::span<char* const>(argv.data(), argv.size()));
  return {code, ::testing::internal::GetCapturedStdout()};
}

// A live data dir: store, sequencer and read models as ledgerd runs them.
class RebuildReconcileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open({.path = data_dir(),
                              .extra_column_families = ReadModels::ColumnFamilies(),
                              .point_lookup_families = ReadModels::PointLookupFamilies()});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    sequencer_ = std::make_unique<commands::Sequencer>(*store_, clock_, metrics_);
    ASSERT_TRUE(sequencer_->Start().has_value());
    auto read_models = ReadModels::Create(*store_, metrics_);
    ASSERT_TRUE(read_models.has_value()) << read_models.error().message;
    read_models_ = std::move(*read_models);
    ASSERT_TRUE(read_models_->Start().has_value());
  }

  void TearDown() override { StopLedger(); }

  // ledgerd's shutdown order; releases the data dir.
  void StopLedger() {
    if (sequencer_) sequencer_->Stop();
    if (read_models_) read_models_->Stop();
    read_models_.reset();
    sequencer_.reset();
    store_.reset();
  }

  [[nodiscard]] std::string data_dir() const { return dir_.Sub("data"); }

  void Run(commands::CommandBody body) {
    std::promise<Result<commands::CommandOutcome>> promise;
    auto future = promise.get_future();
    commands::Command command{.context = {.client_id = "svc"}, .body = std::move(body)};
    auto submitted = sequencer_->Submit(std::move(command), [&](auto outcome) {
      promise.set_value(std::move(outcome));
    });
    ASSERT_TRUE(submitted.has_value()) << submitted.error().message;
    auto outcome = future.get();
    ASSERT_TRUE(outcome.has_value()) << outcome.error().code << ": " << outcome.error().message;
  }

  void Credit(const std::string& account, std::int64_t amount) {
    Run(commands::ChangeAsset{.account = account, .asset = "CNY", .amount = amount,
                              .source = "topup", .reason = "r", .ref = "x"});
  }

  void Settle(const std::string& order, const std::string& payer, std::int64_t gross) {
    Run(commands::SettleOrder{
        .order_id = order,
        .merchant = std::string(kMerchant),
        .payer = payer,
        .asset = "CNY",
        .gross = gross,
        .splits = {commands::Split{.to = "platform:fees", .kind = "commission", .bps = 300}}});
  }

  // Users, orders of one merchant on two days, a transfer, a refund and a payout.
  void Populate() {
    clock_.Set(kStartUs);
    for (int user = 1; user <= 5; ++user) {
      ASSERT_NO_FATAL_FAILURE(Credit("user:" + std::to_string(user), 10'000 * user));
    }
    ASSERT_NO_FATAL_FAILURE(Settle("o1", "user:1", 1'000));
    ASSERT_NO_FATAL_FAILURE(Settle("o2", "user:2", 2'500));
    clock_.Advance(kDayUs);
    ASSERT_NO_FATAL_FAILURE(Settle("o3", "user:3", 4'000));
    ASSERT_NO_FATAL_FAILURE(Run(commands::RefundOrder{.order_id = "o3", .refund_id = "r1",
                                                      .amount = 500}));
    ASSERT_NO_FATAL_FAILURE(Run(commands::Transfer{
        .postings = {Posting{.from = "user:4", .to = "user:5", .asset = "CNY", .amount = 77}},
        .ref = "t1"}));
    ASSERT_NO_FATAL_FAILURE(Run(commands::PayOut{.payout_id = "p1",
                                                 .merchant = std::string(kMerchant),
                                                 .asset = "CNY",
                                                 .amount = 1'200,
                                                 .bank_account = "bank:1"}));
  }

  // Waits until every live projection applied the whole log.
  void CatchUpLive() {
    const std::uint64_t head = store_->HeadPosition();
    for (std::size_t i = 0; i < projections::kProjectionCount; ++i) {
      const auto id = static_cast<ProjectionId>(i);
      ASSERT_EQ(read_models_->Runner(id).WaitFor(head, 10'000'000), head) << ReadModels::Name(id);
    }
  }

  rocksdb::ColumnFamilyHandle* Family(std::string_view name) {
    return store_->ColumnFamily(name == "state" ? std::string(name)
                                                          : projections::ColumnFamilyName(name));
  }

  std::string Get(std::string_view family, const std::string& key) {
    std::string value;
    EXPECT_TRUE(store_->db()->Get(rocksdb::ReadOptions(), Family(family), key, &value).ok()) << key;
    return value;
  }

  void Put(std::string_view family, const std::string& key, const std::string& value) {
    ASSERT_TRUE(store_->db()->Put(rocksdb::WriteOptions(), Family(family), key, value).ok());
  }

  // The merchant's day rows in CNY, in time order.
  std::vector<std::pair<std::string, std::string>> DayRows() {
    const std::string prefix = "r/" + std::string(kMerchant) + std::string("\0CNY\0d", 6);
    std::vector<std::pair<std::string, std::string>> rows;
    std::unique_ptr<rocksdb::Iterator> it(
        store_->db()->NewIterator(rocksdb::ReadOptions(), Family("statements")));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      rows.emplace_back(it->key().ToString(), it->value().ToString());
    }
    return rows;
  }

  // Alters an account row and a statement row by hand, with well-formed but wrong values.
  void AlterProjectionRows() {
    Put("accounts", "a/user:1", Get("accounts", "a/user:2"));
    const auto rows = DayRows();
    ASSERT_EQ(rows.size(), 2u);
    ASSERT_NE(rows[0].second, rows[1].second);
    Put("statements", rows[0].first, rows[1].second);
  }

  ledger::testing::TempDir dir_;
  ManualClock clock_{kStartUs};
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<commands::Sequencer> sequencer_;
  std::unique_ptr<ReadModels> read_models_;
};

// Every key of `family` in `db`, skipping the holders bitmap layout (chunks, directory and
// journal depend on where batches ended).
std::vector<std::pair<std::string, std::string>> Contents(rocksdb::DB& db,
                                                          rocksdb::ColumnFamilyHandle& family) {
  std::vector<std::pair<std::string, std::string>> contents;
  rocksdb::ReadOptions options;
  options.total_order_seek = true;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(options, &family));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string key = it->key().ToString();
    const bool layout = family.GetName() == "projection.holders" &&
                        (key.starts_with("m/") || key.starts_with("d/") || key.starts_with("j/"));
    if (!layout) contents.emplace_back(key, it->value().ToString());
  }
  EXPECT_TRUE(it->status().ok());
  return contents;
}

TEST_F(RebuildReconcileTest, RebuildAllEqualsTheLiveProjections) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  ASSERT_NO_FATAL_FAILURE(CatchUpLive());
  const std::string out = dir_.Sub("rebuilt");
  const CliRun run = RunCli(RunRebuild, {"--data", data_dir(), "--projection", "all", "--out", out});
  ASSERT_EQ(run.exit_code, kExitOk) << run.out;
  EXPECT_NE(run.out.find("statements"), std::string::npos) << run.out;
  read_models_->Stop();
  auto rebuilt = Store::Open({.path = out,
                              .read_only = true,
                              .extra_column_families = ReadModels::ColumnFamilies()});
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().message;
  for (std::size_t i = 0; i < projections::kProjectionCount; ++i) {
    const std::string family =
        projections::ColumnFamilyName(ReadModels::Name(static_cast<ProjectionId>(i)));
    const auto live = Contents(*store_->db(), *store_->ColumnFamily(family));
    const auto replay = Contents(*(*rebuilt)->db(), *(*rebuilt)->ColumnFamily(family));
    EXPECT_GT(live.size(), 1u) << family;
    EXPECT_EQ(live, replay) << family;
  }
  const CliRun reconciled = RunCli(RunReconcile, {"--data", data_dir()});
  EXPECT_EQ(reconciled.exit_code, kExitOk) << reconciled.out;
  EXPECT_NE(reconciled.out.find("result: no difference"), std::string::npos) << reconciled.out;
}

TEST_F(RebuildReconcileTest, RebuildRefusesANonEmptyOutputAndUnknownProjections) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  const std::string out = dir_.Sub("rebuilt");
  ASSERT_EQ(RunCli(RunRebuild, {"--data", data_dir(), "--projection", "accounts", "--out", out})
                .exit_code,
            kExitOk);
  EXPECT_EQ(RunCli(RunRebuild, {"--data", data_dir(), "--projection", "accounts", "--out", out})
                .exit_code,
            kExitUsage);
  EXPECT_EQ(RunCli(RunRebuild,
                   {"--data", data_dir(), "--projection", "nope", "--out", dir_.Sub("other")})
                .exit_code,
            kExitUsage);
  EXPECT_EQ(RunCli(RunReconcile, {"--data", data_dir(), "--projection", "nope"}).exit_code,
            kExitUsage);
}

TEST_F(RebuildReconcileTest, AlteredRowsAreDetectedAndLocated) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  ASSERT_NO_FATAL_FAILURE(CatchUpLive());
  read_models_->Stop();
  ASSERT_NO_FATAL_FAILURE(AlterProjectionRows());
  const CliRun run = RunCli(RunReconcile, {"--data", data_dir()});
  EXPECT_EQ(run.exit_code, kExitFinding) << run.out;
  EXPECT_NE(run.out.find("accounts    at checkpoint"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("account user:1:"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("statement of merchant merchant:m1, asset CNY, day 2023-11-15"),
            std::string::npos)
      << run.out;
  // The live row is decoded too (through a copy: the audit's secondary instance cannot iterate
  // under a snapshot).
  EXPECT_NE(run.out.find("live   {opening 3395, income 4000"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("result: 2 difference(s) in accounts, statements"), std::string::npos)
      << run.out;
  const CliRun json = RunCli(RunReconcile, {"--data", data_dir(), "--json"});
  EXPECT_EQ(json.exit_code, kExitFinding);
  EXPECT_NE(json.out.find("\"where\":\"account user:1\""), std::string::npos) << json.out;
}

TEST_F(RebuildReconcileTest, RepairRewritesTheDriftedProjections) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  ASSERT_NO_FATAL_FAILURE(CatchUpLive());
  read_models_->Stop();
  ASSERT_NO_FATAL_FAILURE(AlterProjectionRows());
  // The data dir is still open (as by a running ledgerd): --repair must refuse.
  const CliRun refused = RunCli(RunReconcile, {"--data", data_dir(), "--repair"});
  EXPECT_EQ(refused.exit_code, kExitCannotRun) << refused.out;
  StopLedger();
  const CliRun repaired = RunCli(RunReconcile, {"--data", data_dir(), "--repair"});
  EXPECT_EQ(repaired.exit_code, kExitOk) << repaired.out;
  EXPECT_NE(repaired.out.find("repaired from the replay: accounts statements"), std::string::npos)
      << repaired.out;
  const CliRun again = RunCli(RunReconcile, {"--data", data_dir()});
  EXPECT_EQ(again.exit_code, kExitOk) << again.out;
  EXPECT_NE(again.out.find("result: no difference"), std::string::npos) << again.out;
  // ledgerd resumes on the repaired views.
  ASSERT_NO_FATAL_FAILURE(SetUp());
  ASSERT_NO_FATAL_FAILURE(Credit("user:1", 1));
  ASSERT_NO_FATAL_FAILURE(CatchUpLive());
  EXPECT_EQ(RunCli(RunReconcile, {"--data", data_dir()}).exit_code, kExitOk);
}

TEST_F(RebuildReconcileTest, TamperedWriteSideStateIsDetected) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  ASSERT_NO_FATAL_FAILURE(CatchUpLive());
  Put("state", "a/user:1", Get("state", "a/user:3"));
  const CliRun run = RunCli(RunReconcile, {"--data", data_dir(), "--projection", "accounts"});
  EXPECT_EQ(run.exit_code, kExitFinding) << run.out;
  EXPECT_NE(run.out.find("state       at head"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("account user:1:"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("result: 1 difference(s) in state"), std::string::npos) << run.out;
}

TEST_F(RebuildReconcileTest, ALaggingProjectionIsComparedAtItsCheckpoint) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  ASSERT_NO_FATAL_FAILURE(CatchUpLive());
  read_models_->Stop();
  const std::uint64_t checkpoint = store_->HeadPosition();
  ASSERT_NO_FATAL_FAILURE(Settle("o4", "user:5", 900));
  ASSERT_NO_FATAL_FAILURE(Credit("user:6", 50));
  ASSERT_GT(store_->HeadPosition(), checkpoint);
  const CliRun run = RunCli(RunReconcile, {"--data", data_dir()});
  EXPECT_EQ(run.exit_code, kExitOk) << run.out;
  EXPECT_NE(run.out.find("at checkpoint " + std::to_string(checkpoint)), std::string::npos)
      << run.out;
}

}  // namespace
}  // namespace ledger::replay
