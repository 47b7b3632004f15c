// The statements projection: the settlement example, a multi-day scenario across a month and a
// year boundary with a refund and a payout, the opening of a merchant that had a balance, range
// errors, the "other" kind, a clock stepping back, a seeded random workload checked against the
// summed postings of the log, and a restart that resumes from the checkpoint.
#include "projections/statements_projection.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <set>

#include "commands/sequencer.h"
#include "ledger/limits.h"
#include "projections/projection_runner.h"
#include "tests/projections/support.h"

namespace ledger::projections {
namespace {

using Kinds = std::vector<std::pair<std::string, std::int64_t>>;

constexpr TimestampUs kHourUs = 3'600'000'000;

// Microseconds of `hour`:00 UTC on the civil date.
TimestampUs Utc(int year, unsigned month, unsigned day, int hour = 0) {
  using namespace std::chrono;
  const sys_days date = std::chrono::year(year) / month / day;
  return duration_cast<microseconds>((date + hours(hour)).time_since_epoch()).count();
}

StatementRow MakeRow(std::string period, TimestampUs start_us, TimestampUs end_us,
                     std::int64_t opening, std::int64_t income, Kinds kinds,
                     std::int64_t expenditure, std::uint64_t orders) {
  StatementRow row{.period = std::move(period),
                   .start_us = start_us,
                   .end_us = end_us,
                   .asset = "CNY",
                   .opening = opening,
                   .income = income,
                   .expenditure = expenditure,
                   .orders = orders};
  for (const auto& [kind, amount] : kinds) row.other_items += amount;
  row.closing = row.opening + row.income + row.other_items - row.expenditure;
  row.other_items_by_kind = std::move(kinds);
  return row;
}

StatementRow QuietDay(int year, unsigned month, unsigned day, std::int64_t balance) {
  char label[16];
  std::snprintf(label, sizeof(label), "%04d-%02u-%02u", year, month, day);
  const TimestampUs start_us = Utc(year, month, day);
  return MakeRow(label, start_us, start_us + 24 * kHourUs, balance, 0, {}, 0, 0);
}

// The identities every answer keeps, per asset: closing = opening + income + other_items -
// expenditure, kinds sum to other_items and are sorted, and each row opens at the previous
// row's closing and starts where it ended.
void ExpectConsistent(const std::vector<StatementRow>& rows) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const StatementRow& row = rows[i];
    EXPECT_EQ(row.closing, row.opening + row.income + row.other_items - row.expenditure)
        << row.period;
    std::int64_t kinds = 0;
    for (const auto& [kind, amount] : row.other_items_by_kind) kinds += amount;
    EXPECT_EQ(kinds, row.other_items) << row.period;
    EXPECT_TRUE(std::is_sorted(row.other_items_by_kind.begin(), row.other_items_by_kind.end()));
    EXPECT_LT(row.start_us, row.end_us);
    if (i > 0 && rows[i - 1].asset == row.asset) {
      EXPECT_EQ(row.opening, rows[i - 1].closing) << row.period;
      EXPECT_EQ(row.start_us, rows[i - 1].end_us) << row.period;
    }
  }
}

class StatementsProjectionTest : public testing::ProjectionTest<StatementsProjection> {
 protected:
  StatementsProjectionTest() : ProjectionTest(Utc(2026, 11, 21, 10)) {}
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(OpenStore({.reference = true})); }

  // Statements are mostly in CNY, so the asset comes last here and defaults to it.
  void Credit(const std::string& account, std::int64_t amount, const std::string& asset = "CNY") {
    ProjectionTest::Credit(account, asset, amount);
  }

  void Settle(const std::string& order, const std::string& merchant, std::int64_t gross,
              std::vector<commands::Split> splits, const std::string& payer = "user:1") {
    Run(commands::SettleOrder{.order_id = order,
                              .merchant = merchant,
                              .payer = payer,
                              .asset = "CNY",
                              .gross = gross,
                              .splits = std::move(splits)});
  }

  Result<StatementsPage> Rows(std::string_view merchant, StatementPeriod period,
                              TimestampUs from_us, TimestampUs to_us, std::string_view asset = "",
                              rocksdb::ColumnFamilyHandle* family = nullptr) {
    return StatementsProjection::Read(*store_->db(), family ? *family : *family_, merchant, period,
                                      from_us, to_us, asset);
  }
};

TEST(StatementPeriodTest, ParsesOnlyTheThreeNames) {
  EXPECT_EQ(StatementPeriodFromName("day"), StatementPeriod::kDay);
  EXPECT_EQ(StatementPeriodFromName("month"), StatementPeriod::kMonth);
  EXPECT_EQ(StatementPeriodFromName("year"), StatementPeriod::kYear);
  for (const char* name : {"", "Day", "days", "week", "quarter"}) {
    EXPECT_EQ(StatementPeriodFromName(name), std::nullopt) << name;
  }
}

TEST_F(StatementsProjectionTest, SettlementExample) {
  Credit("user:1", 10'000);
  Settle("o1", "merchant:1", 10'000,
         {{.to = "host:traffic", .kind = "host_commission", .amount = 1'000},
          {.to = "platform", .kind = "platform_share", .amount = 500},
          {.to = "platform:tech", .kind = "technical_service_fee", .amount = 60}});
  CatchUp();
  const Kinds kinds = {
      {"host_commission", -1'000}, {"platform_share", -500}, {"technical_service_fee", -60}};
  const TimestampUs now = Utc(2026, 11, 21, 10);
  auto day = Rows("merchant:1", StatementPeriod::kDay, now, now);
  ASSERT_TRUE(day.has_value()) << day.error().message;
  EXPECT_EQ(day->position, 2u);
  ASSERT_EQ(day->rows.size(), 1u);
  EXPECT_EQ(day->rows[0],
            MakeRow("2026-11-21", Utc(2026, 11, 21), Utc(2026, 11, 22), 0, 10'000, kinds, 0, 1));
  EXPECT_EQ(day->rows[0].other_items, -1'560);
  EXPECT_EQ(day->rows[0].closing, 8'440);
  auto month = Rows("merchant:1", StatementPeriod::kMonth, now, now, "CNY");
  ASSERT_TRUE(month.has_value());
  EXPECT_EQ(month->rows,
            (std::vector<StatementRow>{
                MakeRow("2026-11", Utc(2026, 11, 1), Utc(2026, 12, 1), 0, 10'000, kinds, 0, 1)}));
  auto year = Rows("merchant:1", StatementPeriod::kYear, 0, now);
  ASSERT_TRUE(year.has_value());
  EXPECT_EQ(year->rows, (std::vector<StatementRow>{MakeRow("2026", Utc(2026, 1, 1), Utc(2027, 1, 1),
                                                           0, 10'000, kinds, 0, 1)}));
  // The payer, the split recipients and unknown accounts are not merchants.
  for (const char* other : {"user:1", "platform", "host:traffic", "merchant:2"}) {
    auto rows = Rows(other, StatementPeriod::kDay, now, now);
    ASSERT_TRUE(rows.has_value());
    EXPECT_TRUE(rows->rows.empty()) << other;
  }
  auto other_asset = Rows("merchant:1", StatementPeriod::kDay, now, now, "USD");
  ASSERT_TRUE(other_asset.has_value());
  EXPECT_TRUE(other_asset->rows.empty());
}

// 2026-11-29: order o1 (10000, platform 1000). 2026-12-01: refund 5000 of o1, order o2 (2000).
// 2026-12-31: payout 3000. 2027-01-02: transfer of 100 to a user (an adjustment).
class StatementsScenarioTest : public StatementsProjectionTest {
 protected:
  void SetUp() override {
    StatementsProjectionTest::SetUp();
    clock_.Set(Utc(2026, 11, 29, 10));
    Credit("user:1", 100'000);
    Settle("o1", "merchant:1", 10'000,
           {{.to = "platform", .kind = "platform_share", .amount = 1'000}});
    clock_.Set(Utc(2026, 12, 1, 9));
    Run(commands::RefundOrder{.order_id = "o1", .refund_id = "r1", .amount = 5'000});
    Settle("o2", "merchant:1", 2'000, {});
    clock_.Set(Utc(2026, 12, 31, 23));
    Run(commands::PayOut{.payout_id = "p1",
                         .merchant = "merchant:1",
                         .asset = "CNY",
                         .amount = 3'000,
                         .bank_account = "bank-1"});
    clock_.Set(Utc(2027, 1, 2, 8));
    Run(commands::Transfer{.postings = {{"merchant:1", "user:2", "CNY", 100}}});
    CatchUp();
  }
};

TEST_F(StatementsScenarioTest, DaysIncludeQuietDaysBetweenActiveOnes) {
  auto days = Rows("merchant:1", StatementPeriod::kDay, Utc(2026, 11, 1), Utc(2027, 1, 31));
  ASSERT_TRUE(days.has_value()) << days.error().message;
  EXPECT_EQ(days->position, 6u);
  std::vector<StatementRow> expected;
  expected.push_back(MakeRow("2026-11-29", Utc(2026, 11, 29), Utc(2026, 11, 30), 0, 10'000,
                             {{"platform_share", -1'000}}, 0, 1));
  expected.push_back(QuietDay(2026, 11, 30, 9'000));
  expected.push_back(MakeRow("2026-12-01", Utc(2026, 12, 1), Utc(2026, 12, 2), 9'000, 2'000,
                             {{"platform_share", 500}, {"refund", -5'000}}, 0, 1));
  for (unsigned day = 2; day <= 30; ++day) expected.push_back(QuietDay(2026, 12, day, 6'500));
  expected.push_back(
      MakeRow("2026-12-31", Utc(2026, 12, 31), Utc(2027, 1, 1), 6'500, 0, {}, 3'000, 0));
  expected.push_back(QuietDay(2027, 1, 1, 3'500));
  expected.push_back(MakeRow("2027-01-02", Utc(2027, 1, 2), Utc(2027, 1, 3), 3'500, 0,
                             {{"adjustment", -100}}, 0, 0));
  // Periods before the first activity and after the newest event are left out.
  EXPECT_EQ(days->rows, expected);
  EXPECT_EQ(days->rows.back().closing, 3'400);
  ExpectConsistent(days->rows);

  // A window of quiet days opens at the closing of the last row before it.
  auto quiet =
      Rows("merchant:1", StatementPeriod::kDay, Utc(2026, 12, 15, 5), Utc(2026, 12, 16, 23));
  ASSERT_TRUE(quiet.has_value());
  EXPECT_EQ(quiet->rows, (std::vector<StatementRow>{QuietDay(2026, 12, 15, 6'500),
                                                    QuietDay(2026, 12, 16, 6'500)}));
  // Both ends are instants: the rows of the periods that contain them.
  auto one =
      Rows("merchant:1", StatementPeriod::kDay, Utc(2026, 12, 31, 23), Utc(2026, 12, 31, 23));
  ASSERT_TRUE(one.has_value());
  ASSERT_EQ(one->rows.size(), 1u);
  EXPECT_EQ(one->rows[0].period, "2026-12-31");
  auto future = Rows("merchant:1", StatementPeriod::kDay, Utc(2027, 1, 3), Utc(2027, 2, 1));
  ASSERT_TRUE(future.has_value());
  EXPECT_TRUE(future->rows.empty());
}

TEST_F(StatementsScenarioTest, MonthsAndYearsAcrossTheBoundaries) {
  auto months = Rows("merchant:1", StatementPeriod::kMonth, Utc(2026, 1, 1), Utc(2027, 12, 31));
  ASSERT_TRUE(months.has_value()) << months.error().message;
  EXPECT_EQ(months->rows, (std::vector<StatementRow>{
                              MakeRow("2026-11", Utc(2026, 11, 1), Utc(2026, 12, 1), 0, 10'000,
                                      {{"platform_share", -1'000}}, 0, 1),
                              MakeRow("2026-12", Utc(2026, 12, 1), Utc(2027, 1, 1), 9'000, 2'000,
                                      {{"platform_share", 500}, {"refund", -5'000}}, 3'000, 1),
                              MakeRow("2027-01", Utc(2027, 1, 1), Utc(2027, 2, 1), 3'500, 0,
                                      {{"adjustment", -100}}, 0, 0)}));
  ExpectConsistent(months->rows);
  auto years = Rows("merchant:1", StatementPeriod::kYear, Utc(2020, 1, 1), Utc(2030, 1, 1));
  ASSERT_TRUE(years.has_value());
  EXPECT_EQ(years->rows, (std::vector<StatementRow>{
                             MakeRow("2026", Utc(2026, 1, 1), Utc(2027, 1, 1), 0, 12'000,
                                     {{"platform_share", -500}, {"refund", -5'000}}, 3'000, 2),
                             MakeRow("2027", Utc(2027, 1, 1), Utc(2028, 1, 1), 3'500, 0,
                                     {{"adjustment", -100}}, 0, 0)}));
  ExpectConsistent(years->rows);
  auto december = Rows("merchant:1", StatementPeriod::kMonth, Utc(2026, 12, 15), Utc(2026, 12, 15));
  ASSERT_TRUE(december.has_value());
  ASSERT_EQ(december->rows.size(), 1u);
  EXPECT_EQ(december->rows[0], months->rows[1]);
}

TEST_F(StatementsScenarioTest, ClockSteppingBackDoesNotReopenClosedPeriods) {
  clock_.Set(Utc(2026, 12, 1, 12));  // Before the newest event's day.
  Credit("merchant:1", 50);
  CatchUp();
  auto days = Rows("merchant:1", StatementPeriod::kDay, Utc(2026, 12, 1), Utc(2027, 1, 2));
  ASSERT_TRUE(days.has_value());
  ExpectConsistent(days->rows);
  EXPECT_EQ(days->rows.front().closing, 6'500);  // 2026-12-01 stays as it was.
  EXPECT_EQ(days->rows.back(), MakeRow("2027-01-02", Utc(2027, 1, 2), Utc(2027, 1, 3), 3'500, 0,
                                       {{"adjustment", -50}}, 0, 0));
}

TEST_F(StatementsScenarioTest, RejectsBadAndOversizedRanges) {
  auto backwards = Rows("merchant:1", StatementPeriod::kDay, Utc(2026, 12, 2), Utc(2026, 12, 1));
  ASSERT_FALSE(backwards.has_value());
  EXPECT_EQ(backwards.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(backwards.error().code, "invalid_range");
  // Far past the newest event and before the first: only the merchant's 35 days count.
  auto wide = Rows("merchant:1", StatementPeriod::kDay, INT64_MIN, INT64_MAX);
  ASSERT_TRUE(wide.has_value()) << wide.error().message;
  EXPECT_EQ(wide->rows.size(), 35u);
  // Three years later, every day since the first activity is a row: too many.
  clock_.Set(Utc(2029, 12, 1));
  Credit("merchant:1", 1);
  CatchUp();
  auto too_large = Rows("merchant:1", StatementPeriod::kDay, Utc(2026, 1, 1), Utc(2029, 12, 31));
  ASSERT_FALSE(too_large.has_value());
  EXPECT_EQ(too_large.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(too_large.error().code, "range_too_large");
  EXPECT_NE(too_large.error().message.find(std::to_string(kStatementRowsMax)), std::string::npos);
  auto months = Rows("merchant:1", StatementPeriod::kMonth, Utc(2026, 1, 1), Utc(2029, 12, 31));
  ASSERT_TRUE(months.has_value());
  EXPECT_EQ(months->rows.size(), 2u + 12 * 3);
  ExpectConsistent(months->rows);
}

TEST_F(StatementsProjectionTest, FirstRowOpensAtTheBalanceBeforeBecomingAMerchant) {
  clock_.Set(Utc(2026, 3, 1, 10));
  Credit("shop", 700);
  Credit("shop", 5, "COIN");
  Credit("user:1", 10'000);
  clock_.Set(Utc(2026, 3, 2, 10));
  Credit("shop", 11);  // Not a merchant yet: in no statement.
  Settle("o1", "shop", 1'000, {});
  Credit("shop", 30);
  clock_.Set(Utc(2026, 3, 4, 10));
  Run(commands::Transfer{.postings = {{"shop", "user:1", "COIN", 2}}});
  CatchUp();
  auto days = Rows("shop", StatementPeriod::kDay, Utc(2026, 3, 1), Utc(2026, 3, 31));
  ASSERT_TRUE(days.has_value()) << days.error().message;
  std::vector<StatementRow> expected = {MakeRow("2026-03-02", Utc(2026, 3, 2), Utc(2026, 3, 3), 711,
                                                1'000, {{"adjustment", 30}}, 0, 1),
                                        QuietDay(2026, 3, 3, 1'741), QuietDay(2026, 3, 4, 1'741)};
  // COIN (sorted after CNY): first moved on 03-04, opening at the 5 it held before.
  expected.push_back(
      MakeRow("2026-03-04", Utc(2026, 3, 4), Utc(2026, 3, 5), 5, 0, {{"adjustment", -2}}, 0, 0));
  expected.back().asset = "COIN";
  EXPECT_EQ(days->rows, expected);
  ExpectConsistent(days->rows);
}

// Serves a fixed list of events (synthetic payloads the write side would not produce).
class VectorEventSource final : public EventSource {
 public:
  explicit VectorEventSource(std::vector<Event> events) {
    for (Event& event : events) {
      event.envelope.position = events_.size() + 1;
      events_.push_back(StoredEvent{std::move(event), {}});
    }
  }
  Result<std::vector<StoredEvent>> ReadFrom(std::uint64_t position, std::size_t limit) override {
    std::vector<StoredEvent> out;
    for (std::uint64_t p = position; p <= events_.size() && out.size() < limit; ++p) {
      out.push_back(events_[p - 1]);
    }
    return out;
  }
  std::uint64_t WaitForHeadAbove(std::uint64_t, std::int64_t) override { return events_.size(); }

 private:
  std::vector<StoredEvent> events_;
};

TEST_F(StatementsProjectionTest, KindsPastTheLimitAreSummedUnderOther) {
  OrderSettled settled{
      .order_id = "o1", .merchant = "m", .payer = "p", .asset = "CNY", .gross = 100'000};
  Event event{.envelope = {.type = EventType::kOrderSettled, .recorded_at_us = Utc(2026, 5, 5)}};
  event.postings.push_back({"p", "m", "CNY", 100'000});
  std::int64_t splits = 0;
  for (int i = 0; i < 20; ++i) {
    char kind[8];
    std::snprintf(kind, sizeof(kind), "k%02d", 19 - i);  // Out of order on purpose.
    settled.lines.push_back({"s" + std::to_string(i), kind, i + 1, -1});
    event.postings.push_back({"m", "s" + std::to_string(i), "CNY", i + 1});
    splits += i + 1;
  }
  settled.lines.push_back({"m", "merchant", 100'000 - splits, -1});
  event.payload = settled;
  VectorEventSource source({event});
  StatementsProjection projection;
  ProjectionRunner runner(source, *store_->db(), *family_, projection, metrics_);
  ASSERT_EQ(runner.CatchUp().value_or(0), 1u);
  auto rows = Rows("m", StatementPeriod::kDay, Utc(2026, 5, 5), Utc(2026, 5, 5));
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  ASSERT_EQ(rows->rows.size(), 1u);
  const StatementRow& row = rows->rows[0];
  EXPECT_EQ(row.other_items, -splits);
  ASSERT_EQ(row.other_items_by_kind.size(), kStatementKindsMax + 1);
  // The first 16 kinds met (k19 down to k04) keep their names; k03..k00 go to "other".
  EXPECT_EQ(row.other_items_by_kind.front(), (std::pair<std::string, std::int64_t>{"k04", -16}));
  EXPECT_EQ(row.other_items_by_kind.back(),
            (std::pair<std::string, std::int64_t>{"other", -(17 + 18 + 19 + 20)}));
  ExpectConsistent(rows->rows);
}

// Seeded random commands over a few merchants and users, the clock moving 0..24 hours between
// them: settlements with random splits, refunds, payouts, transfers and asset changes (some of
// them rejected, e.g. for lack of funds).
class StatementsRandomTest : public StatementsProjectionTest {
 protected:
  void Random(int count, std::mt19937_64& random) {
    const char* kinds[] = {"commission", "host_commission", "platform_share",
                           "technical_service_fee"};
    std::uniform_int_distribution<int> pick(0, 5), merchant(0, 3), user(0, 5), amount(1, 5'000);
    for (int i = 0; i < count; ++i) {
      clock_.Advance(std::uniform_int_distribution<TimestampUs>(0, 24 * kHourUs)(random));
      const std::string m = "merchant:" + std::to_string(merchant(random));
      const std::string u = "user:" + std::to_string(user(random));
      const std::string asset = i % 3 == 0 ? "COIN" : "CNY";
      switch (pick(random)) {
        case 0:
          (void)TryRun(commands::ChangeAsset{.account = u,
                                             .asset = asset,
                                             .amount = 10 * amount(random),
                                             .source = "topup",
                                             .reason = "r",
                                             .ref = "x"});
          break;
        case 1: {
          std::vector<commands::Split> splits;
          for (int s = 0, n = user(random) % 4; s < n; ++s) {
            splits.push_back({.to = "split:" + std::to_string(s),
                              .kind = kinds[s],
                              .bps = std::int64_t{amount(random) % 3'000 + 1}});
          }
          const std::string order = "o" + std::to_string(i);
          if (TryRun(commands::SettleOrder{.order_id = order,
                                           .merchant = m,
                                           .payer = u,
                                           .asset = asset,
                                           .gross = amount(random),
                                           .splits = std::move(splits)})) {
            orders_.push_back(order);
          }
          break;
        }
        case 2:
          if (!orders_.empty()) {
            (void)TryRun(commands::RefundOrder{
                .order_id = orders_[static_cast<std::size_t>(amount(random)) % orders_.size()],
                .refund_id = "r" + std::to_string(i),
                .amount = amount(random) / 4 + 1});
          }
          break;
        case 3:
          (void)TryRun(commands::PayOut{.payout_id = "p" + std::to_string(i),
                                        .merchant = m,
                                        .asset = asset,
                                        .amount = amount(random) / 2 + 1,
                                        .bank_account = "bank"});
          break;
        case 4:
          (void)TryRun(commands::Transfer{.postings = {{m, u, asset, amount(random) / 8 + 1}}});
          break;
        default:
          (void)TryRun(commands::Transfer{.postings = {{u, m, asset, amount(random) / 8 + 1}}});
      }
    }
  }
  std::vector<std::string> orders_;
};

// Balances by (account, asset), summed from every posting in the log.
std::map<std::pair<std::string, std::string>, std::int64_t> SummedPostings(const Store& store) {
  std::map<std::pair<std::string, std::string>, std::int64_t> balances;
  auto events = store.ReadFrom(1, store.HeadPosition());
  EXPECT_TRUE(events.has_value());
  if (!events) return balances;
  for (const StoredEvent& stored : *events) {
    for (const Posting& posting : stored.event.postings) {
      balances[{posting.from, posting.asset}] -= posting.amount;
      balances[{posting.to, posting.asset}] += posting.amount;
    }
  }
  return balances;
}

TEST_F(StatementsRandomTest, LastClosingEqualsTheSummedPostings) {
  const unsigned long long seed = ledger::testing::TestSeed();
  std::mt19937_64 random(seed);
  Random(400, random);
  CatchUp();
  const auto balances = SummedPostings(*store_);
  int merchants_with_rows = 0;
  struct {
    bool income = false, expenditure = false;
    std::set<std::string> kinds;
  } seen;
  for (int i = 0; i < 4; ++i) {
    const std::string merchant = "merchant:" + std::to_string(i);
    for (StatementPeriod period :
         {StatementPeriod::kDay, StatementPeriod::kMonth, StatementPeriod::kYear}) {
      auto rows = Rows(merchant, period, 0, INT64_MAX);
      ASSERT_TRUE(rows.has_value()) << rows.error().message << " seed " << seed;
      EXPECT_EQ(rows->position, store_->HeadPosition());
      ExpectConsistent(rows->rows);
      std::map<std::string, std::int64_t> last;
      for (const StatementRow& row : rows->rows) last[row.asset] = row.closing;
      for (const auto& [asset, closing] : last) {
        auto it = balances.find({merchant, asset});
        ASSERT_NE(it, balances.end()) << merchant << " " << asset << " seed " << seed;
        EXPECT_EQ(closing, it->second) << merchant << " " << asset << " seed " << seed;
      }
      merchants_with_rows += last.empty() ? 0 : 1;
      for (const StatementRow& row : rows->rows) {
        seen.income |= row.income > 0;
        seen.expenditure |= row.expenditure > 0;
        for (const auto& [kind, amount] : row.other_items_by_kind) seen.kinds.insert(kind);
      }
    }
  }
  EXPECT_GT(merchants_with_rows, 0) << "seed " << seed;
  // The workload covers every category.
  EXPECT_TRUE(seen.income && seen.expenditure) << "seed " << seed;
  for (const char* kind : {"refund", "adjustment", "commission"}) {
    EXPECT_TRUE(seen.kinds.contains(kind)) << kind << " seed " << seed;
  }
}

TEST_F(StatementsRandomTest, RestartResumesFromTheCheckpointAndMatchesOneRun) {
  const unsigned long long seed = ledger::testing::TestSeed();
  std::mt19937_64 random(seed);
  Random(150, random);
  std::uint64_t half = 0;
  {
    StatementsProjection first;
    auto runner = MakeRunner(first, *family_, metrics_, {.batch_events_max = 7});
    auto caught_up = runner->CatchUp();
    ASSERT_TRUE(caught_up.has_value());
    half = *caught_up;
  }
  Random(150, random);
  {
    testing::Counting<StatementsProjection> second;
    auto runner = MakeRunner(second, *family_, metrics_, {.batch_events_max = 7});
    ASSERT_EQ(runner->CatchUp().value_or(0), store_->HeadPosition());
    EXPECT_EQ(second.applied.load(), store_->HeadPosition() - half);  // Resumed at the checkpoint.
  }
  StatementsProjection single;
  Metrics reference_metrics;
  auto reference = MakeRunner(single, *reference_family_, reference_metrics);
  ASSERT_EQ(reference->CatchUp().value_or(0), store_->HeadPosition());
  EXPECT_EQ(testing::Contents(*store_->db(), *family_),
            testing::Contents(*store_->db(), *reference_family_))
      << "seed " << seed;
  for (int i = 0; i < 4; ++i) {
    const std::string merchant = "merchant:" + std::to_string(i);
    auto resumed = Rows(merchant, StatementPeriod::kMonth, 0, INT64_MAX);
    auto one_run = Rows(merchant, StatementPeriod::kMonth, 0, INT64_MAX, "", reference_family_);
    ASSERT_TRUE(resumed.has_value() && one_run.has_value());
    EXPECT_EQ(resumed->rows, one_run->rows) << merchant;
  }
}

}  // namespace
}  // namespace ledger::projections
