// The entries projection: exact pages of a scripted scenario, the asset filter, cursor paging
// (also while a writer appends), rejected cursors, prefix isolation of account and asset ids,
// and a restart that resumes from the checkpoint.
#include "projections/entries_projection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "commands/sequencer.h"
#include "ledger/limits.h"
#include "projections/projection_runner.h"
#include "tests/projections/support.h"

namespace ledger::projections {
namespace {

constexpr std::int64_t kWaitUs = 10'000'000;
constexpr TimestampUs kNowUs = 1'790'000'000'000'000;

class EntriesProjectionTest : public testing::ProjectionTest<EntriesProjection> {
 protected:
  EntriesProjectionTest() : ProjectionTest(kNowUs) {}
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(OpenStore({.reference = true})); }

  // 1: user:a +1000 CNY; 2: order settled (user:a pays merchant:1 500, which pays platform 50);
  // 3: user:a +7 COIN; 4: transfer user:a -> user:b 100 CNY and user:b -> user:a 30 CNY.
  void Script() {
    Credit("user:a", "CNY", 1000);
    Run(commands::SettleOrder{
        .order_id = "o1",
        .merchant = "merchant:1",
        .payer = "user:a",
        .asset = "CNY",
        .gross = 500,
        .splits = {{.to = "platform", .kind = "platform_share", .amount = 50}}});
    Credit("user:a", "COIN", 7);
    Run(commands::Transfer{
        .postings = {{"user:a", "user:b", "CNY", 100}, {"user:b", "user:a", "CNY", 30}}});
  }

  Result<EntriesPage> Page(std::string_view account, std::string_view asset = "",
                           std::string_view cursor = "", std::size_t limit = kEntriesPageMax,
                           rocksdb::ColumnFamilyHandle* family = nullptr) {
    return EntriesProjection::Read(*store_->db(), family ? *family : *family_, account, asset,
                                   cursor, limit);
  }

  // Every entry of `account`, walking all pages of `limit`.
  std::vector<Entry> All(std::string_view account, std::string_view asset, std::size_t limit,
                         rocksdb::ColumnFamilyHandle* family = nullptr) {
    std::vector<Entry> all;
    std::string cursor;
    do {
      auto page = Page(account, asset, cursor, limit, family);
      EXPECT_TRUE(page.has_value()) << page.error().message;
      if (!page) break;
      EXPECT_LE(page->entries.size(), limit);
      all.insert(all.end(), page->entries.begin(), page->entries.end());
      cursor = page->next_cursor;
    } while (!cursor.empty());
    return all;
  }
};

Entry MakeEntry(std::uint64_t position, std::uint32_t index, EventType type, std::string asset,
                std::int64_t amount, std::string counterparty, std::int64_t balance_after) {
  return Entry{position,     index, type, kNowUs, std::move(asset), amount, std::move(counterparty),
               balance_after};
}

const std::vector<Entry>& ExpectedUserA() {
  static const std::vector<Entry> expected = {
      MakeEntry(4, 1, EventType::kTransferred, "CNY", 30, "user:b", 430),
      MakeEntry(4, 0, EventType::kTransferred, "CNY", -100, "user:b", 400),
      MakeEntry(3, 0, EventType::kAssetChanged, "COIN", 7, "external:topup", 7),
      MakeEntry(2, 0, EventType::kOrderSettled, "CNY", -500, "merchant:1", 500),
      MakeEntry(1, 0, EventType::kAssetChanged, "CNY", 1000, "external:topup", 1000),
  };
  return expected;
}

TEST_F(EntriesProjectionTest, ScriptedScenarioGivesExactPages) {
  Script();
  CatchUp();
  auto page = Page("user:a");
  ASSERT_TRUE(page.has_value()) << page.error().message;
  EXPECT_EQ(page->position, 4u);
  EXPECT_EQ(page->entries, ExpectedUserA());
  EXPECT_EQ(page->next_cursor, "");

  auto merchant = Page("merchant:1");
  ASSERT_TRUE(merchant.has_value());
  EXPECT_EQ(
      merchant->entries,
      (std::vector<Entry>{MakeEntry(2, 1, EventType::kOrderSettled, "CNY", -50, "platform", 450),
                          MakeEntry(2, 0, EventType::kOrderSettled, "CNY", 500, "user:a", 500)}));
  auto user_b = Page("user:b");
  ASSERT_TRUE(user_b.has_value());
  EXPECT_EQ(
      user_b->entries,
      (std::vector<Entry>{MakeEntry(4, 1, EventType::kTransferred, "CNY", -30, "user:a", 70),
                          MakeEntry(4, 0, EventType::kTransferred, "CNY", 100, "user:a", 100)}));
  auto external = Page("external:topup");
  ASSERT_TRUE(external.has_value());
  ASSERT_EQ(external->entries.size(), 2u);
  // Running balances are per asset.
  EXPECT_EQ(external->entries[0].balance_after, -7);
  EXPECT_EQ(external->entries[1].balance_after, -1000);
}

TEST_F(EntriesProjectionTest, AssetFilterShowsOnlyThatAsset) {
  Script();
  CatchUp();
  auto coin = Page("user:a", "COIN");
  ASSERT_TRUE(coin.has_value());
  EXPECT_EQ(coin->position, 4u);
  EXPECT_EQ(coin->entries, std::vector<Entry>{ExpectedUserA()[2]});
  auto cny = Page("user:a", "CNY");
  ASSERT_TRUE(cny.has_value());
  std::vector<Entry> expected = ExpectedUserA();
  expected.erase(expected.begin() + 2);
  EXPECT_EQ(cny->entries, expected);
  auto none = Page("user:a", "USD");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->entries.empty());
  EXPECT_EQ(none->next_cursor, "");
}

TEST_F(EntriesProjectionTest, CursorPagesNeitherRepeatNorSkip) {
  Script();
  CatchUp();
  const std::vector<Entry>& expected = ExpectedUserA();
  auto first = Page("user:a", "", "", 2);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->entries, std::vector<Entry>(expected.begin(), expected.begin() + 2));
  ASSERT_FALSE(first->next_cursor.empty());
  auto second = Page("user:a", "", first->next_cursor, 2);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->entries, std::vector<Entry>(expected.begin() + 2, expected.begin() + 4));
  auto third = Page("user:a", "", second->next_cursor, 2);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->entries, std::vector<Entry>(expected.begin() + 4, expected.end()));
  EXPECT_EQ(third->next_cursor, "");

  // A full last page: no cursor when nothing older exists.
  auto cny_first = Page("user:a", "CNY", "", 2);
  ASSERT_TRUE(cny_first.has_value());
  auto cny_last = Page("user:a", "CNY", cny_first->next_cursor, 2);
  ASSERT_TRUE(cny_last.has_value());
  EXPECT_EQ(cny_last->entries.size(), 2u);
  EXPECT_EQ(cny_last->next_cursor, "");

  for (std::size_t limit = 1; limit <= 6; ++limit) {
    EXPECT_EQ(All("user:a", "", limit), expected) << limit;
  }
}

TEST_F(EntriesProjectionTest, NewEntriesSortBeforeAnOpenCursor) {
  Script();
  CatchUp();
  auto first = Page("user:a", "", "", 2);
  ASSERT_TRUE(first.has_value());
  Credit("user:a", "CNY", 5);
  CatchUp();
  auto rest = Page("user:a", "", first->next_cursor, 10);
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(rest->position, 5u);
  EXPECT_EQ(rest->entries, std::vector<Entry>(ExpectedUserA().begin() + 2, ExpectedUserA().end()));
  auto newest = Page("user:a", "", "", 1);
  ASSERT_TRUE(newest.has_value());
  EXPECT_EQ(newest->entries.at(0).position, 5u);
  EXPECT_EQ(newest->entries.at(0).balance_after, 435);
}

TEST_F(EntriesProjectionTest, RejectsInvalidCursorsAndLimits) {
  Script();
  CatchUp();
  for (const char* cursor :
       {"x", "00000000000000040000000", "000000000000000400000000ff", "00000000000000040000000g",
        "000000000000000000000000", "0000 0000000000040000000"}) {
    auto page = Page("user:a", "", cursor, 10);
    ASSERT_FALSE(page.has_value()) << cursor;
    EXPECT_EQ(page.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_EQ(page.error().code, "invalid_cursor");
  }
  // Either case of hex digits is accepted; the cursor names (4, 0): what follows is older.
  auto upper = Page("user:a", "", "00000000000000040000000A", 10);
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(upper->entries.size(), 5u);
  for (std::size_t limit : {std::size_t{0}, kEntriesPageMax + 1}) {
    auto page = Page("user:a", "", "", limit);
    ASSERT_FALSE(page.has_value());
    EXPECT_EQ(page.error().code, "invalid_limit");
  }
}

TEST_F(EntriesProjectionTest, AccountAndAssetPrefixesAreIsolated) {
  Credit("a", "C", 1);
  Credit("a/b", "C", 2);
  Credit("ab", "C", 3);
  Credit("a", "CN", 4);
  Credit("a:", "C", 5);
  CatchUp();
  auto a = Page("a");
  ASSERT_TRUE(a.has_value());
  ASSERT_EQ(a->entries.size(), 2u);
  EXPECT_EQ(a->entries[0].amount, 4);
  EXPECT_EQ(a->entries[1].amount, 1);
  auto a_c = Page("a", "C");
  ASSERT_TRUE(a_c.has_value());
  ASSERT_EQ(a_c->entries.size(), 1u);
  EXPECT_EQ(a_c->entries[0].amount, 1);
  auto a_b = Page("a/b");
  ASSERT_TRUE(a_b.has_value());
  ASSERT_EQ(a_b->entries.size(), 1u);
  EXPECT_EQ(a_b->entries[0].amount, 2);
  for (std::string_view unknown : {std::string_view(""), std::string_view("a/"),
                                   std::string_view("a\0", 2), std::string_view("z")}) {
    auto page = Page(unknown);
    ASSERT_TRUE(page.has_value());
    EXPECT_TRUE(page->entries.empty()) << unknown;
    EXPECT_EQ(page->position, 5u);
  }
  auto forged = Page("a", std::string_view("C\0", 2));
  ASSERT_TRUE(forged.has_value());
  EXPECT_TRUE(forged->entries.empty());
}

// The postings of `account` in the log up to `position`, as (position, index), newest first.
std::vector<std::pair<std::uint64_t, std::uint32_t>> PostingsInLog(const Store& store,
                                                                   const std::string& account,
                                                                   std::uint64_t position) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> found;
  auto events = store.ReadFrom(1, position);
  EXPECT_TRUE(events.has_value());
  if (!events) return found;
  for (const StoredEvent& stored : *events) {
    const Event& event = stored.event;
    for (std::uint32_t i = 0; i < event.postings.size(); ++i) {
      if (event.postings[i].from == account || event.postings[i].to == account) {
        found.emplace_back(event.envelope.position, i);
      }
    }
  }
  std::reverse(found.begin(), found.end());
  return found;
}

TEST_F(EntriesProjectionTest, PagingWhileAWriterAppendsNeitherRepeatsNorSkips) {
  EntriesProjection projection;
  auto runner = MakeRunner(projection, *family_, metrics_);
  ASSERT_TRUE(runner->Start().has_value());
  Credit("hot", "CNY", 1'000'000);
  ASSERT_EQ(runner->WaitFor(1, kWaitUs), 1u);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 400 && !stop; ++i) {
      if (i % 2 == 0) {
        Credit("hot", "CNY", 1);
      } else {
        Run(commands::Transfer{.postings = {{"hot", "external:sink", "CNY", 2},
                                            {"external:source", "hot", "CNY", 3},
                                            {"external:source", "cold", "CNY", 3}}});
      }
    }
  });
  // Let the writer get going, then walk the pages slowly while it appends.
  ASSERT_GE(runner->WaitFor(20, kWaitUs), 20u);
  std::vector<Entry> walked;
  std::uint64_t first_position = 0;
  std::string cursor;
  int pages = 0;
  do {
    auto page = Page("hot", "", cursor, 7);
    ASSERT_TRUE(page.has_value()) << page.error().message;
    if (pages++ == 0) {
      first_position = page->position;
      // Make sure events are appended and applied while the walk goes on.
      ASSERT_GT(runner->WaitFor(first_position + 5, kWaitUs), first_position);
    }
    walked.insert(walked.end(), page->entries.begin(), page->entries.end());
    cursor = page->next_cursor;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  } while (!cursor.empty());
  stop = true;
  writer.join();
  ASSERT_GT(pages, 3);
  std::vector<std::pair<std::uint64_t, std::uint32_t>> keys;
  for (const Entry& entry : walked) keys.emplace_back(entry.position, entry.index);
  EXPECT_EQ(std::set(keys.begin(), keys.end()).size(), keys.size()) << "duplicates";
  // Entries newer than the first page sort before it: the walk holds exactly the postings of the
  // log up to the first page's position.
  EXPECT_EQ(keys, PostingsInLog(*store_, "hot", first_position));
  // Balances chain: each entry's balance is the previous one plus its amount.
  for (std::size_t i = 0; i + 1 < walked.size(); ++i) {
    EXPECT_EQ(walked[i].balance_after, walked[i + 1].balance_after + walked[i].amount) << i;
  }
}

TEST_F(EntriesProjectionTest, RestartResumesFromTheCheckpointAndMatchesOneRun) {
  Script();
  {
    EntriesProjection first;
    auto runner = MakeRunner(first, *family_, metrics_, {.batch_events_max = 3});
    ASSERT_TRUE(runner->CatchUp().has_value());
  }
  clock_.Advance(1'000'000);
  Run(commands::RefundOrder{.order_id = "o1", .refund_id = "r1", .amount = 200});
  Run(commands::PayOut{.payout_id = "p1",
                       .merchant = "merchant:1",
                       .asset = "CNY",
                       .amount = 100,
                       .bank_account = "bank-1"});
  Credit("user:b", "COIN", 9);
  {
    testing::Counting<EntriesProjection> second;
    auto runner = MakeRunner(second, *family_, metrics_, {.batch_events_max = 3});
    ASSERT_EQ(runner->CatchUp().value_or(0), 7u);
    EXPECT_EQ(second.applied.load(), 3u);  // Resumed after the checkpoint (4).
  }
  EntriesProjection single;
  Metrics reference_metrics;
  auto reference = MakeRunner(single, *reference_family_, reference_metrics);
  ASSERT_EQ(reference->CatchUp().value_or(0), 7u);
  EXPECT_EQ(testing::Contents(*store_->db(), *family_),
            testing::Contents(*store_->db(), *reference_family_));
  for (const char* account : {"user:a", "user:b", "merchant:1", "platform"}) {
    EXPECT_EQ(All(account, "", 2), All(account, "", 2, reference_family_)) << account;
  }
  auto merchant = Page("merchant:1", "", "", 3);
  ASSERT_TRUE(merchant.has_value());
  EXPECT_EQ(merchant->entries.at(0).type, EventType::kMerchantPaidOut);
  EXPECT_EQ(merchant->entries.at(0).counterparty, "external:bank:bank-1");
  EXPECT_EQ(merchant->entries.at(0).balance_after, 450 + 20 - 200 - 100);
}

}  // namespace
}  // namespace ledger::projections
