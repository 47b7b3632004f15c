// The wallets projection: a scripted scenario with exact wallets (cash, coupons, other assets,
// residuals of coupon assets, an account back at zero), restart from the checkpoint, and
// undecodable records.
#include "projections/wallets_projection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>

#include "commands/sequencer.h"
#include "projections/projection_runner.h"
#include "tests/support/temp_dir.h"

namespace ledger::projections {
namespace {

using commands::CommandBody;
using commands::CommandOutcome;

constexpr std::int64_t kWaitUs = 10'000'000;
constexpr TimestampUs kStartUs = 1'790'000'000'000'000;
constexpr TimestampUs kHourUs = 3'600'000'000;
constexpr TimestampUs kSecondUs = 1'000'000;
constexpr std::string_view kCouponAsset = "cpn.10off";
constexpr std::string_view kFunding = "external:marketing";

// Counts the events it applies, then delegates to the wallets projection.
class CountingProjection final : public Projection {
 public:
  [[nodiscard]] std::string_view Name() const override { return WalletsProjection::kName; }
  [[nodiscard]] Status Apply(const Event& event, ViewWriter& view) override {
    ++applied;
    return inner.Apply(event, view);
  }
  WalletsProjection inner;
  std::atomic<int> applied{0};
};

TEST(WalletsCashAssetTest, ExactlyThreeUppercaseLetters) {
  for (const char* cash : {"CNY", "EUR", "USD", "AAA"}) EXPECT_TRUE(IsCashAsset(cash)) << cash;
  for (const char* other : {"cny", "CN", "CNYY", "C1Y", "COIN", "", "cpn.10off", "EU "}) {
    EXPECT_FALSE(IsCashAsset(other)) << other;
  }
}

class WalletsProjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string family = ColumnFamilyName(WalletsProjection::kName);
    auto store = Store::Open({.path = dir_.path(),
                              .extra_column_families = {family},
                              .point_lookup_families = {family}});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    family_ = store_->ColumnFamily(family);
    ASSERT_NE(family_, nullptr);
    source_ = std::make_unique<StoreEventSource>(*store_);
    sequencer_ = std::make_unique<commands::Sequencer>(*store_, clock_, metrics_);
    ASSERT_TRUE(sequencer_->Start().has_value());
  }

  std::unique_ptr<ProjectionRunner> MakeRunner(Projection& projection) {
    return std::make_unique<ProjectionRunner>(*source_, *store_->db(), *family_, projection,
                                              metrics_);
  }

  // Runs one command that must be accepted; returns its event's envelope.
  Envelope Must(CommandBody body) {
    std::promise<Result<CommandOutcome>> promise;
    auto future = promise.get_future();
    commands::Command command{.context = {.client_id = "svc"}, .body = std::move(body)};
    auto submitted = sequencer_->Submit(std::move(command), [&](Result<CommandOutcome> outcome) {
      promise.set_value(std::move(outcome));
    });
    EXPECT_TRUE(submitted.has_value());
    if (!submitted) return {};
    Result<CommandOutcome> outcome = future.get();
    EXPECT_TRUE(outcome.has_value()) << (outcome ? "" : outcome.error().message);
    if (!outcome) return {};
    return outcome->event.envelope;
  }

  static CommandBody Change(std::string account, std::string asset, std::int64_t amount) {
    return commands::ChangeAsset{.account = std::move(account),
                                 .asset = std::move(asset),
                                 .amount = amount,
                                 .source = "test",
                                 .reason = "r",
                                 .ref = "x"};
  }

  static CommandBody Campaign(std::string id, CampaignKind kind, std::string asset,
                              std::int64_t unit_amount) {
    return commands::CreateCampaign{.campaign_id = std::move(id),
                                    .kind = kind,
                                    .asset = std::move(asset),
                                    .unit_amount = unit_amount,
                                    .budget = 10,
                                    .per_user_limit = 5,
                                    .valid_from_us = kStartUs - kHourUs,
                                    .valid_until_us = kStartUs + kHourUs,
                                    .funding_account = std::string(kFunding)};
  }

  static CommandBody Grant(std::string campaign, std::string grant, std::string user) {
    return commands::GrantVoucher{std::move(campaign), std::move(grant), std::move(user)};
  }

  static CommandBody Redeem(std::string campaign, std::string redemption, std::string user) {
    return commands::RedeemVoucher{std::move(campaign), std::move(redemption), std::move(user),
                                   "order-1"};
  }

  // The next command runs one second later.
  Envelope Later(CommandBody body) {
    clock_.Advance(kSecondUs);
    return Must(std::move(body));
  }

  WalletRead ReadWallet(std::string_view account) {
    auto read = WalletsProjection::Read(*store_->db(), *family_, account);
    EXPECT_TRUE(read.has_value()) << (read ? "" : read.error().message);
    return read ? *read : WalletRead{};
  }

  static WalletAsset Asset(std::string_view asset, std::int64_t balance, const Envelope& last) {
    return {std::string(asset), balance, last.position, last.recorded_at_us};
  }

  static WalletCoupon Coupon(std::int64_t balance, const Envelope& last) {
    return {.campaign_id = "cp",
            .asset = std::string(kCouponAsset),
            .balance = balance,
            .unit_amount = 10,
            .count = balance / 10,
            .valid_from_us = kStartUs - kHourUs,
            .valid_until_us = kStartUs + kHourUs,
            .last_position = last.position,
            .last_change_us = last.recorded_at_us};
  }

  // The scripted history; every envelope kept for the expected wallets.
  struct Script {
    Envelope topup, coupon_campaign, grant1, grant2, redeem1, coin_campaign, coin_grant,
        grant_other, transfer, redeem2, redeem3, zero_in, zero_out;
  };

  Script RunScript() {
    Script s;
    s.topup = Must(Change("user:1", "CNY", 1000));
    s.coupon_campaign = Must(Campaign("cp", CampaignKind::kCoupon, std::string(kCouponAsset), 10));
    s.grant1 = Later(Grant("cp", "g1", "user:1"));
    s.grant2 = Later(Grant("cp", "g2", "user:1"));
    s.redeem1 = Later(Redeem("cp", "r1", "user:1"));
    s.coin_campaign = Must(Campaign("coin", CampaignKind::kBalance, "COIN", 50));
    s.coin_grant = Later(Grant("coin", "g1", "user:1"));
    // user:2 passes its voucher's units to user:1 by a plain transfer: residuals, not coupons.
    s.grant_other = Later(Grant("cp", "g3", "user:2"));
    s.transfer = Later(
        commands::Transfer{.postings = {{"user:2", "user:1", std::string(kCouponAsset), 10}}});
    // user:1 redeems its last voucher, then the units it got by the transfer.
    s.redeem2 = Later(Redeem("cp", "r2", "user:1"));
    s.redeem3 = Later(Redeem("cp", "r3", "user:1"));
    s.zero_in = Later(Change("user:3", "EUR", 5));
    s.zero_out = Later(Change("user:3", "EUR", -5));
    return s;
  }

  // The wallets the script ends with (position set by the caller).
  static std::map<std::string, Wallet> FinalWallets(const Script& s) {
    std::map<std::string, Wallet> wallets;
    wallets["user:1"] = {.cash = {Asset("CNY", 1000, s.topup)},
                         .other = {Asset("COIN", 50, s.coin_grant)}};
    wallets["user:2"] = {.coupons = {Coupon(10, s.grant_other)},
                         .other = {Asset(kCouponAsset, -10, s.transfer)}};
    wallets[std::string(kFunding)] = {.other = {Asset("COIN", -50, s.coin_grant)}};
    wallets["user:3"] = {};
    wallets["nobody"] = {};
    return wallets;
  }

  void ExpectFinalWallets(const Script& s, std::uint64_t position) {
    for (const auto& [account, wallet] : FinalWallets(s)) {
      const WalletRead read = ReadWallet(account);
      EXPECT_EQ(read.position, position) << account;
      EXPECT_EQ(read.wallet, wallet) << account;
    }
  }

  testing::TempDir dir_;
  ManualClock clock_{kStartUs};
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  rocksdb::ColumnFamilyHandle* family_ = nullptr;
  std::unique_ptr<StoreEventSource> source_;
  std::unique_ptr<commands::Sequencer> sequencer_;
};

TEST_F(WalletsProjectionTest, ScriptedScenarioGivesTheExactWallets) {
  EXPECT_EQ(ReadWallet("user:1"), WalletRead{});  // No checkpoint yet: position 0, empty.
  WalletsProjection projection;
  auto runner = MakeRunner(projection);
  ASSERT_TRUE(runner->Start().has_value());
  const Script s = RunScript();
  ASSERT_EQ(runner->WaitFor(s.zero_out.position, kWaitUs), s.zero_out.position);
  EXPECT_EQ(s.redeem1.recorded_at_us, kStartUs + 3 * kSecondUs);
  ExpectFinalWallets(s, s.zero_out.position);
}

TEST_F(WalletsProjectionTest, CouponsCountGrantsMinusRedemptionsWithTheirCampaign) {
  WalletsProjection projection;
  auto runner = MakeRunner(projection);
  ASSERT_TRUE(runner->Start().has_value());
  const Envelope topup = Must(Change("user:1", "CNY", 1000));
  Must(Campaign("cp", CampaignKind::kCoupon, std::string(kCouponAsset), 10));
  Later(Grant("cp", "g1", "user:1"));
  const Envelope grant2 = Later(Grant("cp", "g2", "user:1"));
  ASSERT_EQ(runner->WaitFor(grant2.position, kWaitUs), grant2.position);
  WalletRead read = ReadWallet("user:1");
  EXPECT_EQ(read.position, grant2.position);
  EXPECT_EQ(read.wallet,
            (Wallet{.cash = {Asset("CNY", 1000, topup)}, .coupons = {Coupon(20, grant2)}}));
  ASSERT_EQ(read.wallet.coupons.size(), 1u);
  EXPECT_EQ(read.wallet.coupons[0].count, 2);
  const Envelope redeem = Later(Redeem("cp", "r1", "user:1"));
  ASSERT_EQ(runner->WaitFor(redeem.position, kWaitUs), redeem.position);
  read = ReadWallet("user:1");
  EXPECT_EQ(read.wallet,
            (Wallet{.cash = {Asset("CNY", 1000, topup)}, .coupons = {Coupon(10, redeem)}}));
  // The funding account's side is a plain (negative) residual of the coupon asset.
  EXPECT_EQ(ReadWallet(kFunding).wallet, (Wallet{.other = {Asset(kCouponAsset, -10, redeem)}}));
}

TEST_F(WalletsProjectionTest, RestartResumesFromTheCheckpointWithIdenticalWallets) {
  Script s;
  {
    WalletsProjection projection;
    auto runner = MakeRunner(projection);
    s = RunScript();
    auto caught_up = runner->CatchUp();
    ASSERT_TRUE(caught_up.has_value()) << caught_up.error().message;
    ASSERT_EQ(*caught_up, s.zero_out.position);
  }
  CountingProjection restarted;
  auto runner = MakeRunner(restarted);
  ASSERT_TRUE(runner->Start().has_value());
  EXPECT_EQ(runner->Checkpoint(), s.zero_out.position);  // Nothing newer exists yet.
  ExpectFinalWallets(s, s.zero_out.position);
  const Envelope later = Later(Change("user:2", "CNY", 7));
  ASSERT_EQ(runner->WaitFor(later.position, kWaitUs), later.position);
  EXPECT_EQ(restarted.applied.load(), 1);  // Only the event after the checkpoint.
  std::map<std::string, Wallet> expected = FinalWallets(s);
  expected["user:2"].cash = {Asset("CNY", 7, later)};
  for (const auto& [account, wallet] : expected) {
    const WalletRead read = ReadWallet(account);
    EXPECT_EQ(read.position, later.position) << account;
    EXPECT_EQ(read.wallet, wallet) << account;
  }
}

TEST_F(WalletsProjectionTest, UndecodableRecordIsCorruption) {
  Must(Change("user:1", "CNY", 1));
  {
    WalletsProjection projection;
    ASSERT_TRUE(MakeRunner(projection)->CatchUp().has_value());
  }
  ASSERT_TRUE(store_->db()->Put(rocksdb::WriteOptions(), family_, "w/user:1", "\1garbage").ok());
  auto read = WalletsProjection::Read(*store_->db(), *family_, "user:1");
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().kind, ErrorKind::kCorruption);
  EXPECT_EQ(read.error().code, "corruption");
  // The projection refuses to apply over it, too.
  Must(Change("user:1", "CNY", 1));
  WalletsProjection projection;
  auto caught_up = MakeRunner(projection)->CatchUp();
  ASSERT_FALSE(caught_up.has_value());
  EXPECT_EQ(caught_up.error().kind, ErrorKind::kCorruption);
}

}  // namespace
}  // namespace ledger::projections
