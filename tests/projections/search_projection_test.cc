// The search projection through the real runtime: commands through the real sequencer into a
// real RocksDB log, the projection's runner applying them. Checks each event type's documents
// against expectations written out from the commands, the published position, a restart that
// loads the same answers, a dropped batch that leaves no trace, Load's refusal of corrupt or
// missing documents, the document encoding, and readers running while the worker applies
// batches (never a partial event; search_after visits every hit once while writes continue).
#include "projections/search_projection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/limits.h"
#include "projections/projection_runner.h"
#include "tests/projections/support.h"

namespace ledger::projections {
namespace {

constexpr TimestampUs kHourUs = 3'600'000'000;
constexpr std::int64_t kWaitUs = 30'000'000;

// Microseconds of `hour`:00 UTC on the civil date.
TimestampUs Utc(int year, unsigned month, unsigned day, int hour = 0) {
  using namespace std::chrono;
  const sys_days date = std::chrono::year(year) / std::chrono::month(month) / std::chrono::day(day);
  return duration_cast<microseconds>((date + hours(hour)).time_since_epoch()).count();
}

constexpr SearchSort kByDoc{.kind = SearchSort::Kind::kDoc};

// Every document of `index`, in document order, with the position the answer reflects.
std::vector<SearchDocument> AllDocuments(const SearchProjection& projection, SearchIndexId index,
                                         std::uint64_t* position = nullptr) {
  std::vector<SearchDocument> documents;
  auto result = projection.Search({.index = index, .size = kSearchWindowMax, .sort = {kByDoc}});
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message);
  if (!result) return documents;
  EXPECT_LT(result->total, kSearchWindowMax) << "the test reads every document in one page";
  for (const SearchHit& hit : result->hits) documents.push_back(hit.source);
  if (position != nullptr) *position = result->position;
  return documents;
}

// A readable difference between two document lists (gtest would print bytes).
std::string Show(const SearchDocument& d) {
  return d.record_id + " type=" + d.type + " order=" + d.order_id + " merchant=" + d.merchant +
         " account=" + d.account + " counterparty=" + d.counterparty + " kind=" + d.kind +
         " category=" + d.category + " asset=" + d.asset + " ref=" + d.ref + " memo=" + d.memo +
         " amount=" + std::to_string(d.amount) + " position=" + std::to_string(d.position) +
         " occurred_at_us=" + std::to_string(d.occurred_at_us);
}

void ExpectDocuments(const std::vector<SearchDocument>& actual,
                     const std::vector<SearchDocument>& expected) {
  for (std::size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    EXPECT_EQ(actual[i], expected[i]) << "document " << i << "\n  got      " << Show(actual[i])
                                      << "\n  expected " << Show(expected[i]);
  }
  EXPECT_EQ(actual.size(), expected.size());
}

SearchQuery Term(SearchField field, std::string value) {
  return {.kind = SearchQuery::Kind::kTerm, .field = field, .keywords = {std::move(value)}};
}

// A CNY document with the position of its record id.
SearchDocument Document(const char* record_id, const char* type, const char* order_id,
                        const char* merchant, const char* account, const char* counterparty,
                        const char* kind, const char* category, const char* ref,
                        std::int64_t amount, TimestampUs occurred_at_us, const char* memo = "") {
  return {
      .record_id = record_id,
      .type = type,
      .order_id = order_id,
      .merchant = merchant,
      .account = account,
      .counterparty = counterparty,
      .kind = kind,
      .category = category,
      .asset = "CNY",
      .ref = ref,
      .memo = memo,
      .amount = amount,
      .position = std::stoll(std::string(record_id).substr(0, std::string(record_id).find('.'))),
      .occurred_at_us = occurred_at_us};
}

class SearchProjectionTest : public testing::ProjectionTest<SearchProjection> {
 protected:
  SearchProjectionTest() : ProjectionTest(Utc(2026, 11, 21, 10)) {}
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(OpenStore({.reference = true})); }

  // Runs `body` at `at_us`; it must append the event at position `position`.
  void RunAt(TimestampUs at_us, std::uint64_t position, commands::CommandBody body) {
    clock_.Set(at_us);
    ASSERT_NO_FATAL_FAILURE(Run(std::move(body)));
    ASSERT_EQ(store_->HeadPosition(), position);
  }

  // Applies the whole log with `projection` and a fresh runner over family_.
  void CatchUpWith(SearchProjection& projection, ProjectionRunnerOptions options = {}) {
    auto runner = MakeRunner(projection, std::move(options));
    auto caught_up = runner->CatchUp();
    ASSERT_TRUE(caught_up.has_value()) << caught_up.error().message;
    ASSERT_EQ(*caught_up, store_->HeadPosition());
  }

  // Seeded settlements with 0..3 splits, refunds, payouts and transfers with memos.
  void RandomCommands(int count, std::mt19937_64& random) {
    const char* kinds[] = {"commission", "host_commission", "platform_share",
                           "technical_service_fee"};
    const char* memos[] = {"coffee", "Coffee refund", "tips for the host", "caf\xC3\xA9 order"};
    std::uniform_int_distribution<int> pick(0, 9), small(0, 3), amount(1, 5'000);
    for (int i = 0; i < count; ++i) {
      clock_.Advance(std::uniform_int_distribution<TimestampUs>(0, 30 * kHourUs)(random));
      const std::string merchant = "merchant:" + std::to_string(small(random));
      const std::string user = "user:" + std::to_string(small(random));
      const int shape = pick(random);
      if (shape < 5) {
        std::vector<commands::Split> splits;
        for (int s = 0, n = small(random); s < n; ++s) {
          splits.push_back({.to = "split:" + std::to_string(s),
                            .kind = kinds[s],
                            .bps = std::int64_t{amount(random) % 2'000 + 1}});
        }
        const std::string order = "o" + std::to_string(i);
        if (TryRun(commands::SettleOrder{.order_id = order,
                                         .merchant = merchant,
                                         .payer = user,
                                         .asset = "CNY",
                                         .gross = amount(random),
                                         .splits = std::move(splits)})) {
          orders_.push_back(order);
        }
      } else if (shape < 7 && !orders_.empty()) {
        (void)TryRun(commands::RefundOrder{
            .order_id = orders_[static_cast<std::size_t>(amount(random)) % orders_.size()],
            .refund_id = "r" + std::to_string(i),
            .amount = amount(random) / 10 + 1});
      } else if (shape < 8) {
        (void)TryRun(commands::PayOut{.payout_id = "p" + std::to_string(i),
                                      .merchant = merchant,
                                      .asset = "CNY",
                                      .amount = amount(random) / 4 + 1,
                                      .bank_account = "bank"});
      } else {
        (void)TryRun(
            commands::Transfer{.postings = {{user, merchant, "CNY", amount(random) / 8 + 1}},
                               .metadata = {{"memo", memos[small(random)]}}});
      }
    }
  }

  // Gives users 0..3 plenty to spend.
  void FundUsers() {
    for (int user = 0; user < 4; ++user) {
      ASSERT_NO_FATAL_FAILURE(Credit("user:" + std::to_string(user), "CNY", 100'000'000));
    }
  }

  std::vector<std::string> orders_;
};

// --- Documents per event, against the commands. ---------------------------------------------

class SearchScenarioTest : public SearchProjectionTest {
 protected:
  // Positions: 1 top-up, 2 settled o1 (two splits, explicit occurred_at), 3 settled o2 (no
  // split, occurred_at 0), 4 refund of o1, 5 payout, 6 transfer with a memo, 7 an account
  // opened, 8 a campaign created, 9 a voucher granted, 10 redeemed, 11 a refund of 1 whose
  // split lines round to 0 (their settlement records stay; they post nothing).
  void SetUp() override {
    SearchProjectionTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(RunAt(t1_, 1,
                                  commands::ChangeAsset{.account = "user:1",
                                                        .asset = "CNY",
                                                        .amount = 100'000,
                                                        .source = "topup",
                                                        .reason = "Top-up for the Caf\xC3\xA9",
                                                        .ref = "bank-ref-1"}));
    ASSERT_NO_FATAL_FAILURE(
        RunAt(t2_, 2,
              commands::SettleOrder{
                  .order_id = "o1",
                  .merchant = "merchant:1",
                  .payer = "user:1",
                  .asset = "CNY",
                  .gross = 10'000,
                  .splits = {{.to = "platform", .kind = "platform_share", .bps = 1'000},
                             {.to = "host:1", .kind = "host_commission", .amount = 500}},
                  .occurred_at_us = occurred_}));
    ASSERT_NO_FATAL_FAILURE(RunAt(t3_, 3,
                                  commands::SettleOrder{.order_id = "o2",
                                                        .merchant = "merchant:1",
                                                        .payer = "user:1",
                                                        .asset = "CNY",
                                                        .gross = 2'000,
                                                        .occurred_at_us = 0}));
    ASSERT_NO_FATAL_FAILURE(
        RunAt(t4_, 4, commands::RefundOrder{.order_id = "o1", .refund_id = "r1", .amount = 5'000}));
    ASSERT_NO_FATAL_FAILURE(RunAt(t5_, 5,
                                  commands::PayOut{.payout_id = "p1",
                                                   .merchant = "merchant:1",
                                                   .asset = "CNY",
                                                   .amount = 3'000,
                                                   .bank_account = "bank-1"}));
    ASSERT_NO_FATAL_FAILURE(RunAt(
        t6_, 6,
        commands::Transfer{
            .postings = {{"merchant:1", "user:2", "CNY", 100}, {"user:1", "user:2", "CNY", 50}},
            .ref = "t-1",
            .metadata = {{"note", "not the memo"}, {"memo", "Coffee refund, coffee TIPS"}}}));
    ASSERT_NO_FATAL_FAILURE(RunAt(t6_ + 1, 7, commands::OpenAccount{.account = "acct:x"}));
    ASSERT_NO_FATAL_FAILURE(RunAt(t6_ + 2, 8,
                                  commands::CreateCampaign{.campaign_id = "c1",
                                                           .asset = "CNY",
                                                           .unit_amount = 20,
                                                           .budget = 10,
                                                           .per_user_limit = 2,
                                                           .valid_from_us = t6_,
                                                           .valid_until_us = t6_ + 24 * kHourUs,
                                                           .funding_account = "external:fund"}));
    ASSERT_NO_FATAL_FAILURE(RunAt(
        t9_, 9, commands::GrantVoucher{.campaign_id = "c1", .grant_id = "g1", .user = "user:3"}));
    ASSERT_NO_FATAL_FAILURE(RunAt(
        t10_, 10,
        commands::RedeemVoucher{
            .campaign_id = "c1", .redemption_id = "rd1", .user = "user:3", .order_id = "o9"}));
    ASSERT_NO_FATAL_FAILURE(
        RunAt(t11_, 11, commands::RefundOrder{.order_id = "o1", .refund_id = "r2", .amount = 1}));
  }

  std::vector<SearchDocument> ExpectedSettlements() const {
    // Lines of o1 as settled: occurred_at as the command gave it.
    const SearchDocument settled_o1[] = {
        Document("2.0", "OrderSettled", "o1", "merchant:1", "platform", "user:1", "platform_share",
                 "other", "o1", 1'000, occurred_),
        Document("2.1", "OrderSettled", "o1", "merchant:1", "host:1", "user:1", "host_commission",
                 "other", "o1", 500, occurred_),
        Document("2.2", "OrderSettled", "o1", "merchant:1", "merchant:1", "user:1", "merchant",
                 "income", "o1", 8'500, occurred_)};
    std::vector<SearchDocument> expected(std::begin(settled_o1), std::end(settled_o1));
    // occurred_at 0: the time the ledger recorded it.
    expected.push_back(Document("3.0", "OrderSettled", "o2", "merchant:1", "merchant:1", "user:1",
                                "merchant", "income", "o2", 2'000, t3_));
    // Half of o1 back: each line in proportion, negated, all "other"; the refund id is the ref.
    expected.push_back(Document("4.0", "OrderRefunded", "o1", "merchant:1", "platform", "user:1",
                                "platform_share", "other", "r1", -500, t4_));
    expected.push_back(Document("4.1", "OrderRefunded", "o1", "merchant:1", "host:1", "user:1",
                                "host_commission", "other", "r1", -250, t4_));
    expected.push_back(Document("4.2", "OrderRefunded", "o1", "merchant:1", "merchant:1", "user:1",
                                "merchant", "other", "r1", -4'250, t4_));
    expected.push_back(Document("5.0", "MerchantPaidOut", "", "merchant:1", "merchant:1", "bank-1",
                                "payout", "expenditure", "p1", -3'000, t5_));
    expected.push_back(Document("11.0", "OrderRefunded", "o1", "merchant:1", "platform", "user:1",
                                "platform_share", "other", "r2", 0, t11_));
    expected.push_back(Document("11.1", "OrderRefunded", "o1", "merchant:1", "host:1", "user:1",
                                "host_commission", "other", "r2", 0, t11_));
    expected.push_back(Document("11.2", "OrderRefunded", "o1", "merchant:1", "merchant:1", "user:1",
                                "merchant", "other", "r2", -1, t11_));
    return expected;
  }

  // One per posting: account = to, counterparty = from, amount as posted.
  std::vector<SearchDocument> ExpectedEntries() const {
    const char* memo = "Coffee refund, coffee TIPS";
    return {
        Document("1.0", "AssetChanged", "", "", "user:1", "external:topup", "topup", "other",
                 "bank-ref-1", 100'000, t1_, "Top-up for the Caf\xC3\xA9"),
        Document("2.0", "OrderSettled", "o1", "merchant:1", "merchant:1", "user:1", "payment",
                 "income", "o1", 10'000, occurred_),
        Document("2.1", "OrderSettled", "o1", "merchant:1", "platform", "merchant:1",
                 "platform_share", "other", "o1", 1'000, occurred_),
        Document("2.2", "OrderSettled", "o1", "merchant:1", "host:1", "merchant:1",
                 "host_commission", "other", "o1", 500, occurred_),
        Document("3.0", "OrderSettled", "o2", "merchant:1", "merchant:1", "user:1", "payment",
                 "income", "o2", 2'000, t3_),
        Document("4.0", "OrderRefunded", "o1", "merchant:1", "merchant:1", "platform",
                 "platform_share", "other", "r1", 500, t4_),
        Document("4.1", "OrderRefunded", "o1", "merchant:1", "merchant:1", "host:1",
                 "host_commission", "other", "r1", 250, t4_),
        Document("4.2", "OrderRefunded", "o1", "merchant:1", "user:1", "merchant:1", "refund",
                 "other", "r1", 5'000, t4_),
        Document("5.0", "MerchantPaidOut", "", "merchant:1", "external:bank:bank-1", "merchant:1",
                 "payout", "expenditure", "p1", 3'000, t5_),
        Document("6.0", "Transferred", "", "", "user:2", "merchant:1", "transfer", "other", "t-1",
                 100, t6_, memo),
        Document("6.1", "Transferred", "", "", "user:2", "user:1", "transfer", "other", "t-1", 50,
                 t6_, memo),
        Document("9.0", "VoucherGranted", "", "", "user:3", "external:fund", "voucher_grant",
                 "other", "g1", 20, t9_),
        Document("10.0", "VoucherRedeemed", "o9", "", "external:fund", "user:3",
                 "voucher_redemption", "other", "rd1", 20, t10_),
        Document("11.0", "OrderRefunded", "o1", "merchant:1", "user:1", "merchant:1", "refund",
                 "other", "r2", 1, t11_),
    };
  }

  const TimestampUs t1_ = Utc(2026, 11, 29, 8);
  const TimestampUs occurred_ = Utc(2026, 11, 28, 23) + 123'456;  // Before it was recorded.
  const TimestampUs t2_ = Utc(2026, 11, 29, 9);
  const TimestampUs t3_ = Utc(2026, 11, 30, 23) + 999'999;
  const TimestampUs t4_ = Utc(2026, 12, 1, 9);
  const TimestampUs t5_ = Utc(2026, 12, 31, 23);
  const TimestampUs t6_ = Utc(2027, 1, 2, 8);
  const TimestampUs t9_ = Utc(2027, 1, 2, 9);
  const TimestampUs t10_ = Utc(2027, 1, 2, 10);
  const TimestampUs t11_ = Utc(2027, 1, 3, 8);
};

TEST_F(SearchScenarioTest, EachEventTypeGivesItsDocuments) {
  SearchProjection projection;
  ASSERT_NO_FATAL_FAILURE(CatchUpWith(projection));
  EXPECT_EQ(projection.Position(), 11u);
  std::uint64_t position = 0;
  ExpectDocuments(AllDocuments(projection, SearchIndexId::kSettlements, &position),
                  ExpectedSettlements());
  EXPECT_EQ(position, 11u);
  ExpectDocuments(AllDocuments(projection, SearchIndexId::kEntries, &position), ExpectedEntries());
  EXPECT_EQ(position, 11u);
  EXPECT_EQ(projection.DocumentCount(SearchIndexId::kSettlements), 11u);
  EXPECT_EQ(projection.DocumentCount(SearchIndexId::kEntries), 14u);
  EXPECT_GT(projection.MemoryBytes(SearchIndexId::kEntries), 0u);
}

TEST_F(SearchScenarioTest, QueriesRunOverTheProjectedDocuments) {
  SearchProjection projection;
  ASSERT_NO_FATAL_FAILURE(CatchUpWith(projection));
  auto count =
      projection.Count(SearchIndexId::kSettlements, Term(SearchField::kCategory, "income"));
  ASSERT_TRUE(count.has_value());
  EXPECT_EQ(*count, (std::pair<std::uint64_t, std::uint64_t>{2, 11}));
  // The memo is searchable text: Transferred's "memo" metadata and AssetChanged's reason.
  auto coffee = projection.Search(
      {.index = SearchIndexId::kEntries,
       .query = {
           .kind = SearchQuery::Kind::kMatch, .field = SearchField::kMemo, .text = "COFFEE"}});
  ASSERT_TRUE(coffee.has_value()) << coffee.error().message;
  ASSERT_EQ(coffee->total, 2u);
  EXPECT_EQ(coffee->hits[0].source.record_id, "6.0");
  EXPECT_EQ(coffee->hits[1].source.record_id, "6.1");
  EXPECT_EQ(coffee->position, 11u);
  auto cafe = projection.Search(
      {.index = SearchIndexId::kEntries,
       .query = {
           .kind = SearchQuery::Kind::kMatch, .field = SearchField::kMemo, .text = "caf\xC3\xA9"}});
  ASSERT_TRUE(cafe.has_value());
  ASSERT_EQ(cafe->hits.size(), 1u);
  EXPECT_EQ(cafe->hits[0].source.record_id, "1.0");
  // The merchant's month: income and refunds by kind, payouts; dates in ms.
  SearchQuery december{.kind = SearchQuery::Kind::kBool};
  december.filter.push_back(Term(SearchField::kMerchant, "merchant:1"));
  december.filter.push_back({.kind = SearchQuery::Kind::kRange,
                             .field = SearchField::kOccurredAt,
                             .gte = Utc(2026, 12, 1) / 1000,
                             .lt = Utc(2027, 1, 1) / 1000});
  auto month = projection.Search({.query = december,
                                  .size = 0,
                                  .aggregations = {{.name = "kinds",
                                                    .field = SearchField::kKind,
                                                    .order = SearchAggregation::Order::kKeyAsc,
                                                    .subs = {{.name = "sum",
                                                              .kind = SearchAggregation::Kind::kSum,
                                                              .field = SearchField::kAmount}}}}});
  ASSERT_TRUE(month.has_value()) << month.error().message;
  EXPECT_EQ(month->total, 4u);  // The refund's three lines and the payout.
  const auto& kinds = month->aggregations.at(0).buckets;
  ASSERT_EQ(kinds.size(), 4u);
  EXPECT_EQ(kinds[0].key, SearchValue(std::string("host_commission")));
  EXPECT_EQ(kinds[0].subs.at(0).integer_value, -250);
  EXPECT_EQ(kinds[1].key, SearchValue(std::string("merchant")));
  EXPECT_EQ(kinds[1].subs.at(0).integer_value, -4'250);
  EXPECT_EQ(kinds[2].key, SearchValue(std::string("payout")));
  EXPECT_EQ(kinds[2].subs.at(0).integer_value, -3'000);
  EXPECT_EQ(kinds[3].key, SearchValue(std::string("platform_share")));
  EXPECT_EQ(kinds[3].subs.at(0).integer_value, -500);
  // Engine errors pass through.
  auto invalid = projection.Search({.sort = {kByDoc}, .search_after = {std::string("x")}});
  ASSERT_FALSE(invalid.has_value());
  EXPECT_EQ(invalid.error().code, "invalid_search_after");
}

// The documents of events the commands cannot produce: an AssetChanged without a source, an
// OrderSettled without occurred_at, and events with no document at all.
TEST(SearchDocumentsOfTest, FallsBackForMissingSourceAndOccurredAt) {
  Event changed{.envelope = {.position = 42,
                             .type = EventType::kAssetChanged,
                             .recorded_at_us = 1'700'000'000'000'123}};
  changed.postings.push_back({"a", "b", "CNY", 7});
  changed.payload =
      AssetChanged{.account = "b", .asset = "CNY", .amount = 7, .counterparty = "a", .ref = "x"};
  std::vector<SearchDocument> settlements, entries;
  SearchDocumentsOf(changed, &settlements, &entries);
  EXPECT_TRUE(settlements.empty());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0], (SearchDocument{.record_id = "42.0",
                                        .type = "AssetChanged",
                                        .account = "b",
                                        .counterparty = "a",
                                        .kind = "asset_change",
                                        .category = "other",
                                        .asset = "CNY",
                                        .ref = "x",
                                        .amount = 7,
                                        .position = 42,
                                        .occurred_at_us = 1'700'000'000'000'123}));

  Event settled{
      .envelope = {.position = 7, .type = EventType::kOrderSettled, .recorded_at_us = 5'000'000}};
  settled.postings.push_back({"p", "m", "CNY", 3});
  settled.payload = OrderSettled{.order_id = "o",
                                 .merchant = "m",
                                 .payer = "p",
                                 .asset = "CNY",
                                 .gross = 3,
                                 .lines = {{"m", "merchant", 3, -1}}};
  settlements.clear();
  entries.clear();
  SearchDocumentsOf(settled, &settlements, &entries);
  ASSERT_EQ(settlements.size(), 1u);
  EXPECT_EQ(settlements[0].occurred_at_us, 5'000'000);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].occurred_at_us, 5'000'000);

  for (const Payload& payload :
       {Payload{AccountOpened{.account = "a"}}, Payload{CampaignCreated{.campaign_id = "c"}}}) {
    Event quiet{.envelope = {.position = 9}, .payload = payload};
    settlements.clear();
    entries.clear();
    SearchDocumentsOf(quiet, &settlements, &entries);
    EXPECT_TRUE(settlements.empty());
    EXPECT_TRUE(entries.empty());
  }
}

// --- The document store. --------------------------------------------------------------------

TEST(SearchDocumentEncodingTest, RoundTripsAndRefusesMalformedBytes) {
  const std::vector<SearchDocument> documents = {
      {},
      {.record_id = "12.3",
       .type = "OrderSettled",
       .order_id = "o\xC3\xA9",
       .merchant = "m",
       .account = "a",
       .counterparty = "c",
       .kind = "k",
       .category = "income",
       .asset = "CNY",
       .ref = "r",
       .memo = std::string("memo with \0 and \xFF", 17),
       .amount = -42,
       .position = 12,
       .occurred_at_us = -1},
      {.record_id = "1.0",
       .memo = std::string(70'000, 'x'),
       .amount = std::numeric_limits<std::int64_t>::min(),
       .position = std::numeric_limits<std::int64_t>::max(),
       .occurred_at_us = std::numeric_limits<std::int64_t>::max()},
  };
  for (const SearchDocument& document : documents) {
    std::string bytes;
    EncodeSearchDocument(document, &bytes);
    SearchDocument decoded;
    ASSERT_TRUE(DecodeSearchDocument(bytes, &decoded));
    EXPECT_EQ(decoded, document);
    std::string again = "stale";
    EncodeSearchDocument(document, &again);  // Overwrites, does not append.
    EXPECT_EQ(again, bytes);
    // Every truncation and any trailing byte is refused.
    for (std::size_t length = 0; length < bytes.size(); length += length < 200 ? 1 : 997) {
      SearchDocument scratch;
      EXPECT_FALSE(DecodeSearchDocument(std::string_view(bytes).substr(0, length), &scratch))
          << length << " of " << bytes.size() << " bytes";
    }
    SearchDocument scratch;
    EXPECT_FALSE(DecodeSearchDocument(bytes + '\0', &scratch));
    std::string other_format = bytes;
    other_format[0] = static_cast<char>(other_format[0] + 1);
    EXPECT_FALSE(DecodeSearchDocument(other_format, &scratch));
  }
}

// "d" + index byte + big-endian document number: one index's keys sort by number.
TEST(SearchDocumentKeyTest, KeysOfAnIndexSortByDocumentNumber) {
  EXPECT_EQ(SearchDocumentKey(SearchIndexId::kSettlements, 0x01020304),
            std::string("ds\x01\x02\x03\x04", 6));
  EXPECT_EQ(SearchDocumentKey(SearchIndexId::kEntries, 0), std::string("de\0\0\0\0", 6));
  for (const SearchIndexId index : {SearchIndexId::kSettlements, SearchIndexId::kEntries}) {
    EXPECT_LT(SearchDocumentKey(index, 255), SearchDocumentKey(index, 256));
    EXPECT_LT(SearchDocumentKey(index, 0), SearchDocumentKey(index, 0xFFFF'FFFF));
    EXPECT_LT(std::string(kCheckpointKey), SearchDocumentKey(index, 0));
  }
}

// --- Restarts, dropped batches, corruption. --------------------------------------------------

// The answers of a few requests, sources included, for comparing two projections.
std::vector<std::string> Answers(const SearchProjection& projection) {
  std::vector<std::string> answers;
  const std::vector<SearchRequest> requests = {
      {.index = SearchIndexId::kSettlements, .size = kSearchWindowMax, .sort = {kByDoc}},
      {.index = SearchIndexId::kEntries, .size = kSearchWindowMax, .sort = {kByDoc}},
      {.index = SearchIndexId::kEntries,
       .query = {.kind = SearchQuery::Kind::kMatch,
                 .field = SearchField::kMemo,
                 .text = "coffee tips"},
       .size = 50},
      {.index = SearchIndexId::kSettlements,
       .query = Term(SearchField::kMerchant, "merchant:1"),
       .size = 0,
       .aggregations = {{.name = "days",
                         .kind = SearchAggregation::Kind::kDateHistogram,
                         .field = SearchField::kOccurredAt,
                         .calendar = SearchAggregation::Calendar::kDay,
                         .subs = {{.name = "sum",
                                   .kind = SearchAggregation::Kind::kSum,
                                   .field = SearchField::kAmount}}}}},
  };
  for (const SearchRequest& request : requests) {
    auto result = projection.Search(request);
    EXPECT_TRUE(result.has_value());
    if (!result) continue;
    std::string answer = "position " + std::to_string(result->position) + " total " +
                         std::to_string(result->total) + "\n";
    for (const SearchHit& hit : result->hits) {
      answer += std::to_string(hit.doc) + " " + std::to_string(hit.score.value_or(-1)) + " " +
                Show(hit.source) + "\n";
    }
    for (const SearchAggregationResult& aggregation : result->aggregations) {
      for (const SearchBucket& bucket : aggregation.buckets) {
        answer += std::to_string(std::get<std::int64_t>(bucket.key)) + ":" +
                  std::to_string(bucket.doc_count) + ":" +
                  std::to_string(bucket.subs.at(0).integer_value.value_or(0)) + " ";
      }
    }
    answers.push_back(std::move(answer));
  }
  return answers;
}

TEST_F(SearchProjectionTest, RestartLoadsTheSameAnswersAndGoesOn) {
  const unsigned long long seed = ledger::testing::TestSeed();
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 random(seed);
  ASSERT_NO_FATAL_FAILURE(FundUsers());
  RandomCommands(120, random);
  SearchProjection first;
  ASSERT_NO_FATAL_FAILURE(CatchUpWith(first, {.batch_events_max = 7}));
  const std::vector<std::string> before = Answers(first);
  ASSERT_GT(first.DocumentCount(SearchIndexId::kSettlements), 50u);

  testing::Counting<SearchProjection> restarted;
  EXPECT_EQ(restarted.inner.Position(), 0u);
  EXPECT_EQ(restarted.inner.DocumentCount(SearchIndexId::kEntries), 0u);
  const std::uint64_t half = store_->HeadPosition();
  {
    auto runner = MakeRunner(restarted);
    ASSERT_EQ(runner->CatchUp().value_or(0), half);
  }
  EXPECT_EQ(restarted.applied.load(), 0u);  // Load alone answers.
  EXPECT_EQ(restarted.inner.Position(), half);
  EXPECT_EQ(Answers(restarted.inner), before);

  // It goes on from there and matches a single run over the whole log, key for key.
  RandomCommands(60, random);
  {
    auto runner = MakeRunner(restarted, {.batch_events_max = 5});
    ASSERT_EQ(runner->CatchUp().value_or(0), store_->HeadPosition());
  }
  EXPECT_EQ(restarted.applied.load(), store_->HeadPosition() - half);
  SearchProjection single;
  Metrics reference_metrics;
  auto reference = MakeRunner(single, *reference_family_, reference_metrics);
  ASSERT_EQ(reference->CatchUp().value_or(0), store_->HeadPosition());
  EXPECT_EQ(testing::Contents(*store_->db(), *family_),
            testing::Contents(*store_->db(), *reference_family_));
  EXPECT_EQ(Answers(restarted.inner), Answers(single));
}

TEST_F(SearchProjectionTest, DroppedBatchLeavesNoTraceAndARestartCatchesUp) {
  const unsigned long long seed = ledger::testing::TestSeed();
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 random(seed);
  ASSERT_NO_FATAL_FAILURE(FundUsers());  // Positions 1..4: top-ups, entries only.
  RandomCommands(80, random);
  const std::uint64_t head = store_->HeadPosition();
  ASSERT_GT(head, 30u);
  SearchProjection projection;
  int batches = 0;
  {
    auto crashing = MakeRunner(
        projection,
        {.batch_events_max = 10, .crash_before_write_for_testing = [&] { return ++batches == 2; }});
    auto caught_up = crashing->CatchUp();  // Writes batch 1, drops batch 2 and stops.
    ASSERT_TRUE(caught_up.has_value()) << caught_up.error().message;
    EXPECT_EQ(*caught_up, 10u);
  }
  // Nothing of positions 11..20 is searchable or stored.
  EXPECT_EQ(projection.Position(), 10u);
  for (const SearchIndexId index : {SearchIndexId::kSettlements, SearchIndexId::kEntries}) {
    for (const SearchDocument& document : AllDocuments(projection, index)) {
      EXPECT_LE(document.position, 10) << document.record_id;
    }
    auto later = projection.Count(
        index, {.kind = SearchQuery::Kind::kRange, .field = SearchField::kPosition, .gt = 10});
    ASSERT_TRUE(later.has_value());
    EXPECT_EQ(later->first, 0u);
  }
  const std::uint64_t stored_documents = projection.DocumentCount(SearchIndexId::kSettlements) +
                                         projection.DocumentCount(SearchIndexId::kEntries);
  EXPECT_EQ(testing::Contents(*store_->db(), *family_).size(), stored_documents + 1)
      << "documents and the checkpoint only";

  // The same object (it staged batch 2) and a fresh one both catch up to a single run's state.
  ASSERT_NO_FATAL_FAILURE(CatchUpWith(projection, {.batch_events_max = 10}));
  EXPECT_EQ(projection.Position(), head);
  SearchProjection single;
  Metrics reference_metrics;
  auto reference = MakeRunner(single, *reference_family_, reference_metrics);
  ASSERT_EQ(reference->CatchUp().value_or(0), head);
  EXPECT_EQ(testing::Contents(*store_->db(), *family_),
            testing::Contents(*store_->db(), *reference_family_));
  EXPECT_EQ(Answers(projection), Answers(single));
  SearchProjection fresh;
  ASSERT_NO_FATAL_FAILURE(CatchUpWith(fresh));
  EXPECT_EQ(Answers(fresh), Answers(single));
}

// A fresh projection over the store with one change made to it directly.
class SearchCorruptionTest : public SearchScenarioTest {
 protected:
  Status LoadFresh() {
    SearchProjection projection;
    auto runner = MakeRunner(projection);
    auto caught_up = runner->CatchUp();
    if (!caught_up) return std::unexpected(caught_up.error());
    return Ok();
  }

  void Put(const std::string& key, const std::string& value) {
    ASSERT_TRUE(store_->db()->Put(rocksdb::WriteOptions(), family_, key, value).ok());
  }
  void Delete(const std::string& key) {
    ASSERT_TRUE(store_->db()->Delete(rocksdb::WriteOptions(), family_, key).ok());
  }
};

TEST_F(SearchCorruptionTest, LoadRefusesADocumentThatDoesNotDecode) {
  ASSERT_NO_FATAL_FAILURE(CatchUp());
  ASSERT_TRUE(LoadFresh().has_value());
  ASSERT_NO_FATAL_FAILURE(Put(SearchDocumentKey(SearchIndexId::kSettlements, 3), "\x01garbage"));
  auto loaded = LoadFresh();
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().kind, ErrorKind::kCorruption);
}

TEST_F(SearchCorruptionTest, LoadRefusesATruncatedDocument) {
  ASSERT_NO_FATAL_FAILURE(CatchUp());
  std::string value;
  const std::string key = SearchDocumentKey(SearchIndexId::kEntries, 12);
  ASSERT_TRUE(store_->db()->Get(rocksdb::ReadOptions(), family_, key, &value).ok());
  value.pop_back();
  ASSERT_NO_FATAL_FAILURE(Put(key, value));
  auto loaded = LoadFresh();
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().kind, ErrorKind::kCorruption);
}

TEST_F(SearchCorruptionTest, LoadRefusesAGapInTheNumbering) {
  ASSERT_NO_FATAL_FAILURE(CatchUp());
  ASSERT_NO_FATAL_FAILURE(Delete(SearchDocumentKey(SearchIndexId::kEntries, 4)));
  auto loaded = LoadFresh();
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().kind, ErrorKind::kCorruption);
}

TEST_F(SearchCorruptionTest, LoadRefusesADocumentPastTheEnd) {
  ASSERT_NO_FATAL_FAILURE(CatchUp());
  std::string value;
  ASSERT_TRUE(store_->db()
                  ->Get(rocksdb::ReadOptions(), family_,
                        SearchDocumentKey(SearchIndexId::kSettlements, 0), &value)
                  .ok());
  ASSERT_NO_FATAL_FAILURE(Put(SearchDocumentKey(SearchIndexId::kSettlements, 12), value));
  auto loaded = LoadFresh();
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().kind, ErrorKind::kCorruption);
}

// A hit whose stored document went bad after Load: the search fails, it does not make one up.
TEST_F(SearchCorruptionTest, SearchRefusesAHitWhoseDocumentIsBad) {
  SearchProjection projection;
  ASSERT_NO_FATAL_FAILURE(CatchUpWith(projection));
  ASSERT_NO_FATAL_FAILURE(Put(SearchDocumentKey(SearchIndexId::kSettlements, 1), "\x01"));
  auto bad = projection.Search({.size = 10, .sort = {kByDoc}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, ErrorKind::kCorruption);
  // Hits that do not include it still answer; so does a count.
  auto fine = projection.Search({.from = 2, .size = 10, .sort = {kByDoc}});
  ASSERT_TRUE(fine.has_value()) << fine.error().message;
  EXPECT_EQ(fine->hits.size(), 9u);
  ASSERT_NO_FATAL_FAILURE(Delete(SearchDocumentKey(SearchIndexId::kSettlements, 4)));
  auto missing = projection.Search({.from = 2, .size = 10, .sort = {kByDoc}});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::kCorruption);
}

// --- Readers while the worker applies batches. -----------------------------------------------

// Settlements with 0..3 splits go in from another thread while this one searches: every answer
// holds all of an event's documents or none, exactly the events up to the position it reports;
// and a search_after walk started mid-way visits every document once.
TEST_F(SearchProjectionTest, ReadersNeverSeeAPartialEvent) {
  const unsigned long long seed = ledger::testing::TestSeed();
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed));
  ASSERT_NO_FATAL_FAILURE(FundUsers());
  SearchProjection projection;
  auto runner = MakeRunner(projection, {.batch_events_max = 3});
  ASSERT_TRUE(runner->Start().has_value());
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    std::mt19937_64 random(seed);
    std::uniform_int_distribution<int> splits(0, 3), amount(100, 5'000);
    for (int i = 0; i < 400; ++i) {
      std::vector<commands::Split> shares;
      for (int s = 0, n = splits(random); s < n; ++s) {
        shares.push_back({.to = "split:" + std::to_string(s),
                          .kind = "commission",
                          .amount = std::int64_t{1 + s}});
      }
      (void)TryRun(commands::SettleOrder{.order_id = "o" + std::to_string(i),
                                         .merchant = "merchant:" + std::to_string(i % 3),
                                         .payer = "user:" + std::to_string(i % 4),
                                         .asset = "CNY",
                                         .gross = amount(random),
                                         .splits = std::move(shares)});
    }
    writing = false;
  });
  struct Joiner {  // A failed ASSERT below must not leave the writer running.
    std::thread& thread;
    ~Joiner() {
      if (thread.joinable()) thread.join();
    }
  } joiner{writer};

  // Answers taken while writes go on: per index, position -> documents, and the checkpoint.
  struct Snapshot {
    SearchIndexId index;
    std::uint64_t position;
    std::uint64_t total;
    std::map<std::int64_t, std::uint64_t> per_position;
  };
  std::vector<Snapshot> snapshots;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> counts;  // (count, position), entries.
  std::set<std::uint32_t> walked;
  std::uint64_t walk_start_documents = 0;
  bool walk_started = false, walk_done = false;
  SearchRequest walk{.index = SearchIndexId::kSettlements, .size = 17, .sort = {kByDoc}};
  while (writing || !walk_done) {
    for (const SearchIndexId index : {SearchIndexId::kSettlements, SearchIndexId::kEntries}) {
      auto result = projection.Search(
          {.index = index,
           .size = 0,
           .aggregations = {{.name = "positions",
                             .field = SearchField::kPosition,
                             .size = static_cast<std::uint32_t>(kSearchBucketsMax)}}});
      ASSERT_TRUE(result.has_value()) << result.error().message;
      Snapshot snapshot{index, result->position, result->total, {}};
      for (const SearchBucket& bucket : result->aggregations.at(0).buckets) {
        snapshot.per_position[std::get<std::int64_t>(bucket.key)] = bucket.doc_count;
      }
      snapshots.push_back(std::move(snapshot));
    }
    auto count = projection.Count(SearchIndexId::kEntries, {});
    ASSERT_TRUE(count.has_value());
    counts.push_back(*count);
    // One page of the walk per round, starting once some documents exist.
    const bool writer_done = !writing;  // Read before the page: the head is final then.
    if (!walk_started &&
        (projection.DocumentCount(SearchIndexId::kSettlements) > 100 || writer_done)) {
      walk_started = true;
      walk_start_documents = projection.DocumentCount(SearchIndexId::kSettlements);
    }
    if (walk_started && !walk_done) {
      auto page = projection.Search(walk);
      ASSERT_TRUE(page.has_value()) << page.error().message;
      for (const SearchHit& hit : page->hits) {
        EXPECT_TRUE(walked.insert(hit.doc).second) << "document " << hit.doc << " twice";
      }
      if (page->hits.empty()) {
        // Caught up: done once the writer stopped and the page reflects its last event.
        walk_done = writer_done && page->position == store_->HeadPosition();
      } else {
        walk.search_after = page->hits.back().sort;
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  writer.join();
  ASSERT_EQ(runner->WaitFor(store_->HeadPosition(), kWaitUs), store_->HeadPosition());
  runner->Stop();
  ASSERT_FALSE(runner->Failure().has_value());

  // The expected documents per position, from the log itself: one per settlement line, one
  // per posting.
  auto events = store_->ReadFrom(1, store_->HeadPosition());
  ASSERT_TRUE(events.has_value());
  std::map<std::int64_t, std::uint64_t> lines, postings;
  for (const StoredEvent& stored : *events) {
    const auto position = static_cast<std::int64_t>(stored.event.envelope.position);
    if (const auto* settled = std::get_if<OrderSettled>(&stored.event.payload)) {
      lines[position] = settled->lines.size();
    }
    if (!stored.event.postings.empty()) postings[position] = stored.event.postings.size();
  }
  ASSERT_GT(lines.size(), 300u);
  std::set<std::uint64_t> positions_seen;
  for (const Snapshot& snapshot : snapshots) {
    const auto& expected_all = snapshot.index == SearchIndexId::kSettlements ? lines : postings;
    std::map<std::int64_t, std::uint64_t> expected;
    std::uint64_t total = 0;
    for (const auto& [position, documents] : expected_all) {
      if (position > static_cast<std::int64_t>(snapshot.position)) break;
      expected[position] = documents;
      total += documents;
    }
    EXPECT_EQ(snapshot.per_position, expected) << "at position " << snapshot.position;
    EXPECT_EQ(snapshot.total, total) << "at position " << snapshot.position;
    positions_seen.insert(snapshot.position);
    if (HasFailure()) break;
  }
  for (const auto& [count, position] : counts) {
    std::uint64_t expected = 0;
    for (const auto& [at, documents] : postings) {
      if (at <= static_cast<std::int64_t>(position)) expected += documents;
    }
    EXPECT_EQ(count, expected) << "at position " << position;
    if (HasFailure()) break;
  }
  EXPECT_GT(positions_seen.size(), 10u) << "the readers saw too few distinct states";
  // The walk saw every document, each once, including those added while it ran.
  ASSERT_TRUE(walk_done);
  EXPECT_GT(projection.DocumentCount(SearchIndexId::kSettlements), walk_start_documents);
  EXPECT_EQ(walked.size(), projection.DocumentCount(SearchIndexId::kSettlements));
  EXPECT_EQ(*walked.rbegin() + 1u, walked.size());
}

}  // namespace
}  // namespace ledger::projections
