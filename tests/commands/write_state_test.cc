// WriteState: Apply's bookkeeping, TakeDirty/Load round trips, corrupt entries, invariants under
// a seeded random command stream.
#include "commands/write_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "commands/decide.h"
#include "tests/commands/harness.h"
#include "tests/support/temp_dir.h"

namespace ledger::commands {
namespace {

using testing::AmountSplit;
using testing::BpsSplit;
using testing::Campaign;
using testing::Change;
using testing::Client;
using testing::Harness;
using testing::IsError;
using testing::Post;
using testing::Refund;
using testing::Settle;
using testing::TransferOf;

using Puts = std::vector<std::pair<std::string, std::string>>;

std::vector<std::string> DirtyKeys(WriteState& state) {
  Puts puts;
  state.TakeDirty(&puts);
  std::vector<std::string> keys;
  for (const auto& [key, value] : puts) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

WriteState LoadAll(const Puts& puts) {
  WriteState state;
  for (const auto& [key, value] : puts) {
    Status status = state.Load(key, value);
    EXPECT_TRUE(status) << key << ": " << status.error().message;
  }
  return state;
}

// A state with one of everything.
Harness Populated() {
  Harness h;
  h.Must(OpenAccount{"user:1", false, false, {{"k", "v"}}});
  h.Must(OpenAccount{"frozen:1", true, true, {}});
  h.Must(Change("user:1", 1000));
  h.Must(Change("user:1", 50, "EUR"));
  h.Must(Settle(
      "o-1", 10000,
      {BpsSplit("host:1", "host_commission", 1000), AmountSplit("platform", "platform_share", 7)}));
  h.Must(Refund("o-1", "r-1", 2500));
  h.Must(TransferOf({Post("user:1", "user:2", 10), Post("user:2", "frozen:1", 4)}));
  h.Must(Campaign("c-1"), Client("shop-app"));
  h.Must(GrantVoucher{"c-1", "g-1", "user:1"}, Client("shop-app"));
  h.Must(RedeemVoucher{"c-1", "rd-1", "user:1", ""});
  return h;
}

TEST(WriteStateTest, AccountVersionCountsEventsThatTouchIt) {
  Harness h;
  h.Must(Change("a", 100));
  h.Must(TransferOf({Post("a", "b", 1), Post("a", "c", 1), Post("c", "a", 1)}));
  EXPECT_EQ(h.state.FindAccount("a")->version, 2u);
  EXPECT_EQ(h.state.FindAccount("b")->version, 1u);
  EXPECT_EQ(h.state.FindAccount("c")->version, 1u);
  EXPECT_EQ(h.state.FindAccount("external:bank")->version, 1u);
  // Stream versions count the account's own stream only.
  EXPECT_EQ(h.state.FindAccount("a")->stream_version, 1u);
  EXPECT_EQ(h.state.FindAccount("b")->stream_version, 0u);
  EXPECT_EQ(h.state.FindAccount("external:bank")->stream_version, 0u);
  EXPECT_EQ(h.state.StreamVersion("account/a"), 1u);
  EXPECT_EQ(h.state.StreamVersion("account/b"), 0u);
  EXPECT_EQ(h.state.StreamVersion("transfers"), 1u);
  EXPECT_EQ(h.state.StreamVersion("account/nobody"), 0u);
  EXPECT_EQ(h.state.StreamVersion("order/none"), 0u);
  EXPECT_EQ(h.state.StreamVersion("campaign/none"), 0u);
  EXPECT_EQ(h.state.StreamVersion("elsewhere"), 0u);
  EXPECT_EQ(h.state.AccountCount(), 4u);
  EXPECT_EQ(h.state.accounts().size(), 4u);
}

TEST(WriteStateTest, OpenedAccountStartsAtVersionOne) {
  Harness h;
  h.Must(OpenAccount{"a", false, false, {}});
  h.Must(Change("a", 5));
  EXPECT_EQ(h.state.FindAccount("a")->version, 2u);
  EXPECT_EQ(h.state.FindAccount("a")->stream_version, 2u);
  EXPECT_EQ(h.state.StreamVersion("account/a"), 2u);
}

TEST(WriteStateTest, StreamVersionsOfOrdersAndCampaigns) {
  Harness h = Populated();
  EXPECT_EQ(h.state.StreamVersion("order/o-1"), 2u);
  EXPECT_EQ(h.state.StreamVersion("campaign/c-1"), 3u);
  EXPECT_EQ(h.state.StreamVersion("account/user:1"), 3u);
  EXPECT_EQ(h.state.FindOrder("o-1")->refunded_total, 2500);
}

TEST(WriteStateTest, DirtyKeys) {
  Harness h;
  h.Must(Change("user:1", 5));
  EXPECT_EQ(DirtyKeys(h.state), (std::vector<std::string>{"a/external:bank", "a/user:1"}));
  EXPECT_TRUE(DirtyKeys(h.state).empty());
  h.Must(TransferOf({Post("user:1", "user:2", 1)}));
  EXPECT_EQ(DirtyKeys(h.state), (std::vector<std::string>{"a/user:1", "a/user:2", "t"}));
  h.Must(Settle("o-1", 10));
  EXPECT_EQ(DirtyKeys(h.state),
            (std::vector<std::string>{"a/external:payments", "a/merchant:1", "o/o-1"}));
  h.Must(Campaign("c-1"));
  EXPECT_EQ(DirtyKeys(h.state), (std::vector<std::string>{"c/c-1"}));
  h.Must(GrantVoucher{"c-1", "g-1", "user:1"});
  EXPECT_EQ(DirtyKeys(h.state),
            (std::vector<std::string>{"a/external:marketing", "a/user:1", "c/c-1",
                                      std::string("g/c-1\0user:1", 12)}));
}

TEST(WriteStateTest, TakeDirtyThenLoadReproducesTheState) {
  Harness h = Populated();
  Puts puts;
  h.state.TakeDirty(&puts);
  WriteState loaded = LoadAll(puts);
  EXPECT_TRUE(loaded == h.state);
  EXPECT_EQ(loaded.GrantsToUser("c-1", "user:1"), 1);
  EXPECT_EQ(loaded.FindOrder("o-1")->settlement.order_id, "o-1");
  EXPECT_EQ(loaded.FindCampaign("c-1")->campaign.campaign_id, "c-1");
  EXPECT_EQ(loaded.FindAccount("user:1")->Balance("EUR"), 50);
  // Loading marks nothing dirty.
  EXPECT_TRUE(DirtyKeys(loaded).empty());
  // The loaded state decides like the original.
  Harness again;
  again.state = loaded;
  EXPECT_TRUE(
      IsError(again.Run(Refund("o-1", "r-9", 7501)), ErrorKind::kRejected, "refund_exceeds_gross"));
  EXPECT_TRUE(again.Run(Refund("o-1", "r-9", 7500)));
}

TEST(WriteStateTest, IncrementalTakeDirtyAccumulatesToTheSameState) {
  Harness h;
  std::map<std::string, std::string> store;
  auto flush = [&] {
    Puts puts;
    h.state.TakeDirty(&puts);
    for (auto& [key, value] : puts) store[key] = value;
  };
  h.Must(Change("user:1", 100));
  flush();
  h.Must(Settle("o-1", 100, {BpsSplit("host", "commission", 333)}, "user:1"));
  flush();
  h.Must(Refund("o-1", "r-1", 10));
  h.Must(Campaign("c-1"));
  flush();
  h.Must(GrantVoucher{"c-1", "g-1", "user:2"});
  flush();
  WriteState loaded = LoadAll(Puts(store.begin(), store.end()));
  EXPECT_TRUE(loaded == h.state);
}

TEST(WriteStateTest, ReplayingTheLogReproducesTheState) {
  Harness h = Populated();
  WriteState replayed;
  for (const Event& event : h.events) replayed.Apply(event);
  EXPECT_TRUE(replayed == h.state);
}

TEST(WriteStateTest, EqualityComparesContents) {
  Harness a = Populated();
  Harness b = Populated();
  EXPECT_TRUE(a.state == b.state);
  b.Must(Change("user:9", 1));
  EXPECT_FALSE(a.state == b.state);
  Harness c = Populated();
  c.Must(TransferOf({Post("user:1", "user:2", 1)}));
  EXPECT_FALSE(a.state == c.state);
  Harness d = Populated();
  d.Must(GrantVoucher{"c-1", "g-2", "user:1"}, Client("shop-app"));
  EXPECT_FALSE(a.state == d.state);
  a.state.Clear();
  EXPECT_TRUE(a.state == WriteState());
  EXPECT_EQ(a.state.AccountCount(), 0u);
  EXPECT_TRUE(DirtyKeys(a.state).empty());
}

TEST(WriteStateTest, LoadRejectsCorruptEntries) {
  Harness h = Populated();
  Puts puts;
  h.state.TakeDirty(&puts);
  for (const auto& [key, value] : puts) {
    WriteState state;
    std::string bad_format = value;
    bad_format[0] = '\x7f';
    EXPECT_FALSE(state.Load(key, bad_format)) << key;
    for (std::size_t size = 0; size < value.size(); ++size) {
      Status status = state.Load(key, value.substr(0, size));
      ASSERT_FALSE(status) << key << " truncated to " << size;
      EXPECT_EQ(status.error().kind, ErrorKind::kCorruption);
      EXPECT_EQ(status.error().code, "state_corrupt");
    }
    EXPECT_FALSE(state.Load(key, value + '\0')) << key;
    EXPECT_TRUE(state.Load(key, value)) << key;
  }
  WriteState state;
  std::string account_value;
  for (const auto& [key, value] : puts) {
    if (key == "a/user:1") account_value = value;
  }
  ASSERT_FALSE(account_value.empty());
  EXPECT_FALSE(state.Load("x/user:1", account_value));
  EXPECT_FALSE(state.Load("a/", account_value));
  EXPECT_FALSE(state.Load("a", account_value));
  EXPECT_FALSE(state.Load("", account_value));
  std::string bad_flags = account_value;
  bad_flags[1] = '\xff';
  EXPECT_FALSE(state.Load("a/user:1", bad_flags));
  std::string counter("\x01\x01\0\0\0\0\0\0\0", 9);
  EXPECT_TRUE(state.Load("t", counter));
  EXPECT_TRUE(state.Load(std::string("g/c\0u", 5), counter));
  EXPECT_FALSE(state.Load("g/cu", counter));
  EXPECT_FALSE(state.Load(std::string("g/\0u", 4), counter));
  EXPECT_FALSE(state.Load(std::string("g/c\0", 4), counter));
}

TEST(WriteStateTest, LoadRejectsAProtectedNegativeBalance) {
  Harness h;
  h.Must(Change("external:x", -5));
  Puts puts;
  h.state.TakeDirty(&puts);
  for (const auto& [key, value] : puts) {
    if (key != "a/external:x") continue;
    WriteState state;
    EXPECT_TRUE(state.Load(key, value));
    std::string protected_value = value;
    protected_value[1] = 0;  // Clear allow_negative.
    EXPECT_FALSE(state.Load(key, protected_value));
  }
}

// --- Broken invariants panic -----------------------------------------------------------------

Event Wrap(const WriteState& state, std::string stream, std::vector<Posting> postings,
           Payload payload) {
  return testing::ToEvent(state,
                          Decision{std::move(stream), std::move(postings), std::move(payload)}, 1,
                          Client(), testing::kNow);
}

TEST(WriteStateDeathTest, ApplyPanicsOnBrokenInvariants) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  WriteState state;
  AssetChanged changed{"user:1", "USD", -5, "external:bank", "bank", "", ""};
  Event overdraft = Wrap(state, "account/user:1", {Post("user:1", "external:bank", 5)}, changed);
  EXPECT_DEATH(state.Apply(overdraft), "assertion failed");

  Event credit = Wrap(state, "account/user:1", {Post("external:bank", "user:1", 5)}, changed);
  Event wrong_version = credit;
  wrong_version.envelope.stream_version = 2;
  EXPECT_DEATH(state.Apply(wrong_version), "assertion failed");
  Event wrong_stream = credit;
  wrong_stream.envelope.stream = "account/user:2";
  EXPECT_DEATH(state.Apply(wrong_stream), "assertion failed");

  state.Apply(credit);
  Event opened = Wrap(state, "account/user:1", {}, AccountOpened{"user:1", false, false, {}});
  EXPECT_DEATH(state.Apply(opened), "assertion failed");
  Event overflow =
      Wrap(state, "account/user:1",
           {Post("external:bank", "user:1", std::numeric_limits<std::int64_t>::max())}, changed);
  EXPECT_DEATH(state.Apply(overflow), "assertion failed");
  Event refund_unknown =
      Wrap(state, "order/o-1", {}, OrderRefunded{"o-1", "r-1", "m", "p", "USD", 1, 1, {}});
  EXPECT_DEATH(state.Apply(refund_unknown), "assertion failed");
}

// --- Randomized invariants -------------------------------------------------------------------

class RandomCommands {
 public:
  explicit RandomCommands(unsigned long long seed) : random_(seed) {}

  CommandBody Next() {
    switch (Pick(9)) {
      case 0:
        return OpenAccount{Account(), Pick(4) == 0, Pick(6) == 0, {}};
      case 1: {
        ChangeAsset change = Change(Account(), Amount() * (Pick(2) == 0 ? 1 : -1), Asset(),
                                    Pick(2) == 0 ? "bank" : "psp");
        if (Pick(4) == 0) change.counterparty = Account();
        return change;
      }
      case 2: {
        Transfer transfer;
        for (int i = 0, n = 1 + Pick(3); i < n; ++i) {
          transfer.postings.push_back(Post(Account(), Account(), Amount(), Asset()));
        }
        return transfer;
      }
      case 3:
        return SettleCommand();
      case 4:
        return Refund(Order(), "r-" + std::to_string(Pick(1000)), Amount());
      case 5:
        return PayOut{"po-" + std::to_string(Pick(1000)),
                      Account(),
                      Asset(),
                      Amount(),
                      "iban-1",
                      std::nullopt};
      case 6: {
        CreateCampaign campaign =
            Campaign("c-" + std::to_string(Pick(3)), 1 + Pick(5), 1 + Pick(2));
        if (Pick(2) == 0) campaign.funding_account = Account();
        return campaign;
      }
      case 7:
        return GrantVoucher{"c-" + std::to_string(Pick(3)), "g", Account()};
      default:
        return RedeemVoucher{"c-" + std::to_string(Pick(3)), "rd", Account(), ""};
    }
  }

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(random_); }
  std::string Account() {
    static const char* const kAccounts[] = {"user:1",       "user:2",     "user:3",
                                            "merchant:1",   "merchant:2", "external:bank",
                                            "external:psp", "host:1"};
    return kAccounts[Pick(8)];
  }
  std::string Asset() { return Pick(3) == 0 ? "EUR" : "USD"; }
  std::string Order() { return "o-" + std::to_string(Pick(6)); }
  std::int64_t Amount() {
    // Mostly small, sometimes huge to reach the overflow checks.
    if (Pick(50) == 0) return std::numeric_limits<std::int64_t>::max() - Pick(3);
    return 1 + Pick(Pick(4) == 0 ? 100000 : 500);
  }
  SettleOrder SettleCommand() {
    std::vector<Split> splits;
    for (int i = 0, n = Pick(4); i < n; ++i) {
      std::string to = Pick(2) == 0 ? "host:1" : "user:3";
      if (Pick(2) == 0) {
        splits.push_back(BpsSplit(to, "commission", 1 + Pick(4000)));
      } else {
        splits.push_back(AmountSplit(to, "platform_share", 1 + Pick(300)));
      }
    }
    SettleOrder settle =
        Settle(Order(), Amount(), splits, Pick(2) == 0 ? "user:1" : "external:psp");
    settle.merchant = Pick(2) == 0 ? "merchant:1" : "merchant:2";
    return settle;
  }

  std::mt19937_64 random_;
};

TEST(WriteStateRandomTest, DoubleEntryAndNoOverdraftUnderRandomCommands) {
  unsigned long long seed = ledger::testing::TestSeed();
  RandomCommands commands(seed);
  Harness h;
  std::map<std::string, std::string> store;
  std::map<std::string, int> outcomes;
  for (int step = 0; step < 20000; ++step) {
    Result<Event> result = h.Run(commands.Next(), Client("shop-app"));
    outcomes[result ? "accepted" : result.error().code] += 1;
    for (const char* asset : {"USD", "EUR", "COUPON"}) {
      ASSERT_EQ(h.state.AssetSum(asset), 0) << "seed " << seed << " step " << step;
    }
    if (step % 97 == 0) {
      Puts puts;
      h.state.TakeDirty(&puts);
      for (auto& [key, value] : puts) store[key] = value;
    }
  }
  for (const auto& [id, account] : h.state.accounts()) {
    for (const AssetBalance& balance : account.balances) {
      ASSERT_TRUE(account.allow_negative || balance.balance >= 0) << id << " seed " << seed;
    }
  }
  Puts puts;
  h.state.TakeDirty(&puts);
  for (auto& [key, value] : puts) store[key] = value;
  EXPECT_TRUE(LoadAll(Puts(store.begin(), store.end())) == h.state) << "seed " << seed;
  WriteState replayed;
  for (const Event& event : h.events) replayed.Apply(event);
  EXPECT_TRUE(replayed == h.state) << "seed " << seed;
  // The stream exercised both acceptance and the main rejections.
  EXPECT_GT(outcomes["accepted"], 1000) << "seed " << seed;
  EXPECT_GT(outcomes["insufficient_funds"], 0) << "seed " << seed;
  EXPECT_GT(outcomes["balance_overflow"], 0) << "seed " << seed;
}

}  // namespace
}  // namespace ledger::commands
