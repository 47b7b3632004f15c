// ledger-replay verify: a good log passes; damage to the stored log or its indexes is detected
// and located at the exact position; a live data dir verifies while a writer keeps appending.
#include <atomic>
#include <thread>

#include "replay/audit.h"
#include "tests/replay/replay_fixture.h"

namespace ledger::replay::testing {
namespace {

class VerifyTest : public ReplayTest {
 protected:
  void SetUp() override {
    ReplayTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Populate());
    head_ = store_->HeadPosition();
    ASSERT_EQ(head_, 26u);
  }

  // Verify fails with exit code 1 at exactly `position`, saying `what`.
  void ExpectFailsAt(std::uint64_t position, std::string_view what) {
    VerbResult result = Verify();
    std::fprintf(stderr, "%s", result.out.c_str());  // What an auditor would read.
    EXPECT_EQ(result.exit_code, kExitFinding) << result.out;
    EXPECT_NE(result.out.find("FAILED at position " + std::to_string(position) + ":"),
              std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find(what), std::string::npos) << result.out;
  }

  std::uint64_t head_ = 0;
};

TEST_F(VerifyTest, PassesOnAGoodLog) {
  Close();
  VerbResult result = Verify();
  EXPECT_EQ(result.exit_code, kExitOk) << result.out;
  EXPECT_NE(result.out.find("OK: " + std::to_string(head_) + " events verified"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("asset CNY: balances sum to 0"), std::string::npos) << result.out;

  VerbResult json = RunVerb(&RunVerify, {"--data", dir_.path(), "--json"});
  EXPECT_EQ(json.exit_code, kExitOk);
  rapidjson::Document document;
  ASSERT_FALSE(document.Parse(json.out.c_str()).HasParseError()) << json.out;
  EXPECT_TRUE(document["ok"].GetBool());
  EXPECT_EQ(document["events"].GetUint64(), head_);
  EXPECT_EQ(document["head_position"].GetUint64(), head_);
}

TEST_F(VerifyTest, UsageAndMissingData) {
  EXPECT_EQ(RunVerb(&RunVerify, {}).exit_code, kExitUsage);
  EXPECT_EQ(RunVerb(&RunVerify, {"--data"}).exit_code, kExitUsage);
  EXPECT_EQ(RunVerb(&RunVerify, {"--data", dir_.path(), "--bogus"}).exit_code, kExitUsage);
  EXPECT_EQ(RunVerb(&RunVerify, {"--data", dir_.Sub("nothing-here")}).exit_code, kExitCannotRun);
}

TEST_F(VerifyTest, LocatesAFlippedByteInsideAStoredEvent) {
  // The last event last: with it damaged, only an audit open (which skips the head check) works.
  for (std::uint64_t position : {std::uint64_t{1}, std::uint64_t{17}, head_}) {
    Tamper([&](rocksdb::DB& db, Store& store) {
      std::string value = Get(store, "events", Key(position));
      // Inside the Cap'n Proto bytes (past the 32-byte hash and the 8-byte segment table).
      value[value.size() - 20] ^= 0x01;
      ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), store.ColumnFamily("events"), Key(position),
                         value)
                      .ok());
    });
    ExpectFailsAt(position, "stored hash is not SHA-256");
    if (position == head_) break;
    Tamper([&](rocksdb::DB& db, Store& store) {  // Undo, for the next round.
      std::string value = Get(store, "events", Key(position));
      value[value.size() - 20] ^= 0x01;
      ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), store.ColumnFamily("events"), Key(position),
                         value)
                      .ok());
    });
    EXPECT_EQ(Verify().exit_code, kExitOk) << "after restoring " << position;
  }
}

TEST_F(VerifyTest, LocatesAFlippedByteInAStoredHash) {
  Tamper([&](rocksdb::DB& db, Store& store) {
    std::string value = Get(store, "events", Key(9));
    value[3] ^= 0x80;
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), store.ColumnFamily("events"), Key(9), value).ok());
  });
  ExpectFailsAt(9, "stored hash is not SHA-256");
}

TEST_F(VerifyTest, LocatesADeletedEvent) {
  Tamper([&](rocksdb::DB& db, Store& store) {
    ASSERT_TRUE(db.Delete(rocksdb::WriteOptions(), store.ColumnFamily("events"), Key(12)).ok());
  });
  ExpectFailsAt(12, "missing from the log (the next stored event is 13)");
}

TEST_F(VerifyTest, LocatesADeletedLastEvent) {
  Tamper([&](rocksdb::DB& db, Store& store) {
    ASSERT_TRUE(db.Delete(rocksdb::WriteOptions(), store.ColumnFamily("events"), Key(head_)).ok());
  });
  ExpectFailsAt(head_, "meta's head is " + std::to_string(head_));
}

TEST_F(VerifyTest, LocatesAnEventPastMetasHead) {
  Tamper([&](rocksdb::DB& db, Store& store) {
    auto before_last = store.Read(head_ - 1);
    ASSERT_TRUE(before_last.has_value());
    std::string head = Key(head_ - 1);
    const Hash& hash = before_last->event.envelope.hash;
    head.append(reinterpret_cast<const char*>(hash.data()), hash.size());
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), store.ColumnFamily("meta"), "head", head).ok());
  });
  ExpectFailsAt(head_, "it is past meta's head " + std::to_string(head_ - 1));
}

TEST_F(VerifyTest, LocatesASwappedPairOfEvents) {
  Tamper([&](rocksdb::DB& db, Store& store) {
    const std::string first = Get(store, "events", Key(20));
    const std::string second = Get(store, "events", Key(21));
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), store.ColumnFamily("events"), Key(20), second).ok());
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), store.ColumnFamily("events"), Key(21), first).ok());
  });
  ExpectFailsAt(20, "stored under position 20 but is event 21");
}

TEST_F(VerifyTest, LocatesADeletedStreamIndexEntry) {
  std::string stream_key;
  Tamper([&](rocksdb::DB& db, Store& store) {
    auto event = store.Read(15);
    ASSERT_TRUE(event.has_value());
    stream_key = event->event.envelope.stream + std::string(1, '\0');
    AppendBigEndian64(event->event.envelope.stream_version, &stream_key);
    ASSERT_TRUE(db.Delete(rocksdb::WriteOptions(), store.ColumnFamily("streams"), stream_key).ok());
  });
  ExpectFailsAt(15, "it has no stream index entry");
}

TEST_F(VerifyTest, LocatesAStreamIndexEntryPointingAtAnotherEvent) {
  Tamper([&](rocksdb::DB& db, Store& store) {
    auto event = store.Read(15);
    ASSERT_TRUE(event.has_value());
    std::string key = event->event.envelope.stream + std::string(1, '\0');
    AppendBigEndian64(event->event.envelope.stream_version, &key);
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), store.ColumnFamily("streams"), key, Key(14)).ok());
  });
  // Event 14 now has two entries (its own and 15's); 15 has none.
  ExpectFailsAt(14, "more than one stream index entry points at it");
}

TEST_F(VerifyTest, LocatesAMissingOrStrayIdempotencyRecord) {
  std::string key;
  Tamper([&](rocksdb::DB& db, Store& store) {
    auto event = store.Read(5);
    ASSERT_TRUE(event.has_value());
    key = event->event.envelope.idempotency_key;
    ASSERT_FALSE(key.empty());
    ASSERT_TRUE(db.Delete(rocksdb::WriteOptions(), store.ColumnFamily("idempotency"), key).ok());
  });
  ExpectFailsAt(5, "it has no idempotency record");
  Tamper([&](rocksdb::DB& db, Store& store) {
    std::string record(32, 'f');
    AppendBigEndian64(5, &record);
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), store.ColumnFamily("idempotency"), key, record).ok());
    EXPECT_EQ(Verify().exit_code, kExitOk);
    AppendBigEndian64(head_ + 5, &record);
    record.erase(32, 8);
    ASSERT_TRUE(
        db.Put(rocksdb::WriteOptions(), store.ColumnFamily("idempotency"), "key/svc|stray", record)
            .ok());
  });
  ExpectFailsAt(head_ + 5, "past the last event");
}

TEST_F(VerifyTest, VerifiesALiveDataDirWhileAWriterAppends) {
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      auto event = TryRun(commands::Transfer{.postings = {{"user:4", "user:1", "CNY", 1}}},
                          "live-" + std::to_string(i));
      if (!event) break;
      appended.fetch_add(1);
    }
  });
  for (int round = 0; round < 5; ++round) {
    const int before = appended.load();
    VerbResult result = RunVerb(&RunVerify, {"--data", dir_.path(), "--json"});
    EXPECT_EQ(result.exit_code, kExitOk) << result.out;
    rapidjson::Document document;
    ASSERT_FALSE(document.Parse(result.out.c_str()).HasParseError()) << result.out;
    EXPECT_GE(document["events"].GetUint64(), head_ + static_cast<std::uint64_t>(before));
  }
  stop = true;
  writer.join();
  EXPECT_GT(appended.load(), 0);
}

}  // namespace
}  // namespace ledger::replay::testing
