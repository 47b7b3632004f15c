// The holders projection: user ids, entering and leaving the bitmap, persistence by chunks and
// journal (compactions, restarts before and after them, a dropped compaction batch, corrupt
// entries), a dropped batch, and a seeded random workload checked against the accounts projection.
#include "projections/holders_projection.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <random>

#include "commands/sequencer.h"
#include "commands/write_state.h"
#include "projections/accounts_projection.h"
#include "projections/projection_runner.h"
#include "tests/support/temp_dir.h"

namespace ledger::projections {
namespace {

using commands::CommandBody;
using commands::CommandOutcome;

constexpr std::int64_t kWaitUs = 10'000'000;
constexpr std::uint32_t kRandomUsers = 200;
constexpr std::string_view kDirectoryKeyForTest = "d/chunks";  // See holders_projection.h.
constexpr std::string_view kJournalBoundsKeyForTest = "d/journal";
// Users of ChurnCommands, this far apart: about three per chunk of 65,536 ids.
constexpr std::uint32_t kChurnUsers = 24;
constexpr std::uint32_t kSpreadIdStride = 21'001;
// A journal limit small enough that a few dozen one-user batches compact several times.
constexpr std::size_t kSmallJournalBytes = 300;

// The "j/" key of journal entry `sequence`.
std::string JournalKey(std::uint64_t sequence) {
  std::string key = "j/";
  AppendBigEndian64(sequence, &key);
  return key;
}

TEST(HoldersUserIdTest, AcceptsOnlyCanonicalUserIds) {
  EXPECT_EQ(UserIdOf("user:0"), 0u);
  EXPECT_EQ(UserIdOf("user:7"), 7u);
  EXPECT_EQ(UserIdOf("user:65536"), 65536u);
  EXPECT_EQ(UserIdOf("user:4294967295"), 4294967295u);
  for (const char* rejected :
       {"user:4294967296", "user:99999999999", "user:01", "user:00", "user:-1", "user:+1",
        "user:", "user: 1", "user:1x", "user:1 ", "merchant:1", "User:1", "user1", "xuser:1", ""}) {
    EXPECT_EQ(UserIdOf(rejected), std::nullopt) << rejected;
  }
}

class HoldersProjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<std::string> families = {ColumnFamilyName(HoldersProjection::kName),
                                               ColumnFamilyName(AccountsProjection::kName)};
    auto store = Store::Open({.path = dir_.path(),
                              .extra_column_families = families,
                              .point_lookup_families = families});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    holders_family_ = store_->ColumnFamily(families[0]);
    accounts_family_ = store_->ColumnFamily(families[1]);
    ASSERT_NE(holders_family_, nullptr);
    ASSERT_NE(accounts_family_, nullptr);
    source_ = std::make_unique<StoreEventSource>(*store_);
    sequencer_ = std::make_unique<commands::Sequencer>(*store_, clock_, metrics_);
    ASSERT_TRUE(sequencer_->Start().has_value());
  }

  std::unique_ptr<ProjectionRunner> MakeRunner(Projection& projection,
                                               ProjectionRunnerOptions options = {}) {
    rocksdb::ColumnFamilyHandle* family =
        projection.Name() == HoldersProjection::kName ? holders_family_ : accounts_family_;
    return std::make_unique<ProjectionRunner>(*source_, *store_->db(), *family, projection,
                                              metrics_, std::move(options));
  }

  // Submits every command, in order, and waits for all outcomes; returns how many were accepted.
  int RunAll(std::vector<CommandBody> bodies) {
    std::atomic<int> accepted{0};
    std::atomic<std::size_t> pending{bodies.size()};
    std::promise<void> all_done;
    for (CommandBody& body : bodies) {
      commands::Command command{.context = {.client_id = "svc"}, .body = std::move(body)};
      auto submitted = sequencer_->Submit(std::move(command), [&](Result<CommandOutcome> outcome) {
        if (outcome) ++accepted;
        if (--pending == 0) all_done.set_value();
      });
      EXPECT_TRUE(submitted.has_value());
    }
    if (!bodies.empty()) all_done.get_future().wait();
    return accepted.load();
  }

  void Must(CommandBody body) { ASSERT_EQ(RunAll({std::move(body)}), 1); }

  static CommandBody Change(std::string account, std::string asset, std::int64_t amount) {
    return commands::ChangeAsset{.account = std::move(account),
                                 .asset = std::move(asset),
                                 .amount = amount,
                                 .source = "test",
                                 .reason = "r",
                                 .ref = "x"};
  }

  static CommandBody Move(std::string from, std::string to, std::string asset,
                          std::int64_t amount) {
    return commands::Transfer{
        .postings = {{std::move(from), std::move(to), std::move(asset), amount}}};
  }

  // Whether the accounts projection shows `account` with any non-zero balance.
  bool AccountsShowAssets(const std::string& account) {
    auto view = AccountsProjection::Read(*store_->db(), *accounts_family_, account);
    EXPECT_TRUE(view.has_value()) << account;
    if (!view || !view->account) return false;
    for (const auto& [asset, balance] : view->account->balances) {
      if (balance != 0) return true;
    }
    return false;
  }

  // The raw value of a holders view key, nullopt if absent.
  std::optional<std::string> RawHoldersValue(const std::string& key) {
    std::string value;
    rocksdb::Status status =
        store_->db()->Get(rocksdb::ReadOptions(), holders_family_, key, &value);
    EXPECT_TRUE(status.ok() || status.IsNotFound()) << status.ToString();
    if (!status.ok()) return std::nullopt;
    return value;
  }

  // Every user of an independent replay of the log up to `up_to` (the projection's position):
  // in the bitmap iff some balance is non-zero, and every stored balance equal to the replay's (a
  // double-applied event would differ).
  void ExpectMatchesReplay(const HoldersProjection& holders, std::size_t up_to = 1'000'000) {
    commands::WriteState reference;
    auto events = store_->ReadFrom(1, up_to);
    ASSERT_TRUE(events.has_value()) << events.error().message;
    for (const StoredEvent& stored : *events) reference.Apply(stored.event);
    std::uint64_t members = 0;
    for (const auto& [account, state] : reference.accounts()) {
      const auto user = UserIdOf(account);
      if (!user) continue;
      bool any = false;
      for (const auto& balance : state.balances) {
        any = any || balance.balance != 0;
        std::string key = "b/" + account;
        key.push_back('\0');
        key += balance.asset;
        const auto raw = RawHoldersValue(key);
        const std::int64_t stored =
            raw ? static_cast<std::int64_t>(ReadBigEndian64(raw->data())) : 0;
        EXPECT_EQ(stored, balance.balance) << account << " " << balance.asset;
      }
      EXPECT_EQ(holders.Check(*user).has_assets, any) << account;
      members += any ? 1 : 0;
    }
    EXPECT_EQ(holders.Cardinality(), members);
  }

  // The stored journal bounds ("d/journal"), decoded as holders_projection.h describes them.
  HoldersJournalBounds ReadJournalBounds() {
    const auto raw = RawHoldersValue(std::string(kJournalBoundsKeyForTest));
    if (!raw) return {};
    EXPECT_EQ(raw->size(), 25u);
    EXPECT_EQ((*raw)[0], '\1');
    if (raw->size() != 25) return {};
    return {.first = ReadBigEndian64(raw->data() + 1),
            .next = ReadBigEndian64(raw->data() + 9),
            .bytes = ReadBigEndian64(raw->data() + 17)};
  }

  // Loads a fresh projection from the store as it is; its status.
  Status LoadFresh() {
    HoldersProjection holders;
    return holders.Load(*store_->db(), *holders_family_);
  }

  void PutHoldersValue(const std::string& key, const std::string& value) {
    ASSERT_TRUE(store_->db()->Put(rocksdb::WriteOptions(), holders_family_, key, value).ok());
  }

  // `count` seeded commands over kRandomUsers users (a few allowed to go negative), assets CNY,
  // COIN and pts, and some accounts the holders projection ignores. Small amounts make balances
  // cross zero often; some debits are rejected.
  std::vector<CommandBody> RandomCommands(int count, std::mt19937_64& random) {
    std::uniform_int_distribution<std::uint32_t> user(0, kRandomUsers - 1);
    std::uniform_int_distribution<int> kind(0, 9);
    std::uniform_int_distribution<std::int64_t> amount(1, 3);
    const char* assets[] = {"CNY", "COIN", "pts"};
    std::vector<CommandBody> bodies;
    for (std::uint32_t negative : {3u, 77u, 150u}) {
      bodies.push_back(commands::OpenAccount{.account = "user:" + std::to_string(negative),
                                             .allow_negative = true});
    }
    for (int i = 0; i < count; ++i) {
      const std::string asset = assets[random() % 3];
      const std::string a = "user:" + std::to_string(user(random));
      const std::string b = "user:" + std::to_string(user(random));
      const int what = kind(random);
      if (what < 4) {
        bodies.push_back(Change(a, asset, amount(random)));
      } else if (what < 7) {
        bodies.push_back(Change(a, asset, -amount(random)));
      } else if (what < 9) {
        if (a != b) bodies.push_back(Move(a, b, asset, amount(random)));
      } else {
        // Accounts outside the bitmap: a merchant, a non-canonical user id.
        bodies.push_back(Move(a, random() % 2 ? "merchant:1" : "user:0" + std::to_string(i % 9),
                              asset, amount(random)));
      }
    }
    return bodies;
  }

  // `count` seeded commands over kChurnUsers users kSpreadIdStride apart: a credit of 1 CNY or,
  // half the time for a user who holds some, a debit of all of it (never rejected). Users enter
  // and leave the bitmap all the time and chunks empty and fill again.
  static std::vector<CommandBody> ChurnCommands(int count, std::mt19937_64& random) {
    std::vector<std::int64_t> balances(kChurnUsers);
    std::vector<CommandBody> bodies;
    for (int i = 0; i < count; ++i) {
      const std::uint32_t user = static_cast<std::uint32_t>(random() % kChurnUsers);
      const std::string account = "user:" + std::to_string(user * kSpreadIdStride);
      if (balances[user] > 0 && random() % 2 == 0) {
        bodies.push_back(Change(account, "CNY", -balances[user]));
        balances[user] = 0;
      } else {
        bodies.push_back(Change(account, "CNY", 1));
        ++balances[user];
      }
    }
    return bodies;
  }

  testing::TempDir dir_;
  ManualClock clock_{1'790'000'000'000'000};
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  rocksdb::ColumnFamilyHandle* holders_family_ = nullptr;
  rocksdb::ColumnFamilyHandle* accounts_family_ = nullptr;
  std::unique_ptr<StoreEventSource> source_;
  std::unique_ptr<commands::Sequencer> sequencer_;
};

TEST_F(HoldersProjectionTest, UserEntersAndLeavesAsBalancesCrossZero) {
  HoldersProjection holders;
  auto runner = MakeRunner(holders);
  ASSERT_TRUE(runner->Start().has_value());
  auto step = [&](CommandBody body) {
    Must(std::move(body));
    ASSERT_EQ(runner->WaitFor(store_->HeadPosition(), kWaitUs), store_->HeadPosition());
    ASSERT_EQ(holders.Position(), store_->HeadPosition());
  };
  EXPECT_EQ(holders.Check(7).has_assets, false);
  step(Change("user:7", "CNY", 5));
  EXPECT_EQ(holders.Check(7).has_assets, true);
  EXPECT_EQ(holders.Check(7).position, 1u);
  step(Change("user:7", "CNY", -2));
  EXPECT_TRUE(holders.Check(7).has_assets);
  step(Change("user:7", "CNY", -3));
  EXPECT_FALSE(holders.Check(7).has_assets);
  EXPECT_EQ(holders.Check(7).position, 3u);
  // Two assets: only both at zero removes the user.
  step(Change("user:9", "CNY", 4));
  step(Change("user:9", "COIN", 1));
  step(Change("user:9", "CNY", -4));
  EXPECT_TRUE(holders.Check(9).has_assets);
  step(Move("user:9", "user:10", "COIN", 1));
  EXPECT_FALSE(holders.Check(9).has_assets);
  EXPECT_TRUE(holders.Check(10).has_assets);
  // A negative balance is a non-zero asset.
  step(commands::OpenAccount{.account = "user:11", .allow_negative = true});
  step(Change("user:11", "CNY", -1));
  EXPECT_TRUE(holders.Check(11).has_assets);
  // Other accounts are ignored, and do not alias users.
  step(Change("merchant:1", "CNY", 5));
  step(Change("user:01", "CNY", 5));
  step(Change("user:4294967296", "CNY", 5));
  EXPECT_FALSE(holders.Check(1).has_assets);
  EXPECT_FALSE(holders.Check(0).has_assets);
  EXPECT_EQ(holders.Cardinality(), 2u);
  const std::vector<std::uint32_t> users = {7, 9, 10, 11, 1};
  std::uint64_t position = 0;
  EXPECT_EQ(holders.CheckMany(users, &position),
            (std::vector<bool>{false, false, true, true, false}));
  EXPECT_EQ(position, store_->HeadPosition());
  EXPECT_GT(holders.MemoryBytes(), 0u);
}

TEST_F(HoldersProjectionTest, RestartRebuildsTheSameBitmapAndPositionFromChunks) {
  // Members in several chunks (high 16 bits 0, 1, 2 and 65535); chunk 3 is emptied again.
  const std::vector<std::uint32_t> users = {0, 1, 65535, 65536, 131072, 196608, 4294967295u};
  std::vector<bool> before;
  std::uint64_t position = 0;
  {
    // No journal: every batch that changes the bitmap compacts, i.e. rewrites its chunks.
    HoldersProjection holders({.journal_entries_max = 0});
    auto runner = MakeRunner(holders, {.batch_events_max = 3});
    ASSERT_TRUE(runner->Start().has_value());
    for (std::uint32_t user : {0u, 65535u, 65536u, 131072u, 196608u, 4294967295u}) {
      Must(Change("user:" + std::to_string(user), "CNY", 10));
    }
    Must(Change("user:196608", "CNY", -10));
    ASSERT_EQ(runner->WaitFor(store_->HeadPosition(), kWaitUs), store_->HeadPosition());
    before = holders.CheckMany(users, &position);
    EXPECT_EQ(before, (std::vector<bool>{true, false, true, true, true, false, true}));
    EXPECT_EQ(position, store_->HeadPosition());
  }
  EXPECT_EQ(ReadJournalBounds().bytes, 0u);
  EXPECT_FALSE(RawHoldersValue(std::string("m/\0\3", 4)).has_value());  // Emptied: deleted.
  EXPECT_TRUE(RawHoldersValue(std::string("m/\0\2", 4)).has_value());
  EXPECT_TRUE(RawHoldersValue(std::string("m/\xff\xff", 4)).has_value());
  HoldersProjection restarted;
  auto runner = MakeRunner(restarted);
  ASSERT_TRUE(runner->Start().has_value());
  std::uint64_t restarted_position = 0;
  EXPECT_EQ(restarted.CheckMany(users, &restarted_position), before);
  EXPECT_EQ(restarted_position, position);
  EXPECT_EQ(restarted.Cardinality(), 5u);
  // It goes on from there: a new member and a member leaving.
  Must(Change("user:1", "CNY", 1));
  Must(Change("user:0", "CNY", -10));
  ASSERT_EQ(runner->WaitFor(store_->HeadPosition(), kWaitUs), store_->HeadPosition());
  EXPECT_TRUE(restarted.Check(1).has_assets);
  EXPECT_FALSE(restarted.Check(0).has_assets);
  EXPECT_EQ(restarted.Position(), store_->HeadPosition());
  ExpectMatchesReplay(restarted);
}

TEST_F(HoldersProjectionTest, DroppedBatchThenRestartNeitherLosesNorDoubleApplies) {
  const unsigned long long seed = testing::TestSeed();  // Prints itself.
  std::mt19937_64 random(seed);
  RunAll(RandomCommands(150, random));
  const std::uint64_t head = store_->HeadPosition();
  ASSERT_GT(head, 25u);
  HoldersProjection holders;
  int batches = 0;
  {
    auto crashing = MakeRunner(
        holders,
        {.batch_events_max = 10, .crash_before_write_for_testing = [&] { return ++batches == 2; }});
    auto caught_up = crashing->CatchUp();  // Writes batch 1, drops batch 2 and stops.
    ASSERT_TRUE(caught_up.has_value()) << caught_up.error().message;
    EXPECT_EQ(*caught_up, 10u);
    EXPECT_EQ(holders.Position(), 10u);  // The dropped batch was never published.
  }
  // The same projection object (its working bitmap saw batch 2) must not drift.
  auto runner = MakeRunner(holders, {.batch_events_max = 10});
  auto caught_up = runner->CatchUp();
  ASSERT_TRUE(caught_up.has_value()) << caught_up.error().message;
  EXPECT_EQ(*caught_up, head);
  EXPECT_EQ(holders.Position(), head);
  ExpectMatchesReplay(holders);
  // And a fresh process over the same store loads the same state.
  HoldersProjection restarted;
  auto restarted_runner = MakeRunner(restarted);
  ASSERT_TRUE(restarted_runner->CatchUp().has_value());
  EXPECT_EQ(restarted.Position(), head);
  ExpectMatchesReplay(restarted);
}

TEST_F(HoldersProjectionTest, RandomWorkloadMatchesTheAccountsProjection) {
  const unsigned long long seed = testing::TestSeed();  // Prints itself.
  std::mt19937_64 random(seed);
  HoldersProjection holders;
  AccountsProjection accounts;
  auto holders_runner = MakeRunner(holders, {.batch_events_max = 7});
  auto accounts_runner = MakeRunner(accounts);
  ASSERT_TRUE(holders_runner->Start().has_value());
  ASSERT_TRUE(accounts_runner->Start().has_value());
  for (int round = 0; round < 4; ++round) RunAll(RandomCommands(500, random));
  ASSERT_EQ(accounts_runner->WaitFor(store_->HeadPosition(), kWaitUs), store_->HeadPosition());
  // Bring the first users back to all-zero, so some certainly leave the bitmap.
  std::vector<CommandBody> zeroing;
  for (std::uint32_t user = 0; user < 30; ++user) {
    const std::string account = "user:" + std::to_string(user);
    auto view = AccountsProjection::Read(*store_->db(), *accounts_family_, account);
    ASSERT_TRUE(view.has_value());
    if (!view->account) continue;
    for (const auto& [asset, balance] : view->account->balances) {
      if (balance != 0) zeroing.push_back(Change(account, asset, -balance));
    }
  }
  EXPECT_EQ(RunAll(zeroing), static_cast<int>(zeroing.size()));
  const std::uint64_t head = store_->HeadPosition();
  ASSERT_EQ(holders_runner->WaitFor(head, kWaitUs), head);
  ASSERT_EQ(accounts_runner->WaitFor(head, kWaitUs), head);
  EXPECT_EQ(holders.Position(), holders_runner->Checkpoint());
  std::vector<std::uint32_t> users;
  std::uint64_t members = 0;
  for (std::uint32_t user = 0; user < kRandomUsers + 10; ++user) {
    const bool expected = AccountsShowAssets("user:" + std::to_string(user));
    const HoldersAnswer answer = holders.Check(user);
    EXPECT_EQ(answer.has_assets, expected) << "user:" << user << " seed=" << seed;
    EXPECT_EQ(answer.position, head);
    members += expected ? 1 : 0;
    users.push_back(user);
  }
  EXPECT_GT(members, 0u);
  for (std::uint32_t user = 0; user < 30; ++user) EXPECT_FALSE(holders.Check(user).has_assets);
  EXPECT_EQ(holders.Cardinality(), members);
  std::uint64_t position = 0;
  const std::vector<bool> many = holders.CheckMany(users, &position);
  EXPECT_EQ(position, head);
  for (std::size_t i = 0; i < users.size(); ++i) {
    EXPECT_EQ(many[i], holders.Check(users[i]).has_assets) << users[i];
  }
}

TEST_F(HoldersProjectionTest, JournalCompactsAndEveryRestartLoadsTheExpectedBitmap) {
  const unsigned long long seed = testing::TestSeed();  // Prints itself.
  std::mt19937_64 random(seed);
  int compactions = 0;
  const HoldersProjectionOptions small{.journal_bytes_min = kSmallJournalBytes,
                                       .on_compaction_for_testing = [&] { ++compactions; }};
  std::vector<CommandBody> bodies = ChurnCommands(240, random);
  int restarts_with_entries = 0;
  int restarts_right_after_compaction = 0;
  HoldersJournalBounds before;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    // One command at a time: each is a batch of its own, and a restart follows every batch.
    ASSERT_EQ(RunAll({std::move(bodies[i])}), 1);
    {
      HoldersProjection holders(small);
      auto runner = MakeRunner(holders);
      auto caught_up = runner->CatchUp();  // Load, then the new batch, written and published.
      ASSERT_TRUE(caught_up.has_value()) << caught_up.error().message;
      ASSERT_EQ(*caught_up, store_->HeadPosition());
      ExpectMatchesReplay(holders);
    }
    const HoldersJournalBounds bounds = ReadJournalBounds();
    if (bounds.first != before.first) {
      // Compacted: the entries are gone, the chunks hold everything.
      EXPECT_EQ(bounds.first, bounds.next);
      EXPECT_EQ(bounds.bytes, 0u);
      EXPECT_FALSE(RawHoldersValue(JournalKey(bounds.first - 1)).has_value());
      EXPECT_FALSE(RawHoldersValue(JournalKey(before.first)).has_value());
      ++restarts_right_after_compaction;
    } else if (bounds.next != bounds.first) {
      EXPECT_TRUE(RawHoldersValue(JournalKey(bounds.next - 1)).has_value());
      ++restarts_with_entries;
    }
    EXPECT_LE(bounds.bytes, kSmallJournalBytes);
    before = bounds;
    HoldersProjection restarted(small);
    ASSERT_TRUE(restarted.Load(*store_->db(), *holders_family_).has_value());
    EXPECT_EQ(restarted.Position(), store_->HeadPosition());
    ExpectMatchesReplay(restarted);
    if (HasFailure()) FAIL() << "after command " << i << ", seed=" << seed;
  }
  EXPECT_GE(compactions, 3);
  EXPECT_EQ(restarts_right_after_compaction, compactions);
  EXPECT_GT(restarts_with_entries, 2 * compactions);
}

TEST_F(HoldersProjectionTest, DroppedCompactionBatchThenRestartNeitherLosesNorDoubleApplies) {
  const unsigned long long seed = testing::TestSeed();  // Prints itself.
  std::mt19937_64 random(seed);
  ASSERT_EQ(RunAll(ChurnCommands(300, random)), 300);
  const std::uint64_t head = store_->HeadPosition();
  bool compacting = false;
  int compactions = 0;
  HoldersProjectionOptions options{.journal_bytes_min = kSmallJournalBytes,
                                   .on_compaction_for_testing = [&] { compacting = true; }};
  HoldersProjection holders(options);
  std::uint64_t dropped_after = 0;
  HoldersJournalBounds kept;
  {
    // Drops the batch of the second compaction (the first leaves chunks for it to rewrite).
    auto drop_second_compaction = [&] {
      const bool drop = compacting && ++compactions == 2;
      compacting = false;
      return drop;
    };
    auto crashing = MakeRunner(
        holders, {.batch_events_max = 3, .crash_before_write_for_testing = drop_second_compaction});
    auto caught_up = crashing->CatchUp();
    ASSERT_TRUE(caught_up.has_value()) << caught_up.error().message;
    ASSERT_EQ(compactions, 2) << "seed=" << seed;
    ASSERT_LT(*caught_up, head);
    dropped_after = *caught_up;
    EXPECT_EQ(holders.Position(), dropped_after);  // The dropped batch was never published.
    // Nothing of it was written: the journal since the first compaction is still there.
    kept = ReadJournalBounds();
    EXPECT_GT(kept.first, 0u);
    EXPECT_LT(kept.first, kept.next);
    EXPECT_TRUE(RawHoldersValue(std::string(kDirectoryKeyForTest)).has_value());
  }
  {
    // What a restart at that point loads: the chunks plus every kept entry.
    HoldersProjection loaded;
    ASSERT_TRUE(loaded.Load(*store_->db(), *holders_family_).has_value());
    EXPECT_EQ(loaded.Position(), dropped_after);
    ExpectMatchesReplay(loaded, dropped_after);
  }
  // The same projection object (its working bitmap and dirty chunks saw the dropped batch) goes
  // on from the stored state and compacts in that batch again.
  compacting = false;
  auto runner = MakeRunner(holders, {.batch_events_max = 3});
  auto caught_up = runner->CatchUp();
  ASSERT_TRUE(caught_up.has_value()) << caught_up.error().message;
  EXPECT_EQ(*caught_up, head);
  EXPECT_FALSE(RawHoldersValue(JournalKey(kept.first)).has_value());
  EXPECT_GT(ReadJournalBounds().first, kept.first);
  EXPECT_EQ(holders.Position(), head);
  ExpectMatchesReplay(holders);
  HoldersProjection restarted;
  ASSERT_TRUE(restarted.Load(*store_->db(), *holders_family_).has_value());
  EXPECT_EQ(restarted.Position(), head);
  ExpectMatchesReplay(restarted);
}

TEST_F(HoldersProjectionTest, LoadRejectsAMissingUndecodableOrInconsistentJournal) {
  {
    HoldersProjection writer;
    auto runner = MakeRunner(writer, {.batch_events_max = 1});
    for (std::uint32_t user : {1u, 2u, 3u, 4u, 70'000u}) {
      Must(Change("user:" + std::to_string(user), "CNY", 5));
    }
    ASSERT_TRUE(runner->CatchUp().has_value());
  }
  // Five batches, five entries, and no chunk written yet.
  const HoldersJournalBounds bounds = ReadJournalBounds();
  ASSERT_EQ(bounds.first, 0u);
  ASSERT_EQ(bounds.next, 5u);
  EXPECT_FALSE(RawHoldersValue(std::string(kDirectoryKeyForTest)).has_value());
  EXPECT_FALSE(RawHoldersValue(std::string("m/\0\0", 4)).has_value());
  const std::string middle = JournalKey(2);
  const std::optional<std::string> original = RawHoldersValue(middle);
  ASSERT_TRUE(original.has_value());
  auto expect_corruption = [&](const char* what) {
    const Status loaded = LoadFresh();
    ASSERT_FALSE(loaded.has_value()) << what;
    EXPECT_EQ(loaded.error().kind, ErrorKind::kCorruption) << what;
  };
  ASSERT_TRUE(LoadFresh().has_value());
  ASSERT_TRUE(store_->db()->Delete(rocksdb::WriteOptions(), holders_family_, middle).ok());
  expect_corruption("missing entry");
  PutHoldersValue(middle, "not a journal entry");
  expect_corruption("undecodable entry");
  PutHoldersValue(middle, original->substr(0, original->size() - 1));
  expect_corruption("truncated entry");
  PutHoldersValue(middle, *original + "x");
  expect_corruption("trailing byte");
  PutHoldersValue(middle, *RawHoldersValue(JournalKey(1)));  // user:2 enters a second time.
  expect_corruption("entry that does not follow");
  PutHoldersValue(middle, *original);
  {
    HoldersProjection restored;
    ASSERT_TRUE(restored.Load(*store_->db(), *holders_family_).has_value());
    EXPECT_EQ(restored.Cardinality(), 5u);
    EXPECT_TRUE(restored.Check(70'000).has_assets);
  }
  auto put_bounds = [&](std::uint64_t first, std::uint64_t next, std::uint64_t bytes) {
    std::string value(1, '\1');
    AppendBigEndian64(first, &value);
    AppendBigEndian64(next, &value);
    AppendBigEndian64(bytes, &value);
    PutHoldersValue(std::string(kJournalBoundsKeyForTest), value);
  };
  put_bounds(0, 6, bounds.bytes);
  expect_corruption("range past the last entry");
  put_bounds(0, 5, bounds.bytes + 1);
  expect_corruption("sizes that do not add up");
  put_bounds(5, 4, 0);
  expect_corruption("first after next");
  PutHoldersValue(std::string(kJournalBoundsKeyForTest), "\1short");
  expect_corruption("undecodable bounds");
  put_bounds(0, 5, bounds.bytes);
  EXPECT_TRUE(LoadFresh().has_value());
}

TEST_F(HoldersProjectionTest, LoadRejectsUndecodableOrForeignChunks) {
  auto put = [&](const std::string& key, const std::string& value) {
    ASSERT_TRUE(store_->db()->Put(rocksdb::WriteOptions(), holders_family_, key, value).ok());
  };
  auto expect_corruption = [&] {
    HoldersProjection holders;
    auto runner = MakeRunner(holders);
    auto started = runner->Start();
    ASSERT_FALSE(started.has_value());
    EXPECT_EQ(started.error().kind, ErrorKind::kCorruption);
  };
  const std::string directory("\1\0\0", 3);  // Lists chunk 0.
  const std::string chunk0("m/\0\0", 4);
  put(std::string(kDirectoryKeyForTest), directory);
  expect_corruption();  // Listed but missing.
  put(chunk0, "not a bitmap");
  expect_corruption();
  Roaring foreign;
  foreign.add(70'000);  // Chunk 1's id stored under chunk 0.
  std::string bytes(foreign.getSizeInBytes(), '\0');
  foreign.write(bytes.data());
  put(chunk0, bytes);
  expect_corruption();
  put(std::string(kDirectoryKeyForTest), std::string("\1\0\0\0\0", 5));  // Not ascending.
  expect_corruption();
}

}  // namespace
}  // namespace ledger::projections
