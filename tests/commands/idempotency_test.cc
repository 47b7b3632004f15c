// IdempotencyKey, Fingerprint and CommandEventType.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "commands/command.h"
#include "commands/decide.h"
#include "tests/commands/harness.h"

namespace ledger::commands {
namespace {

using testing::BpsSplit;
using testing::Campaign;
using testing::Change;
using testing::Client;
using testing::Post;
using testing::Refund;
using testing::Settle;
using testing::TransferOf;

Command WithKey(CommandBody body, std::string idempotency_key = "", std::string client = "app") {
  Command command{Client(std::move(client)), std::move(body)};
  command.context.idempotency_key = std::move(idempotency_key);
  return command;
}

TEST(IdempotencyKeyTest, BusinessIdsWin) {
  EXPECT_EQ(IdempotencyKey(WithKey(OpenAccount{"user:1", false, false, {}}, "k")),
            "account/user:1");
  EXPECT_EQ(IdempotencyKey(WithKey(Settle("o-1", 10), "k")), "order/o-1");
  EXPECT_EQ(IdempotencyKey(WithKey(Refund("o-1", "r-2", 5))), "refund/o-1|r-2");
  EXPECT_EQ(IdempotencyKey(WithKey(PayOut{"po-1", "m", "USD", 1, "iban", std::nullopt})),
            "payout/po-1");
  EXPECT_EQ(IdempotencyKey(WithKey(Campaign("c-1"))), "campaign/c-1");
  EXPECT_EQ(IdempotencyKey(WithKey(GrantVoucher{"c-1", "g-1", "u"})), "grant/c-1|g-1");
  EXPECT_EQ(IdempotencyKey(WithKey(RedeemVoucher{"c-1", "rd-1", "u", ""})), "redeem/c-1|rd-1");
}

TEST(IdempotencyKeyTest, OtherwiseTheClientsKey) {
  EXPECT_EQ(IdempotencyKey(WithKey(Change("user:1", 5), "abc", "app")), "key/app|abc");
  EXPECT_EQ(IdempotencyKey(WithKey(TransferOf({Post("a", "b", 1)}), "abc", "other")),
            "key/other|abc");
  EXPECT_EQ(IdempotencyKey(WithKey(Change("user:1", 5))), "");
  EXPECT_EQ(IdempotencyKey(WithKey(TransferOf({Post("a", "b", 1)}))), "");
}

TEST(FingerprintTest, EqualForARepeat) {
  Command a = WithKey(Settle("o-1", 100, {BpsSplit("h", "commission", 10)}), "k1");
  Command b = WithKey(Settle("o-1", 100, {BpsSplit("h", "commission", 10)}), "k2");
  b.context.correlation_id = "corr";
  b.context.is_admin = true;
  EXPECT_EQ(Fingerprint(a), Fingerprint(b));
}

TEST(FingerprintTest, DiffersForAnyChange) {
  std::vector<Command> commands;
  commands.push_back(WithKey(Change("user:1", 5)));
  commands.push_back(WithKey(Change("user:1", 5), "", "other-client"));
  commands.push_back(WithKey(Change("user:1", 6)));
  commands.push_back(WithKey(Change("user:1", -5)));
  commands.push_back(WithKey(Change("user:2", 5)));
  commands.push_back(WithKey(Change("user:1", 5, "EUR")));
  ChangeAsset with_counterparty = Change("user:1", 5);
  with_counterparty.counterparty = "";
  commands.push_back(WithKey(with_counterparty));  // Present-but-empty differs from absent.
  ChangeAsset with_version = Change("user:1", 5);
  with_version.expected_version = 0;
  commands.push_back(WithKey(with_version));
  ChangeAsset moved = Change("user:1", 5);
  moved.reason = "ab";
  commands.push_back(WithKey(moved));
  moved.reason = "a";
  moved.ref = "b";  // Same bytes, other field: length prefixes keep them apart.
  commands.push_back(WithKey(moved));
  commands.push_back(WithKey(TransferOf({Post("a", "b", 1)})));
  commands.push_back(WithKey(TransferOf({Post("a", "b", 1), Post("a", "b", 1)})));
  commands.push_back(WithKey(Settle("o-1", 100)));
  commands.push_back(WithKey(Settle("o-1", 100, {BpsSplit("h", "commission", 10)})));
  SettleOrder with_time = Settle("o-1", 100);
  with_time.occurred_at_us = 1;
  commands.push_back(WithKey(with_time));
  commands.push_back(WithKey(Refund("o-1", "r-1", 100)));
  commands.push_back(WithKey(GrantVoucher{"c-1", "g-1", "u"}));
  commands.push_back(WithKey(RedeemVoucher{"c-1", "g-1", "u", ""}));  // Same fields, other type.
  commands.push_back(WithKey(Campaign("c-1")));
  commands.push_back(WithKey(OpenAccount{"user:1", false, false, {}}));
  commands.push_back(WithKey(OpenAccount{"user:1", true, false, {}}));
  commands.push_back(WithKey(OpenAccount{"user:1", false, false, {{"k", "v"}}}));
  for (std::size_t i = 0; i < commands.size(); ++i) {
    for (std::size_t j = i + 1; j < commands.size(); ++j) {
      EXPECT_NE(Fingerprint(commands[i]), Fingerprint(commands[j])) << i << " vs " << j;
    }
  }
}

// SHA-256 of the canonical encoding of Change("user:1", 5) from client "app" (cross-checked
// with an independent Python encoder: u64-length-prefixed strings, LE integers).
constexpr std::string_view kPinnedFingerprint =
    "3aa770c0e3e89f242bdacd9c8087e3f46743ca65b0495ea11c560e7a8516c42f";

TEST(FingerprintTest, IsStable) {
  // Stored fingerprints must stay comparable across versions: pin the encoding.
  Hash fingerprint = Fingerprint(WithKey(Change("user:1", 5), "k", "app"));
  EXPECT_EQ(HashToHex(fingerprint), HashToHex(Fingerprint(WithKey(Change("user:1", 5)))));
  EXPECT_EQ(HashToHex(fingerprint), kPinnedFingerprint);
}

TEST(CommandEventTypeTest, MapsEveryCommand) {
  EXPECT_EQ(CommandEventType(OpenAccount{}), EventType::kAccountOpened);
  EXPECT_EQ(CommandEventType(ChangeAsset{}), EventType::kAssetChanged);
  EXPECT_EQ(CommandEventType(Transfer{}), EventType::kTransferred);
  EXPECT_EQ(CommandEventType(SettleOrder{}), EventType::kOrderSettled);
  EXPECT_EQ(CommandEventType(RefundOrder{}), EventType::kOrderRefunded);
  EXPECT_EQ(CommandEventType(PayOut{}), EventType::kMerchantPaidOut);
  EXPECT_EQ(CommandEventType(CreateCampaign{}), EventType::kCampaignCreated);
  EXPECT_EQ(CommandEventType(GrantVoucher{}), EventType::kVoucherGranted);
  EXPECT_EQ(CommandEventType(RedeemVoucher{}), EventType::kVoucherRedeemed);
}

}  // namespace
}  // namespace ledger::commands
