// Campaigns: creation, voucher grants (owner, window, budget, per-user limit) and redemptions.
#include <gtest/gtest.h>

#include <string>

#include "commands/decide.h"
#include "tests/commands/harness.h"

namespace ledger::commands {
namespace {

using testing::Campaign;
using testing::Change;
using testing::Client;
using testing::Harness;
using testing::IsError;
using testing::kNow;
using testing::PayloadOf;
using testing::Post;

constexpr TimestampUs kHourUs = 3'600'000'000;

GrantVoucher Grant(std::string grant_id, std::string user, std::string campaign_id = "c-1") {
  return GrantVoucher{std::move(campaign_id), std::move(grant_id), std::move(user)};
}

RedeemVoucher Redeem(std::string redemption_id, std::string user, std::string order_id = "",
                     std::string campaign_id = "c-1") {
  return RedeemVoucher{std::move(campaign_id), std::move(redemption_id), std::move(user),
                       std::move(order_id)};
}

TEST(CreateCampaignTest, CreatesWithCallerAsOwner) {
  Harness h;
  Event event = h.Must(Campaign("c-1"), Client("shop-app"));
  EXPECT_EQ(event.envelope.stream, "campaign/c-1");
  EXPECT_EQ(event.envelope.type, EventType::kCampaignCreated);
  EXPECT_TRUE(event.postings.empty());
  const CampaignCreated& created = PayloadOf<CampaignCreated>(event);
  EXPECT_EQ(created.owner_client, "shop-app");
  EXPECT_EQ(created.funding_account, "external:marketing");
  EXPECT_EQ(created.budget, 10);
  const CampaignState* campaign = h.state.FindCampaign("c-1");
  ASSERT_NE(campaign, nullptr);
  EXPECT_EQ(campaign->campaign, created);
  EXPECT_EQ(campaign->granted, 0);
  EXPECT_EQ(campaign->stream_version, 1u);
  EXPECT_TRUE(IsError(h.Run(Campaign("c-1")), ErrorKind::kConflict, "campaign_exists"));
}

TEST(CreateCampaignTest, RejectsBadInput) {
  Harness h;
  auto expect_invalid = [&](CreateCampaign campaign) {
    EXPECT_TRUE(IsError(h.Run(campaign), ErrorKind::kInvalidArgument, "invalid_argument"));
  };
  CreateCampaign c = Campaign("c-1");
  c.unit_amount = 0;
  expect_invalid(c);
  c = Campaign("c-1", 0);
  expect_invalid(c);
  c = Campaign("c-1", 10, 0);
  expect_invalid(c);
  c = Campaign("c-1");
  c.valid_until_us = c.valid_from_us;
  expect_invalid(c);
  c = Campaign("c-1");
  c.funding_account = "";
  expect_invalid(c);
  c = Campaign("c-1");
  c.asset = "a b";
  expect_invalid(c);
  c = Campaign("c 1");
  expect_invalid(c);
  c = Campaign("c-1");
  c.kind = static_cast<CampaignKind>(9);
  expect_invalid(c);
  c = Campaign("c-1");
  c.kind = CampaignKind::kBalance;
  EXPECT_TRUE(h.Run(c));
}

TEST(GrantVoucherTest, GrantsUnitFromFundingAccount) {
  Harness h;
  h.Must(Campaign("c-1"), Client("shop-app"));
  Event event = h.Must(Grant("g-1", "user:1"), Client("shop-app"));
  EXPECT_EQ(event.envelope.stream, "campaign/c-1");
  EXPECT_EQ(event.envelope.stream_version, 2u);
  EXPECT_EQ(event.postings,
            (std::vector<Posting>{Post("external:marketing", "user:1", 1, "COUPON")}));
  EXPECT_EQ(PayloadOf<VoucherGranted>(event),
            (VoucherGranted{"c-1", "g-1", "user:1", "COUPON", 1}));
  EXPECT_EQ(h.Balance("user:1", "COUPON"), 1);
  EXPECT_EQ(h.state.FindCampaign("c-1")->granted, 1);
  EXPECT_EQ(h.state.GrantsToUser("c-1", "user:1"), 1);
  EXPECT_EQ(h.state.GrantsToUser("c-1", "user:2"), 0);
  EXPECT_EQ(h.state.GrantsToUser("c-2", "user:1"), 0);
}

TEST(GrantVoucherTest, OnlyOwnerOrAdminMayGrant) {
  Harness h;
  h.Must(Campaign("c-1"), Client("shop-app"));
  EXPECT_TRUE(IsError(h.Run(Grant("g-1", "user:1"), Client("other-app")),
                      ErrorKind::kPermissionDenied, "not_campaign_owner"));
  EXPECT_TRUE(h.Run(Grant("g-1", "user:1"), Client("ops", /*is_admin=*/true)));
}

TEST(GrantVoucherTest, UnknownCampaign) {
  Harness h;
  EXPECT_TRUE(IsError(h.Run(Grant("g-1", "user:1")), ErrorKind::kNotFound, "campaign_not_found"));
}

TEST(GrantVoucherTest, OnlyWithinTheWindow) {
  Harness h;
  CreateCampaign campaign = Campaign("c-1");
  h.Must(campaign);
  EXPECT_TRUE(IsError(h.Run(Grant("g-1", "user:1"), Client(), campaign.valid_from_us - 1),
                      ErrorKind::kRejected, "campaign_not_active"));
  EXPECT_TRUE(IsError(h.Run(Grant("g-1", "user:1"), Client(), campaign.valid_until_us),
                      ErrorKind::kRejected, "campaign_not_active"));
  EXPECT_TRUE(h.Run(Grant("g-1", "user:1"), Client(), campaign.valid_from_us));
  EXPECT_TRUE(h.Run(Grant("g-2", "user:1"), Client(), campaign.valid_until_us - 1));
}

TEST(GrantVoucherTest, BudgetIsCounted) {
  Harness h;
  h.Must(Campaign("c-1", /*budget=*/3, /*per_user_limit=*/1));
  for (int i = 0; i < 3; ++i) h.Must(Grant("g-" + std::to_string(i), "user:" + std::to_string(i)));
  EXPECT_TRUE(IsError(h.Run(Grant("g-9", "user:9")), ErrorKind::kRejected, "budget_exhausted"));
  EXPECT_EQ(h.state.FindCampaign("c-1")->granted, 3);
}

TEST(GrantVoucherTest, PerUserLimit) {
  Harness h;
  h.Must(Campaign("c-1", /*budget=*/10, /*per_user_limit=*/2));
  h.Must(Grant("g-1", "user:1"));
  h.Must(Grant("g-2", "user:1"));
  EXPECT_TRUE(
      IsError(h.Run(Grant("g-3", "user:1")), ErrorKind::kRejected, "per_user_limit_reached"));
  EXPECT_TRUE(h.Run(Grant("g-3", "user:2")));
  EXPECT_EQ(h.state.GrantsToUser("c-1", "user:1"), 2);
}

TEST(GrantVoucherTest, FundingAccountNeedsFunds) {
  Harness h;
  CreateCampaign campaign = Campaign("c-1");
  campaign.funding_account = "brand:1";
  campaign.asset = "USD";
  campaign.unit_amount = 500;
  h.Must(campaign);
  EXPECT_TRUE(IsError(h.Run(Grant("g-1", "user:1")), ErrorKind::kRejected, "insufficient_funds"));
  EXPECT_EQ(h.state.FindCampaign("c-1")->granted, 0);
  h.Must(Change("brand:1", 500));
  EXPECT_TRUE(h.Run(Grant("g-1", "user:1")));
  EXPECT_EQ(h.Balance("user:1", "USD"), 500);
  EXPECT_EQ(h.Balance("brand:1", "USD"), 0);
}

TEST(GrantVoucherTest, RejectsBadInput) {
  Harness h;
  h.Must(Campaign("c-1"));
  EXPECT_TRUE(IsError(h.Run(Grant("", "user:1")), ErrorKind::kInvalidArgument, "invalid_argument"));
  EXPECT_TRUE(
      IsError(h.Run(Grant("g-1", "user 1")), ErrorKind::kInvalidArgument, "invalid_argument"));
  EXPECT_TRUE(IsError(h.Run(Grant("g-1", "external:marketing")), ErrorKind::kInvalidArgument,
                      "invalid_argument"));
}

TEST(RedeemVoucherTest, ReturnsVoucherToFundingAccount) {
  Harness h;
  h.Must(Campaign("c-1"), Client("shop-app"));
  h.Must(Grant("g-1", "user:1"), Client("shop-app"));
  // Any writer may redeem: no owner check.
  Event event = h.Must(Redeem("rd-1", "user:1", "o-7"), Client("checkout"));
  EXPECT_EQ(event.envelope.stream, "campaign/c-1");
  EXPECT_EQ(event.envelope.stream_version, 3u);
  EXPECT_EQ(event.postings,
            (std::vector<Posting>{Post("user:1", "external:marketing", 1, "COUPON")}));
  EXPECT_EQ(PayloadOf<VoucherRedeemed>(event),
            (VoucherRedeemed{"c-1", "rd-1", "user:1", "o-7", "COUPON", 1}));
  EXPECT_EQ(h.Balance("user:1", "COUPON"), 0);
  EXPECT_EQ(h.state.AssetSum("COUPON"), 0);
  // Grants are not given back by a redemption.
  EXPECT_EQ(h.state.GrantsToUser("c-1", "user:1"), 1);
}

TEST(RedeemVoucherTest, NeedsAVoucher) {
  Harness h;
  h.Must(Campaign("c-1"));
  EXPECT_TRUE(IsError(h.Run(Redeem("rd-1", "user:1")), ErrorKind::kRejected, "insufficient_funds"));
  h.Must(Grant("g-1", "user:1"));
  h.Must(Redeem("rd-1", "user:1"));
  EXPECT_TRUE(IsError(h.Run(Redeem("rd-2", "user:1")), ErrorKind::kRejected, "insufficient_funds"));
}

TEST(RedeemVoucherTest, CampaignMustExistAndBeActive) {
  Harness h;
  EXPECT_TRUE(IsError(h.Run(Redeem("rd-1", "user:1")), ErrorKind::kNotFound, "campaign_not_found"));
  h.Must(Campaign("c-1"));
  h.Must(Grant("g-1", "user:1"));
  EXPECT_TRUE(IsError(h.Run(Redeem("rd-1", "user:1"), Client(), kNow + kHourUs),
                      ErrorKind::kRejected, "campaign_not_active"));
  EXPECT_TRUE(IsError(h.Run(Redeem("rd-1", "user:1"), Client(), kNow - kHourUs - 1),
                      ErrorKind::kRejected, "campaign_not_active"));
  EXPECT_TRUE(IsError(h.Run(Redeem("rd-1", "user:1", "bad order")), ErrorKind::kInvalidArgument,
                      "invalid_argument"));
  EXPECT_TRUE(
      IsError(h.Run(Redeem("", "user:1")), ErrorKind::kInvalidArgument, "invalid_argument"));
  EXPECT_TRUE(h.Run(Redeem("rd-1", "user:1")));
}

TEST(RedeemVoucherTest, FrozenUserCannotRedeem) {
  Harness h;
  h.Must(OpenAccount{"user:1", false, true, {}});
  h.Must(Campaign("c-1"));
  h.Must(Grant("g-1", "user:1"));  // Credits are fine for a frozen account.
  EXPECT_TRUE(IsError(h.Run(Redeem("rd-1", "user:1")), ErrorKind::kRejected, "account_frozen"));
}

}  // namespace
}  // namespace ledger::commands
