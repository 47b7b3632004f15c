// Orders: settlement splits, rounding, refunds with cumulative rounding.
#include <gtest/gtest.h>

#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "commands/decide.h"
#include "ledger/limits.h"
#include "tests/commands/harness.h"
#include "tests/support/temp_dir.h"

namespace ledger::commands {
namespace {

using testing::AmountSplit;
using testing::BpsSplit;
using testing::Change;
using testing::Harness;
using testing::IsError;
using testing::kNow;
using testing::PayloadOf;
using testing::Post;
using testing::Refund;
using testing::Settle;
using testing::TransferOf;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

std::vector<Split> ExampleSplits() {
  return {BpsSplit("host:1", "host_commission", 1000), BpsSplit("platform", "platform_share", 500),
          BpsSplit("tsf", "technical_service_fee", 60)};
}

std::vector<std::int64_t> LineAmounts(const std::vector<SettlementLine>& lines) {
  std::vector<std::int64_t> amounts;
  for (const SettlementLine& line : lines) amounts.push_back(line.amount);
  return amounts;
}

// The line amounts of a settlement of `gross` with the given splits, or the error code.
std::vector<std::int64_t> SettledAmounts(std::int64_t gross, std::vector<Split> splits) {
  Harness h;
  Event event = h.Must(Settle("o-1", gross, std::move(splits)));
  return LineAmounts(PayloadOf<OrderSettled>(event).lines);
}

// --- Settlement ------------------------------------------------------------------------------

TEST(SettleOrderTest, ExampleSplitsExactly) {
  Harness h;
  Event event = h.Must(Settle("o-1", 10000, ExampleSplits()));
  EXPECT_EQ(event.envelope.stream, "order/o-1");
  EXPECT_EQ(event.envelope.stream_version, 1u);
  const OrderSettled& settled = PayloadOf<OrderSettled>(event);
  EXPECT_EQ(settled.order_id, "o-1");
  EXPECT_EQ(settled.merchant, "merchant:1");
  EXPECT_EQ(settled.payer, "external:payments");
  EXPECT_EQ(settled.gross, 10000);
  EXPECT_EQ(settled.occurred_at_us, kNow);
  std::vector<SettlementLine> expected{{"host:1", "host_commission", 1000, 1000},
                                       {"platform", "platform_share", 500, 500},
                                       {"tsf", "technical_service_fee", 60, 60},
                                       {"merchant:1", "merchant", 8440, -1}};
  EXPECT_EQ(settled.lines, expected);
  std::vector<Posting> postings{Post("external:payments", "merchant:1", 10000),
                                Post("merchant:1", "host:1", 1000),
                                Post("merchant:1", "platform", 500), Post("merchant:1", "tsf", 60)};
  EXPECT_EQ(event.postings, postings);
  EXPECT_EQ(h.Balance("merchant:1", "USD"), 8440);
  EXPECT_EQ(h.Balance("host:1", "USD"), 1000);
  EXPECT_EQ(h.Balance("platform", "USD"), 500);
  EXPECT_EQ(h.Balance("tsf", "USD"), 60);
  EXPECT_EQ(h.state.AssetSum("USD"), 0);
  const OrderState* order = h.state.FindOrder("o-1");
  ASSERT_NE(order, nullptr);
  EXPECT_EQ(order->settlement, settled);
  EXPECT_EQ(order->refunded_total, 0);
}

TEST(SettleOrderTest, FixedAmountSplitsAndExplicitTime) {
  Harness h;
  SettleOrder settle = Settle(
      "o-1", 500,
      {AmountSplit("host:1", "commission", 120), BpsSplit("platform", "platform_share", 1000)});
  settle.occurred_at_us = 42;
  Event event = h.Must(settle);
  const OrderSettled& settled = PayloadOf<OrderSettled>(event);
  EXPECT_EQ(LineAmounts(settled.lines), (std::vector<std::int64_t>{120, 50, 330}));
  EXPECT_EQ(settled.lines[0].bps, -1);
  EXPECT_EQ(settled.lines[1].bps, 1000);
  EXPECT_EQ(settled.occurred_at_us, 42);
}

TEST(SettleOrderTest, RoundsHalfUp) {
  // 1 * 50% = 0.5 -> 1; the merchant keeps 0 and still gets its (zero) line.
  EXPECT_EQ(SettledAmounts(1, {BpsSplit("h", "commission", 5000)}),
            (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(SettledAmounts(1, {BpsSplit("h", "commission", 4999)}),
            (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(SettledAmounts(3, {BpsSplit("h", "commission", 3333)}),  // 0.9999 -> 1
            (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(SettledAmounts(3, {BpsSplit("h", "commission", 5000)}),  // 1.5 -> 2
            (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(SettledAmounts(10, {BpsSplit("h", "commission", 1500)}),  // 1.5 -> 2
            (std::vector<std::int64_t>{2, 8}));
  EXPECT_EQ(SettledAmounts(10, {BpsSplit("h", "commission", 1499)}),  // 1.499 -> 1
            (std::vector<std::int64_t>{1, 9}));
  EXPECT_EQ(SettledAmounts(3, {BpsSplit("h", "commission", 1)}),  // 0.0003 -> 0
            (std::vector<std::int64_t>{0, 3}));
  EXPECT_EQ(SettledAmounts(7, {BpsSplit("h", "commission", 10000)}),
            (std::vector<std::int64_t>{7, 0}));
}

TEST(SettleOrderTest, ZeroSplitLinesGetNoPosting) {
  Harness h;
  Event event = h.Must(Settle("o-1", 3, {BpsSplit("h", "commission", 1)}));
  EXPECT_EQ(event.postings, (std::vector<Posting>{Post("external:payments", "merchant:1", 3)}));
  EXPECT_EQ(PayloadOf<OrderSettled>(event).lines.size(), 2u);
}

TEST(SettleOrderTest, RoundedSplitsAboveGrossAreRejected) {
  Harness h;
  // 2 * 25% = 0.5 -> 1 three times: 3 > 2, although the shares add up to only 75%.
  std::vector<Split> splits(3, BpsSplit("h", "commission", 2500));
  EXPECT_TRUE(
      IsError(h.Run(Settle("o-1", 2, splits)), ErrorKind::kRejected, "splits_exceed_gross"));
  // Sixteen splits of 6.25% of 8 each round 0.5 up to 1: 16 > 8.
  std::vector<Split> many(kSettlementSplitsMax, BpsSplit("h", "commission", 625));
  EXPECT_TRUE(IsError(h.Run(Settle("o-1", 8, many)), ErrorKind::kRejected, "splits_exceed_gross"));
  EXPECT_TRUE(IsError(
      h.Run(Settle("o-1", 100,
                   {AmountSplit("h", "commission", 60), BpsSplit("p", "platform_share", 5000)})),
      ErrorKind::kRejected, "splits_exceed_gross"));
  EXPECT_TRUE(IsError(h.Run(Settle("o-1", 100, {AmountSplit("h", "commission", 101)})),
                      ErrorKind::kRejected, "splits_exceed_gross"));
  // Exactly the gross is fine; the merchant's line is then 0.
  EXPECT_EQ(SettledAmounts(
                100, {AmountSplit("h", "commission", 40), BpsSplit("p", "platform_share", 6000)}),
            (std::vector<std::int64_t>{40, 60, 0}));
  EXPECT_EQ(h.state.FindOrder("o-1"), nullptr);
}

TEST(SettleOrderTest, FixedSplitAmountsThatOverflowAreInvalid) {
  Harness h;
  EXPECT_TRUE(IsError(
      h.Run(Settle("o-1", kMax,
                   {AmountSplit("h", "commission", kMax), AmountSplit("p", "commission", 1)})),
      ErrorKind::kInvalidArgument, "amount_overflow"));
  // A huge gross with bps splits does not overflow: gross * bps is computed in 128 bits.
  EXPECT_EQ(SettledAmounts(kMax, {BpsSplit("h", "commission", 10000)}),
            (std::vector<std::int64_t>{kMax, 0}));
}

TEST(SettleOrderTest, OrderSettlesOnce) {
  Harness h;
  h.Must(Settle("o-1", 100));
  EXPECT_TRUE(IsError(h.Run(Settle("o-1", 100)), ErrorKind::kConflict, "order_already_settled"));
}

TEST(SettleOrderTest, PayerNeedsFunds) {
  Harness h;
  EXPECT_TRUE(
      IsError(h.Run(Settle("o-1", 100, {}, "user:1")), ErrorKind::kRejected, "insufficient_funds"));
  h.Must(Change("user:1", 100));
  EXPECT_TRUE(h.Run(Settle("o-1", 100, ExampleSplits(), "user:1")));
  EXPECT_EQ(h.Balance("user:1", "USD"), 0);
  h.Must(OpenAccount{"user:2", false, true, {}});
  EXPECT_TRUE(
      IsError(h.Run(Settle("o-2", 1, {}, "user:2")), ErrorKind::kRejected, "account_frozen"));
}

TEST(SettleOrderTest, RejectsBadInput) {
  Harness h;
  auto expect_invalid = [&](SettleOrder settle) {
    EXPECT_TRUE(IsError(h.Run(settle), ErrorKind::kInvalidArgument, "invalid_argument"));
  };
  expect_invalid(Settle("o-1", 0));
  expect_invalid(Settle("o-1", -5));
  expect_invalid(Settle("", 10));
  expect_invalid(Settle("o-1", 10, {}, "merchant:1"));                    // Payer is the merchant.
  expect_invalid(Settle("o-1", 10, {Split{"h", "commission", 100, 5}}));  // Both.
  expect_invalid(Settle("o-1", 10, {Split{"h", "commission", std::nullopt, std::nullopt}}));
  expect_invalid(Settle("o-1", 10, {BpsSplit("h", "commission", 0)}));
  expect_invalid(Settle("o-1", 10, {BpsSplit("h", "commission", 10001)}));
  expect_invalid(Settle("o-1", 10, {AmountSplit("h", "commission", 0)}));
  expect_invalid(Settle("o-1", 10, {BpsSplit("h", "merchant", 100)}));
  expect_invalid(Settle("o-1", 10, {BpsSplit("h", "tip", 100)}));
  expect_invalid(Settle("o-1", 10, {BpsSplit("merchant:1", "commission", 100)}));
  expect_invalid(Settle("o-1", 10, {BpsSplit("bad id", "commission", 100)}));
  expect_invalid(Settle(
      "o-1", 10, std::vector<Split>(kSettlementSplitsMax + 1, BpsSplit("h", "commission", 1))));
  SettleOrder bad_asset = Settle("o-1", 10);
  bad_asset.asset = "";
  expect_invalid(bad_asset);
  EXPECT_TRUE(h.Run(
      Settle("o-1", 10, std::vector<Split>(kSettlementSplitsMax, BpsSplit("h", "commission", 1)))));
  Result<Event> named =
      h.Run(Settle("o-2", 10, {BpsSplit("h", "commission", 1), BpsSplit("h", "nope", 1)}));
  ASSERT_FALSE(named);
  EXPECT_NE(named.error().message.find("splits[1].kind"), std::string::npos)
      << named.error().message;
}

// --- Refunds ---------------------------------------------------------------------------------

TEST(RefundOrderTest, FullRefundReversesEveryLine) {
  Harness h;
  h.Must(Settle("o-1", 10000, ExampleSplits()));
  Event event = h.Must(Refund("o-1", "r-1", 10000));
  EXPECT_EQ(event.envelope.stream, "order/o-1");
  EXPECT_EQ(event.envelope.stream_version, 2u);
  const OrderRefunded& refunded = PayloadOf<OrderRefunded>(event);
  EXPECT_EQ(refunded.order_id, "o-1");
  EXPECT_EQ(refunded.refund_id, "r-1");
  EXPECT_EQ(refunded.merchant, "merchant:1");
  EXPECT_EQ(refunded.payer, "external:payments");
  EXPECT_EQ(refunded.asset, "USD");
  EXPECT_EQ(refunded.amount, 10000);
  EXPECT_EQ(refunded.refunded_total, 10000);
  EXPECT_EQ(LineAmounts(refunded.lines), (std::vector<std::int64_t>{1000, 500, 60, 8440}));
  EXPECT_EQ(refunded.lines[3].kind, "merchant");
  std::vector<Posting> postings{Post("host:1", "merchant:1", 1000),
                                Post("platform", "merchant:1", 500), Post("tsf", "merchant:1", 60),
                                Post("merchant:1", "external:payments", 10000)};
  EXPECT_EQ(event.postings, postings);
  for (std::string account : {"merchant:1", "host:1", "platform", "tsf", "external:payments"}) {
    EXPECT_EQ(h.Balance(account, "USD"), 0) << account;
  }
  EXPECT_EQ(h.state.FindOrder("o-1")->refunded_total, 10000);
  EXPECT_EQ(h.state.FindOrder("o-1")->stream_version, 2u);
}

TEST(RefundOrderTest, PartialRefundsReverseEachLineExactlyInTotal) {
  Harness h;
  h.Must(Settle("o-1", 10000, ExampleSplits()));
  std::vector<std::int64_t> totals(4, 0);
  for (std::int64_t amount : {3333, 3333, 3333, 1}) {
    Event event = h.Must(Refund("o-1", "r-" + std::to_string(amount), amount));
    const OrderRefunded& refunded = PayloadOf<OrderRefunded>(event);
    std::vector<std::int64_t> lines = LineAmounts(refunded.lines);
    EXPECT_EQ(std::accumulate(lines.begin(), lines.end(), std::int64_t{0}), amount);
    for (std::size_t i = 0; i < lines.size(); ++i) totals[i] += lines[i];
  }
  EXPECT_EQ(totals, (std::vector<std::int64_t>{1000, 500, 60, 8440}));
  EXPECT_EQ(h.Balance("tsf", "USD"), 0);
  EXPECT_EQ(h.Balance("merchant:1", "USD"), 0);
  EXPECT_EQ(h.state.AssetSum("USD"), 0);
  EXPECT_TRUE(
      IsError(h.Run(Refund("o-1", "r-x", 1)), ErrorKind::kRejected, "refund_exceeds_gross"));
}

TEST(RefundOrderTest, MerchantLineMayBeNegativeWhenRoundingCatchesUp) {
  Harness h;
  h.Must(Change("merchant:1", 10));  // The merchant has other funds.
  h.Must(Settle("o-1", 3, {AmountSplit("a", "commission", 1), AmountSplit("b", "commission", 1)}));
  std::vector<std::vector<std::int64_t>> lines;
  for (int i = 0; i < 3; ++i) {
    Event event = h.Must(Refund("o-1", "r-" + std::to_string(i), 1));
    lines.push_back(LineAmounts(PayloadOf<OrderRefunded>(event).lines));
  }
  // round(1/3) = 0, round(2/3) = 1, round(3/3) = 1 for each split.
  EXPECT_EQ(lines[0], (std::vector<std::int64_t>{0, 0, 1}));
  EXPECT_EQ(lines[1], (std::vector<std::int64_t>{1, 1, -1}));
  EXPECT_EQ(lines[2], (std::vector<std::int64_t>{0, 0, 1}));
  EXPECT_EQ(h.Balance("a", "USD"), 0);
  EXPECT_EQ(h.Balance("b", "USD"), 0);
  EXPECT_EQ(h.Balance("merchant:1", "USD"), 10);
}

TEST(RefundOrderTest, RandomPartialRefundsAddUpToEveryLine) {
  std::mt19937_64 random(ledger::testing::TestSeed());
  for (int round = 0; round < 200; ++round) {
    Harness h;
    std::int64_t gross = std::uniform_int_distribution<std::int64_t>(1, 100000)(random);
    std::vector<Split> splits;
    int split_count = std::uniform_int_distribution<int>(0, 5)(random);
    for (int i = 0; i < split_count; ++i) {
      splits.push_back(BpsSplit("r:" + std::to_string(i), "commission",
                                std::uniform_int_distribution<std::int64_t>(1, 1500)(random)));
    }
    h.Must(Change("merchant:1", gross));  // Slack for the merchant's rounding.
    Result<Event> settled = h.Run(Settle("o", gross, splits));
    if (!settled) continue;  // Rounded splits above a tiny gross.
    std::vector<std::int64_t> expected = LineAmounts(PayloadOf<OrderSettled>(*settled).lines);
    std::vector<std::int64_t> totals(expected.size(), 0);
    std::int64_t left = gross;
    for (int refund = 0; left > 0; ++refund) {
      std::int64_t amount = std::uniform_int_distribution<std::int64_t>(1, left)(random);
      if (refund % 3 == 0) amount = std::min<std::int64_t>(left, 1 + amount / 10);
      Event event = h.Must(Refund("o", "r-" + std::to_string(refund), amount));
      std::vector<std::int64_t> lines = LineAmounts(PayloadOf<OrderRefunded>(event).lines);
      ASSERT_EQ(std::accumulate(lines.begin(), lines.end(), std::int64_t{0}), amount);
      for (std::size_t i = 0; i < lines.size(); ++i) totals[i] += lines[i];
      left -= amount;
    }
    ASSERT_EQ(totals, expected) << "gross " << gross;
    for (int i = 0; i < split_count; ++i) {
      ASSERT_EQ(h.Balance("r:" + std::to_string(i), "USD"), 0);
    }
    ASSERT_EQ(h.Balance("merchant:1", "USD"), gross);
    ASSERT_EQ(h.state.AssetSum("USD"), 0);
  }
}

TEST(RefundOrderTest, RefundAboveGrossIsRejected) {
  Harness h;
  h.Must(Settle("o-1", 100));
  EXPECT_TRUE(
      IsError(h.Run(Refund("o-1", "r-1", 101)), ErrorKind::kRejected, "refund_exceeds_gross"));
  h.Must(Refund("o-1", "r-1", 60));
  EXPECT_TRUE(
      IsError(h.Run(Refund("o-1", "r-2", 41)), ErrorKind::kRejected, "refund_exceeds_gross"));
  EXPECT_TRUE(
      IsError(h.Run(Refund("o-1", "r-2", kMax)), ErrorKind::kRejected, "refund_exceeds_gross"));
  EXPECT_TRUE(h.Run(Refund("o-1", "r-2", 40)));
  EXPECT_EQ(h.state.FindOrder("o-1")->refunded_total, 100);
}

TEST(RefundOrderTest, UnknownOrderAndBadInput) {
  Harness h;
  EXPECT_TRUE(IsError(h.Run(Refund("o-1", "r-1", 1)), ErrorKind::kNotFound, "order_not_found"));
  h.Must(Settle("o-1", 100));
  EXPECT_TRUE(
      IsError(h.Run(Refund("o-1", "r-1", 0)), ErrorKind::kInvalidArgument, "invalid_argument"));
  EXPECT_TRUE(
      IsError(h.Run(Refund("o-1", "", 1)), ErrorKind::kInvalidArgument, "invalid_argument"));
  EXPECT_TRUE(
      IsError(h.Run(Refund("o 1", "r-1", 1)), ErrorKind::kInvalidArgument, "invalid_argument"));
}

TEST(RefundOrderTest, RecipientThatSpentItsShareCannotBeReversed) {
  Harness h;
  h.Must(Settle("o-1", 10000, ExampleSplits()));
  h.Must(TransferOf({Post("host:1", "elsewhere", 1000)}));
  Result<Event> result = h.Run(Refund("o-1", "r-1", 10000));
  ASSERT_TRUE(IsError(result, ErrorKind::kRejected, "insufficient_funds"));
  EXPECT_NE(result.error().message.find("host:1"), std::string::npos) << result.error().message;
  EXPECT_EQ(h.state.FindOrder("o-1")->refunded_total, 0);
  // A refund small enough to round the host's share to zero goes through.
  EXPECT_TRUE(h.Run(Refund("o-1", "r-2", 4)));
}

TEST(RefundOrderTest, PayerAccountGetsTheRefund) {
  Harness h;
  h.Must(Change("user:1", 500));
  h.Must(Settle("o-1", 500, ExampleSplits(), "user:1"));
  h.Must(Refund("o-1", "r-1", 200));
  EXPECT_EQ(h.Balance("user:1", "USD"), 200);
}

// --- DivideRoundHalfUp -----------------------------------------------------------------------

TEST(DivideRoundHalfUpTest, Rounds) {
  EXPECT_EQ(DivideRoundHalfUp(0, 7), 0);
  EXPECT_EQ(DivideRoundHalfUp(1, 2), 1);
  EXPECT_EQ(DivideRoundHalfUp(1, 3), 0);
  EXPECT_EQ(DivideRoundHalfUp(2, 3), 1);
  EXPECT_EQ(DivideRoundHalfUp(3, 2), 2);
  EXPECT_EQ(DivideRoundHalfUp(5, 10), 1);
  EXPECT_EQ(DivideRoundHalfUp(4, 10), 0);
  EXPECT_EQ(DivideRoundHalfUp(14999, 10000), 1);
  EXPECT_EQ(DivideRoundHalfUp(15000, 10000), 2);
  EXPECT_EQ(DivideRoundHalfUp(10, 5), 2);
  __int128 big = static_cast<__int128>(kMax) * 10000;
  EXPECT_EQ(DivideRoundHalfUp(big, 10000), kMax);
  EXPECT_EQ(DivideRoundHalfUp(big + 4999, 10000), kMax);
  EXPECT_EQ(DivideRoundHalfUp(static_cast<__int128>(kMax) * kMax, kMax), kMax);
}

}  // namespace
}  // namespace ledger::commands
