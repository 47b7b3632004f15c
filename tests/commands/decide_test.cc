// Decide() for accounts, asset changes, transfers and payouts; input validation.
#include "commands/decide.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "ledger/limits.h"
#include "tests/commands/harness.h"

namespace ledger::commands {
namespace {

using testing::Change;
using testing::Harness;
using testing::IsError;
using testing::PayloadOf;
using testing::Post;
using testing::TransferOf;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

// --- OpenAccount -----------------------------------------------------------------------------

TEST(OpenAccountTest, OpensWithFlagsAndMetadata) {
  Harness h;
  OpenAccount open{"user:1", false, true, {{"tier", "gold"}}};
  Event event = h.Must(open);
  EXPECT_EQ(event.envelope.stream, "account/user:1");
  EXPECT_EQ(event.envelope.type, EventType::kAccountOpened);
  EXPECT_TRUE(event.postings.empty());
  EXPECT_EQ(PayloadOf<AccountOpened>(event),
            (AccountOpened{"user:1", false, true, {{"tier", "gold"}}}));
  const AccountState* account = h.state.FindAccount("user:1");
  ASSERT_NE(account, nullptr);
  EXPECT_TRUE(account->opened);
  EXPECT_TRUE(account->frozen);
  EXPECT_FALSE(account->allow_negative);
  EXPECT_EQ(account->version, 1u);
  EXPECT_EQ(account->stream_version, 1u);
}

TEST(OpenAccountTest, ExternalAccountAlwaysAllowsNegative) {
  Harness h;
  Event event = h.Must(OpenAccount{"external:psp", false, false, {}});
  EXPECT_TRUE(PayloadOf<AccountOpened>(event).allow_negative);
  EXPECT_TRUE(h.state.FindAccount("external:psp")->allow_negative);
}

TEST(OpenAccountTest, ExistingAccountConflicts) {
  Harness h;
  h.Must(OpenAccount{"user:1", false, false, {}});
  EXPECT_TRUE(IsError(h.Run(OpenAccount{"user:1", true, false, {}}), ErrorKind::kConflict,
                      "account_exists"));
  // An account created by a posting exists too.
  h.Must(Change("user:2", 5));
  EXPECT_TRUE(IsError(h.Run(OpenAccount{"user:2", false, false, {}}), ErrorKind::kConflict,
                      "account_exists"));
}

TEST(OpenAccountTest, RejectsBadIdsAndMetadata) {
  Harness h;
  for (std::string bad : {std::string(), std::string("user 1"), std::string("é"),
                          std::string("a\0b", 3), std::string(kIdBytesMax + 1, 'a')}) {
    EXPECT_TRUE(IsError(h.Run(OpenAccount{bad, false, false, {}}), ErrorKind::kInvalidArgument,
                        "invalid_argument"))
        << bad;
  }
  EXPECT_TRUE(h.Run(OpenAccount{std::string(kIdBytesMax, 'a'), false, false, {}}));
  EXPECT_TRUE(h.Run(OpenAccount{"Az09_:.@/-", false, false, {}}));

  Metadata repeated{{"k", "1"}, {"k", "2"}};
  EXPECT_TRUE(IsError(h.Run(OpenAccount{"m:1", false, false, repeated}),
                      ErrorKind::kInvalidArgument, "invalid_argument"));
  Metadata too_many;
  for (std::size_t i = 0; i <= kMetadataEntriesMax; ++i)
    too_many.emplace_back("k" + std::to_string(i), "v");
  EXPECT_TRUE(IsError(h.Run(OpenAccount{"m:1", false, false, too_many}),
                      ErrorKind::kInvalidArgument, "invalid_argument"));
  too_many.pop_back();
  EXPECT_TRUE(h.Run(OpenAccount{"m:1", false, false, too_many}));
  Metadata long_value{{"k", std::string(kMetadataValueBytesMax + 1, 'v')}};
  EXPECT_TRUE(IsError(h.Run(OpenAccount{"m:2", false, false, long_value}),
                      ErrorKind::kInvalidArgument, "invalid_argument"));
  Metadata long_key{{std::string(kMetadataKeyBytesMax + 1, 'k'), "v"}};
  EXPECT_TRUE(IsError(h.Run(OpenAccount{"m:2", false, false, long_key}),
                      ErrorKind::kInvalidArgument, "invalid_argument"));
  Metadata empty_key{{"", "v"}};
  EXPECT_TRUE(IsError(h.Run(OpenAccount{"m:2", false, false, empty_key}),
                      ErrorKind::kInvalidArgument, "invalid_argument"));
}

TEST(OpenAccountTest, ErrorMessageNamesTheField) {
  Harness h;
  Result<Event> result = h.Run(Change("user:1", 5, "bad asset"));
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("asset"), std::string::npos) << result.error().message;
}

// --- ChangeAsset -----------------------------------------------------------------------------

TEST(ChangeAssetTest, CreditPostsFromExternalSource) {
  Harness h;
  Event event = h.Must(Change("user:1", 100, "USD", "psp"));
  EXPECT_EQ(event.envelope.stream, "account/user:1");
  ASSERT_EQ(event.postings.size(), 1u);
  EXPECT_EQ(event.postings[0], Post("external:psp", "user:1", 100));
  const AssetChanged& changed = PayloadOf<AssetChanged>(event);
  EXPECT_EQ(changed.counterparty, "external:psp");
  EXPECT_EQ(changed.amount, 100);
  EXPECT_EQ(h.Balance("user:1", "USD"), 100);
  EXPECT_EQ(h.Balance("external:psp", "USD"), -100);
  EXPECT_EQ(h.state.AssetSum("USD"), 0);
  EXPECT_TRUE(h.state.FindAccount("external:psp")->allow_negative);
  EXPECT_FALSE(h.state.FindAccount("user:1")->allow_negative);
  EXPECT_FALSE(h.state.FindAccount("user:1")->opened);
}

TEST(ChangeAssetTest, DebitPostsToCounterparty) {
  Harness h;
  h.Must(Change("user:1", 100));
  ChangeAsset debit = Change("user:1", -30);
  debit.counterparty = "merchant:9";
  debit.reason = "fee";
  debit.ref = "r-1";
  Event event = h.Must(debit);
  EXPECT_EQ(event.postings[0], Post("user:1", "merchant:9", 30));
  EXPECT_EQ(PayloadOf<AssetChanged>(event),
            (AssetChanged{"user:1", "USD", -30, "merchant:9", "bank", "fee", "r-1"}));
  EXPECT_EQ(h.Balance("user:1", "USD"), 70);
  EXPECT_EQ(h.Balance("merchant:9", "USD"), 30);
}

TEST(ChangeAssetTest, InsufficientFundsNamesAccountAssetBalanceAndNeed) {
  Harness h;
  h.Must(Change("user:1", 50));
  Result<Event> result = h.Run(Change("user:1", -80));
  ASSERT_TRUE(IsError(result, ErrorKind::kRejected, "insufficient_funds"));
  const std::string& message = result.error().message;
  EXPECT_NE(message.find("user:1"), std::string::npos) << message;
  EXPECT_NE(message.find("USD"), std::string::npos) << message;
  EXPECT_NE(message.find("50"), std::string::npos) << message;
  EXPECT_NE(message.find("80"), std::string::npos) << message;
  EXPECT_EQ(h.Balance("user:1", "USD"), 50);
  // Exactly the balance is fine.
  EXPECT_TRUE(h.Run(Change("user:1", -50)));
  EXPECT_EQ(h.Balance("user:1", "USD"), 0);
}

TEST(ChangeAssetTest, AllowNegativeAndExternalAccountsMayGoBelowZero) {
  Harness h;
  h.Must(OpenAccount{"credit:1", true, false, {}});
  EXPECT_TRUE(h.Run(Change("credit:1", -500)));
  EXPECT_EQ(h.Balance("credit:1", "USD"), -500);
  EXPECT_TRUE(h.Run(Change("external:float", -700)));
  EXPECT_EQ(h.Balance("external:float", "USD"), -700);
  EXPECT_EQ(h.state.AssetSum("USD"), 0);
}

TEST(ChangeAssetTest, FrozenAccountRefusesDebitsButTakesCredits) {
  Harness h;
  h.Must(OpenAccount{"user:1", false, true, {}});
  EXPECT_TRUE(h.Run(Change("user:1", 100)));
  EXPECT_TRUE(IsError(h.Run(Change("user:1", -1)), ErrorKind::kRejected, "account_frozen"));
  EXPECT_EQ(h.Balance("user:1", "USD"), 100);
}

TEST(ChangeAssetTest, ExpectedVersion) {
  Harness h;
  ChangeAsset first = Change("user:1", 10);
  first.expected_version = 1;
  EXPECT_TRUE(IsError(h.Run(first), ErrorKind::kConflict, "version_conflict"));
  first.expected_version = 0;  // An unknown account is at version 0.
  h.Must(first);
  EXPECT_EQ(h.state.FindAccount("user:1")->version, 1u);
  ChangeAsset second = Change("user:1", 10);
  second.expected_version = 0;
  Result<Event> stale = h.Run(second);
  ASSERT_TRUE(IsError(stale, ErrorKind::kConflict, "version_conflict"));
  EXPECT_NE(stale.error().message.find("version 1"), std::string::npos) << stale.error().message;
  second.expected_version = 1;
  EXPECT_TRUE(h.Run(second));
}

TEST(ChangeAssetTest, RejectsBadInput) {
  Harness h;
  EXPECT_TRUE(IsError(h.Run(Change("user:1", 0)), ErrorKind::kInvalidArgument, "invalid_argument"));
  EXPECT_TRUE(
      IsError(h.Run(Change("user:1", kMin)), ErrorKind::kInvalidArgument, "amount_overflow"));
  EXPECT_TRUE(
      IsError(h.Run(Change("user:1", 1, "")), ErrorKind::kInvalidArgument, "invalid_argument"));
  EXPECT_TRUE(IsError(h.Run(Change("user:1", 1, "USD", "")), ErrorKind::kInvalidArgument,
                      "invalid_argument"));
  // "external:" + a maximal source no longer fits as an account id.
  EXPECT_TRUE(IsError(h.Run(Change("user:1", 1, "USD", std::string(kIdBytesMax, 's'))),
                      ErrorKind::kInvalidArgument, "invalid_argument"));
  ChangeAsset self = Change("external:bank", 1);
  EXPECT_TRUE(IsError(h.Run(self), ErrorKind::kInvalidArgument, "invalid_argument"));
  ChangeAsset bad_counterparty = Change("user:1", 1);
  bad_counterparty.counterparty = "no spaces";
  EXPECT_TRUE(IsError(h.Run(bad_counterparty), ErrorKind::kInvalidArgument, "invalid_argument"));
  ChangeAsset long_reason = Change("user:1", 1);
  long_reason.reason = std::string(kTextBytesMax + 1, 'r');
  EXPECT_TRUE(IsError(h.Run(long_reason), ErrorKind::kInvalidArgument, "invalid_argument"));
  long_reason.reason.pop_back();
  long_reason.ref = std::string(kTextBytesMax + 1, 'r');
  EXPECT_TRUE(IsError(h.Run(long_reason), ErrorKind::kInvalidArgument, "invalid_argument"));
  long_reason.ref.pop_back();
  EXPECT_TRUE(h.Run(long_reason));
}

TEST(ChangeAssetTest, BalanceOverflowIsRejected) {
  Harness h;
  h.Must(Change("user:1", kMax));
  EXPECT_TRUE(IsError(h.Run(Change("user:1", 1)), ErrorKind::kRejected, "balance_overflow"));
  // The external side overflows downwards: it is at -kMax, and -kMax - 2 does not fit.
  EXPECT_TRUE(IsError(h.Run(Change("user:2", 2)), ErrorKind::kRejected, "balance_overflow"));
  EXPECT_TRUE(h.Run(Change("user:2", 1)));  // -kMax - 1 == INT64_MIN still fits.
  EXPECT_EQ(h.Balance("external:bank", "USD"), kMin);
  EXPECT_EQ(h.state.AssetSum("USD"), 0);
  // A debit of the most negative amount that can be negated is fine for an external account.
  EXPECT_TRUE(h.Run(Change("external:other", -kMax)));
}

// --- Transfer --------------------------------------------------------------------------------

TEST(TransferTest, MovesValueAtomically) {
  Harness h;
  h.Must(Change("a", 10));
  // b receives before it pays: the check applies to balances after all postings.
  Transfer transfer = TransferOf({Post("a", "b", 10), Post("b", "c", 10)});
  transfer.ref = "t-1";
  transfer.metadata = {{"memo", "rent"}};
  Event event = h.Must(transfer);
  EXPECT_EQ(event.envelope.stream, "transfers");
  EXPECT_EQ(event.postings, transfer.postings);
  EXPECT_EQ(PayloadOf<Transferred>(event), (Transferred{"t-1", {{"memo", "rent"}}}));
  EXPECT_EQ(h.Balance("a", "USD"), 0);
  EXPECT_EQ(h.Balance("b", "USD"), 0);
  EXPECT_EQ(h.Balance("c", "USD"), 10);
  EXPECT_EQ(h.state.StreamVersion("transfers"), 1u);
  // Each account's version counts events, not postings.
  EXPECT_EQ(h.state.FindAccount("a")->version, 2u);
  EXPECT_EQ(h.state.FindAccount("b")->version, 1u);
}

TEST(TransferTest, InsufficientFundsAfterAllPostingsRejectsTheWholeTransfer) {
  Harness h;
  h.Must(Change("a", 10));
  Result<Event> result = h.Run(TransferOf({Post("a", "b", 5), Post("a", "c", 6)}));
  ASSERT_TRUE(IsError(result, ErrorKind::kRejected, "insufficient_funds"));
  EXPECT_NE(result.error().message.find("11"), std::string::npos) << result.error().message;
  EXPECT_EQ(h.Balance("a", "USD"), 10);
  EXPECT_EQ(h.Balance("b", "USD"), 0);
  EXPECT_EQ(h.state.FindAccount("b"), nullptr);  // Nothing was applied, nothing created.
}

TEST(TransferTest, MultipleAssets) {
  Harness h;
  h.Must(Change("a", 10, "USD"));
  h.Must(Change("b", 7, "EUR"));
  h.Must(TransferOf({Post("a", "b", 10, "USD"), Post("b", "a", 7, "EUR")}));
  EXPECT_EQ(h.Balance("a", "EUR"), 7);
  EXPECT_EQ(h.Balance("b", "USD"), 10);
  EXPECT_EQ(h.Balance("a", "USD"), 0);
  EXPECT_EQ(h.state.AssetSum("USD"), 0);
  EXPECT_EQ(h.state.AssetSum("EUR"), 0);
  // A different asset's balance does not pay.
  EXPECT_TRUE(IsError(h.Run(TransferOf({Post("a", "b", 1, "USD")})), ErrorKind::kRejected,
                      "insufficient_funds"));
}

TEST(TransferTest, FrozenAccountRefusesDebits) {
  Harness h;
  h.Must(OpenAccount{"f", false, true, {}});
  h.Must(Change("a", 10));
  EXPECT_TRUE(h.Run(TransferOf({Post("a", "f", 10)})));
  EXPECT_TRUE(
      IsError(h.Run(TransferOf({Post("f", "a", 1)})), ErrorKind::kRejected, "account_frozen"));
}

TEST(TransferTest, ExpectedVersions) {
  Harness h;
  h.Must(Change("a", 10));
  Transfer transfer = TransferOf({Post("a", "b", 1)});
  transfer.expected_versions = {{"a", 1}, {"b", 1}};
  EXPECT_TRUE(IsError(h.Run(transfer), ErrorKind::kConflict, "version_conflict"));
  transfer.expected_versions = {{"a", 1}, {"b", 0}};
  EXPECT_TRUE(h.Run(transfer));
  EXPECT_TRUE(IsError(h.Run(transfer), ErrorKind::kConflict, "version_conflict"));
}

TEST(TransferTest, RejectsBadPostings) {
  Harness h;
  h.Must(Change("a", 100));
  auto expect_invalid = [&](std::vector<Posting> postings) {
    EXPECT_TRUE(IsError(h.Run(TransferOf(std::move(postings))), ErrorKind::kInvalidArgument,
                        "invalid_argument"));
  };
  expect_invalid({});
  expect_invalid({Post("a", "a", 1)});
  expect_invalid({Post("a", "b", 0)});
  expect_invalid({Post("a", "b", -1)});
  expect_invalid({Post("", "b", 1)});
  expect_invalid({Post("a", "b c", 1)});
  expect_invalid({Post("a", "b", 1, "U S D")});
  std::vector<Posting> too_many(kTransferPostingsMax + 1, Post("external:x", "b", 1));
  expect_invalid(too_many);
  too_many.pop_back();
  EXPECT_TRUE(h.Run(TransferOf(too_many)));

  Result<Event> named = h.Run(TransferOf({Post("a", "b", 1), Post("a", "b", 0)}));
  ASSERT_FALSE(named);
  EXPECT_NE(named.error().message.find("postings[1].amount"), std::string::npos)
      << named.error().message;
}

TEST(TransferTest, SumOfInputAmountsMustFit) {
  Harness h;
  Result<Event> result =
      h.Run(TransferOf({Post("external:a", "b", kMax), Post("external:a", "c", 1)}));
  EXPECT_TRUE(IsError(result, ErrorKind::kInvalidArgument, "amount_overflow"));
  // Different assets do not add up.
  EXPECT_TRUE(h.Run(
      TransferOf({Post("external:a", "b", kMax, "USD"), Post("external:a", "c", kMax, "EUR")})));
}

TEST(TransferTest, IntermediateOverflowIsRejected) {
  Harness h;
  h.Must(Change("a", kMax - 1));
  EXPECT_TRUE(IsError(h.Run(TransferOf({Post("external:x", "a", 5), Post("a", "b", 5)})),
                      ErrorKind::kRejected, "balance_overflow"));
  EXPECT_EQ(h.Balance("a", "USD"), kMax - 1);
}

TEST(TransferTest, LimitsOnTextMetadataAndExpectedVersions) {
  Harness h;
  Transfer transfer = TransferOf({Post("external:a", "b", 1)});
  transfer.ref = std::string(kTextBytesMax + 1, 'r');
  EXPECT_TRUE(IsError(h.Run(transfer), ErrorKind::kInvalidArgument, "invalid_argument"));
  transfer.ref.clear();
  transfer.metadata = {{"k", "v"}, {"k", "w"}};
  EXPECT_TRUE(IsError(h.Run(transfer), ErrorKind::kInvalidArgument, "invalid_argument"));
  transfer.metadata.clear();
  transfer.expected_versions = {{"bad id", 0}};
  EXPECT_TRUE(IsError(h.Run(transfer), ErrorKind::kInvalidArgument, "invalid_argument"));
  transfer.expected_versions.clear();
  for (std::size_t i = 0; i <= 2 * kTransferPostingsMax; ++i) {
    transfer.expected_versions["acct:" + std::to_string(i)] = 0;
  }
  EXPECT_TRUE(IsError(h.Run(transfer), ErrorKind::kInvalidArgument, "invalid_argument"));
}

// --- PayOut ----------------------------------------------------------------------------------

PayOut PayOutOf(std::int64_t amount) {
  PayOut command;
  command.payout_id = "po-1";
  command.merchant = "merchant:1";
  command.asset = "USD";
  command.amount = amount;
  command.bank_account = "DE89-3704";
  return command;
}

TEST(PayOutTest, PaysToExternalBankAccount) {
  Harness h;
  h.Must(Change("merchant:1", 100));
  Event event = h.Must(PayOutOf(60));
  EXPECT_EQ(event.envelope.stream, "account/merchant:1");
  EXPECT_EQ(event.envelope.stream_version, 2u);
  EXPECT_EQ(event.postings,
            (std::vector<Posting>{Post("merchant:1", "external:bank:DE89-3704", 60)}));
  EXPECT_EQ(PayloadOf<MerchantPaidOut>(event),
            (MerchantPaidOut{"po-1", "merchant:1", "USD", 60, "DE89-3704"}));
  EXPECT_EQ(h.Balance("merchant:1", "USD"), 40);
  EXPECT_TRUE(IsError(h.Run(PayOutOf(41)), ErrorKind::kRejected, "insufficient_funds"));
}

TEST(PayOutTest, ExpectedVersionAndValidation) {
  Harness h;
  h.Must(Change("merchant:1", 100));
  PayOut payout = PayOutOf(10);
  payout.expected_version = 7;
  EXPECT_TRUE(IsError(h.Run(payout), ErrorKind::kConflict, "version_conflict"));
  payout.expected_version = 1;
  EXPECT_TRUE(h.Run(payout));
  EXPECT_TRUE(IsError(h.Run(PayOutOf(0)), ErrorKind::kInvalidArgument, "invalid_argument"));
  PayOut bad = PayOutOf(1);
  bad.bank_account = "has space";
  EXPECT_TRUE(IsError(h.Run(bad), ErrorKind::kInvalidArgument, "invalid_argument"));
  bad = PayOutOf(1);
  bad.payout_id = "";
  EXPECT_TRUE(IsError(h.Run(bad), ErrorKind::kInvalidArgument, "invalid_argument"));
  h.Must(OpenAccount{"merchant:2", false, true, {}});
  bad = PayOutOf(1);
  bad.merchant = "merchant:2";
  EXPECT_TRUE(IsError(h.Run(bad), ErrorKind::kRejected, "account_frozen"));
}

}  // namespace
}  // namespace ledger::commands
