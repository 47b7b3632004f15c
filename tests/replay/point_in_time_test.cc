// ledger-replay balances and statement: point-in-time answers from the log equal what the
// write side and the statements projection showed at that point.
#include "projections/statements_projection.h"
#include "replay/audit.h"
#include "tests/replay/replay_fixture.h"
#include "transport/rfc3339.h"

namespace ledger::replay::testing {
namespace {

class PointInTimeTest : public ReplayTest {
 protected:
  void SetUp() override {
    ReplayTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Populate());
  }

  // The balances ledger-replay reports, as a Balances map.
  Balances Reported(std::vector<std::string> args, std::uint64_t* position = nullptr) {
    args.insert(args.begin(), {"--data", dir_.path(), "--json"});
    VerbResult result = RunVerb(&RunBalances, args);
    EXPECT_EQ(result.exit_code, kExitOk) << result.out;
    rapidjson::Document document;
    EXPECT_FALSE(document.Parse(result.out.c_str()).HasParseError()) << result.out;
    Balances balances;
    if (!document.IsObject()) return balances;
    if (position != nullptr) *position = document["position"].GetUint64();
    for (const auto& account : document["accounts"].GetArray()) {
      for (const auto& balance : account["balances"].GetObject()) {
        balances[account["account"].GetString()][balance.name.GetString()] =
            balance.value.GetInt64();
      }
    }
    return balances;
  }
};

TEST_F(PointInTimeTest, BalancesAtEveryPositionEqualThoseObservedDuringTheRun) {
  const std::uint64_t head = store_->HeadPosition();
  ASSERT_EQ(observed_.size(), head);
  for (std::uint64_t position = 1; position <= head; ++position) {
    EXPECT_EQ(Reported({"--at-position", std::to_string(position)}), observed_[position - 1])
        << "position " << position;
  }
  EXPECT_TRUE(Reported({"--at-position", "0"}).empty());
}

TEST_F(PointInTimeTest, BalancesAtATimeStopAfterTheLastEventRecordedBeforeIt) {
  // Day 2 starts at kStartUs + 24 h; the last event of day 1 is recorded an hour after its start.
  const std::string at = transport::FormatRfc3339(kStartUs + 12 * kHourUs);
  std::uint64_t position = 0;
  Balances balances = Reported({"--at", at}, &position);
  ASSERT_GT(position, 0u);
  auto next = store_->Read(position + 1);
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(next->event.envelope.recorded_at_us, kStartUs + 12 * kHourUs);
  EXPECT_EQ(balances, observed_[position - 1]);
}

TEST_F(PointInTimeTest, BalancesOfOneAccountAndBadFlags) {
  const std::uint64_t head = store_->HeadPosition();
  Balances one = Reported({"--at-position", std::to_string(head), "--account", "merchant:1"});
  EXPECT_EQ(one, (Balances{{"merchant:1", observed_[head - 1]["merchant:1"]}}));
  const std::string data = dir_.path();
  EXPECT_EQ(RunVerb(&RunBalances, {"--data", data}).exit_code, kExitUsage);
  EXPECT_EQ(RunVerb(&RunBalances, {"--data", data, "--at-position", "1", "--at",
                                   "2026-11-21T00:00:00Z"})
                .exit_code,
            kExitUsage);
  EXPECT_EQ(RunVerb(&RunBalances, {"--data", data, "--at-position", "x"}).exit_code, kExitUsage);
  EXPECT_EQ(RunVerb(&RunBalances, {"--data", data, "--at-position", std::to_string(head + 1)})
                .exit_code,
            kExitUsage);
  EXPECT_EQ(RunVerb(&RunBalances, {"--data", data, "--at", "yesterday"}).exit_code, kExitUsage);
}

TEST_F(PointInTimeTest, StatementAsOfATimeMatchesTheProjectionAtThatPoint) {
  // As of the end of day 2: orders o0 and o1, each 5000 gross, 250 platform share, refund 1000
  // (50 of the share back), payout 1500.
  const TimestampUs at = kStartUs + 24 * kHourUs + 12 * kHourUs;
  VerbResult result =
      RunVerb(&RunStatement, {"--data", dir_.path(), "--merchant", "merchant:1", "--period",
                              "day", "--at", transport::FormatRfc3339(at), "--json"});
  ASSERT_EQ(result.exit_code, kExitOk) << result.out;
  rapidjson::Document document;
  ASSERT_FALSE(document.Parse(result.out.c_str()).HasParseError()) << result.out;
  const auto& rows = document["statements"].GetArray();
  ASSERT_EQ(rows.Size(), 2u) << result.out;
  EXPECT_STREQ(rows[0]["period"].GetString(), "2026-11-21");
  EXPECT_STREQ(rows[1]["period"].GetString(), "2026-11-22");
  for (const auto& row : rows) {
    EXPECT_EQ(row["income"].GetInt64(), 5'000);
    EXPECT_EQ(row["expenditure"].GetInt64(), 1'500);
    EXPECT_EQ(row["orders"].GetUint64(), 1u);
    EXPECT_EQ(row["closing"].GetInt64(), row["opening"].GetInt64() + row["income"].GetInt64() +
                                             row["other_items"].GetInt64() -
                                             row["expenditure"].GetInt64());
  }
  EXPECT_EQ(rows[0]["opening"].GetInt64(), 0);
  EXPECT_EQ(rows[1]["opening"].GetInt64(), rows[0]["closing"].GetInt64());
  // The closing balance is the merchant's balance the write side had at that point.
  const std::uint64_t position = document["position"].GetUint64();
  EXPECT_EQ(rows[1]["closing"].GetInt64(), observed_[position - 1]["merchant:1"]["CNY"]);

  EXPECT_EQ(RunVerb(&RunStatement, {"--data", dir_.path(), "--merchant", "merchant:1",
                                    "--period", "week", "--at", "2026-11-21T00:00:00Z"})
                .exit_code,
            kExitUsage);
}

}  // namespace
}  // namespace ledger::replay::testing
