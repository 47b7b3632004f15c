#include "ledger/store.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>

#include "ledger/event_codec.h"
#include "ledger/schema/events.capnp.h"
#include "tests/support/temp_dir.h"

namespace ledger {
namespace {

// The root of a stored event (tests only; copies into aligned words).
schema::Event::Reader ReadRoot(const std::string& bytes) {
  static thread_local std::vector<capnp::word> words;
  words = std::vector<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.data(), bytes.data(), bytes.size());
  static thread_local std::unique_ptr<capnp::FlatArrayMessageReader> reader;
  reader = std::make_unique<capnp::FlatArrayMessageReader>(
      kj::ArrayPtr<const capnp::word>(words.data(), words.size()));
  return reader->getRoot<schema::Event>();
}

Event MakeEvent(std::uint64_t position, std::string account, std::int64_t amount) {
  Event event;
  event.envelope.position = position;
  event.envelope.stream = "account/" + account;
  event.envelope.stream_version = 1;
  event.envelope.type = EventType::kAssetChanged;
  event.envelope.recorded_at_us = 1'700'000'000'000'000 + static_cast<std::int64_t>(position);
  event.envelope.client_id = "tester";
  event.envelope.idempotency_key = "key/tester/" + std::to_string(position);
  event.postings.push_back(Posting{"external:bank", account, "CNY", amount});
  event.payload = AssetChanged{account, "CNY", amount, "external:bank", "bank", "deposit", "r1"};
  return event;
}

std::unique_ptr<Store> OpenStore(const std::string& path) {
  auto store = Store::Open(StoreOptions{.path = path});
  EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
  return std::move(*store);
}

// Appends `count` events in one committed batch and returns their hashes.
void AppendEvents(Store& store, int count) {
  AppendBatch batch = store.NewBatch();
  for (int i = 0; i < count; ++i) {
    Event event = MakeEvent(store.HeadPosition() + static_cast<std::uint64_t>(i) + 1,
                            "user:" + std::to_string(i), 100 + i);
    batch.AddEvent(event, Sha256("fingerprint"));
  }
  ASSERT_TRUE(store.Commit(batch).has_value());
}

TEST(EventCodecTest, RoundTripsEveryPayload) {
  std::vector<Payload> payloads = {
      AccountOpened{"user:1", true, false, {{"tier", "gold"}}},
      AssetChanged{"user:1", "CNY", -5, "external:x", "x", "why", "ref"},
      Transferred{"ref", {{"a", "b"}}},
      OrderSettled{"o1", "merchant:1", "user:1", "CNY", 10000,
                   {{"host:1", "host_commission", 1000, 1000}, {"merchant:1", "merchant", 9000, -1}},
                   42},
      OrderRefunded{"o1", "r1", "merchant:1", "user:1", "CNY", 100, 100,
                    {{"host:1", "host_commission", 10, 1000}}},
      MerchantPaidOut{"p1", "merchant:1", "CNY", 9000, "6222"},
      CampaignCreated{"c1", CampaignKind::kBalance, "CNY", 500, 10, 1, 1, 2, "external:mkt", "ops"},
      VoucherGranted{"c1", "g1", "user:1", "CNY", 500},
      VoucherRedeemed{"c1", "d1", "user:1", "o9", "CNY", 500}};
  for (const Payload& payload : payloads) {
    Event event = MakeEvent(7, "user:1", 5);
    event.payload = payload;
    event.envelope.type = PayloadType(payload);
    event.envelope.hash = Sha256("h");
    std::string bytes;
    EncodeEvent(event, &bytes);
    auto decoded = DecodeEvent(bytes, event.envelope.hash);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
    EXPECT_EQ(*decoded, event) << EventTypeName(event.envelope.type);
    std::string again;
    EncodeEvent(*decoded, &again);
    EXPECT_EQ(again, bytes) << "canonical encoding must be deterministic";
    // The same bytes as Cap'n Proto's own canonicalize() (after the 8-byte segment table).
    capnp::MallocMessageBuilder message;
    message.setRoot(ReadRoot(bytes));
    kj::Array<capnp::word> reference = capnp::canonicalize(message.getRoot<schema::Event>().asReader());
    auto reference_bytes = reference.asBytes();
    EXPECT_EQ(bytes.substr(8), std::string(reinterpret_cast<const char*>(reference_bytes.begin()),
                                           reference_bytes.size()));
  }
}

TEST(EventCodecTest, RejectsGarbageWithoutCrashing) {
  Hash hash{};
  EXPECT_FALSE(DecodeEvent("", hash).has_value());
  EXPECT_FALSE(DecodeEvent(std::string(16, '\xff'), hash).has_value());
  std::string bytes;
  EncodeEvent(MakeEvent(1, "user:1", 5), &bytes);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
    (void)DecodeEvent(flipped, hash);  // Must not crash; may or may not decode.
  }
  EXPECT_EQ(DecodeEvent(bytes + std::string(8, '\0'), hash).error().code, "corruption");
}

TEST(StoreTest, AppendsReadsAndChainsAcrossRestart) {
  testing::TempDir dir;
  Hash head_before_restart;
  {
    auto store = OpenStore(dir.path());
    EXPECT_EQ(store->HeadPosition(), 0u);
    AppendEvents(*store, 3);
    AppendEvents(*store, 2);
    EXPECT_EQ(store->HeadPosition(), 5u);
    head_before_restart = store->HeadHash();
  }
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->HeadPosition(), 5u);
  EXPECT_EQ(store->HeadHash(), head_before_restart);
  AppendEvents(*store, 1);
  auto events = store->ReadFrom(1, 100);
  ASSERT_TRUE(events.has_value()) << events.error().message;
  ASSERT_EQ(events->size(), 6u);
  Hash prev{};
  for (std::size_t i = 0; i < events->size(); ++i) {
    const Event& event = (*events)[i].event;
    EXPECT_EQ(event.envelope.position, i + 1);
    EXPECT_EQ(event.envelope.prev_hash, prev);
    EXPECT_EQ(ChainHash(prev, (*events)[i].bytes), event.envelope.hash);
    prev = event.envelope.hash;
  }
  EXPECT_EQ((*events)[5].event.envelope.prev_hash, head_before_restart);
}

TEST(StoreTest, ReadsPagesStreamsAndIdempotency) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  AppendEvents(*store, 10);
  auto page = store->ReadFrom(4, 3);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ(page->front().event.envelope.position, 4u);
  EXPECT_TRUE(store->ReadFrom(11, 5)->empty());
  EXPECT_EQ(store->Read(11).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(store->Read(0).error().kind, ErrorKind::kNotFound);
  auto stream = store->ReadStream("account/user:2", 1, 10);
  ASSERT_TRUE(stream.has_value());
  ASSERT_EQ(stream->size(), 1u);
  EXPECT_EQ(stream->front().event.envelope.position, 3u);
  auto record = store->GetIdempotency("key/tester/7");
  ASSERT_TRUE(record.has_value() && record->has_value());
  EXPECT_EQ((*record)->position, 7u);
  EXPECT_EQ((*record)->fingerprint, Sha256("fingerprint"));
  EXPECT_FALSE(store->GetIdempotency("key/tester/77")->has_value());
}

TEST(StoreTest, DetectsAFlippedByteOnRead) {
  testing::TempDir dir;
  {
    auto store = OpenStore(dir.path());
    AppendEvents(*store, 5);
    rocksdb::ColumnFamilyHandle* events = store->ColumnFamily("events");
    std::string key;
    AppendBigEndian64(3, &key);
    std::string value;
    ASSERT_TRUE(store->db()->Get(rocksdb::ReadOptions(), events, key, &value).ok());
    value[value.size() - 5] = static_cast<char>(value[value.size() - 5] ^ 1);
    ASSERT_TRUE(store->db()->Put(rocksdb::WriteOptions(), events, key, value).ok());
  }
  auto store = OpenStore(dir.path());
  auto events = store->ReadFrom(1, 10);
  ASSERT_FALSE(events.has_value());
  EXPECT_EQ(events.error().kind, ErrorKind::kCorruption);
  EXPECT_NE(events.error().message.find("event 3"), std::string::npos) << events.error().message;
  auto raw = store->ReadRawFrom(2, 10);
  ASSERT_FALSE(raw.has_value());
  EXPECT_EQ(raw.error().kind, ErrorKind::kCorruption);
  EXPECT_NE(raw.error().message.find("event 3"), std::string::npos) << raw.error().message;
  // Reading from after the damaged event still checks the link to it: the stored hash of
  // event 3 is intact, so event 4 links.
  auto after = store->ReadRawFrom(4, 10);
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_EQ(after->size(), 2u);
}

// The raw read gives ReadFrom's bytes, hashes and types, from any position.
TEST(StoreTest, ReadRawFromMatchesReadFrom) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  AppendEvents(*store, 7);
  for (std::uint64_t from : {1u, 4u, 7u}) {
    auto decoded = store->ReadFrom(from, 3);
    auto raw = store->ReadRawFrom(from, 3);
    ASSERT_TRUE(decoded.has_value() && raw.has_value());
    ASSERT_EQ(raw->size(), decoded->size());
    for (std::size_t i = 0; i < raw->size(); ++i) {
      EXPECT_EQ((*raw)[i].position, (*decoded)[i].event.envelope.position);
      EXPECT_EQ((*raw)[i].type, (*decoded)[i].event.envelope.type);
      EXPECT_EQ((*raw)[i].hash, (*decoded)[i].event.envelope.hash);
      EXPECT_EQ((*raw)[i].bytes, (*decoded)[i].bytes);
    }
  }
  EXPECT_TRUE(store->ReadRawFrom(8, 3)->empty());
  auto peeked = PeekEvent((*store->ReadRawFrom(5, 1))[0].bytes);
  ASSERT_TRUE(peeked.has_value());
  EXPECT_EQ(peeked->position, 5u);
  EXPECT_EQ(peeked->prev_hash, (*store->ReadRawFrom(4, 1))[0].hash);
  EXPECT_FALSE(PeekEvent("not an event").has_value());
}

TEST(StoreTest, WaitForHeadWakesOnCommit) {
  testing::TempDir dir;
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->WaitForHeadAbove(0, 1000), 0u);
  std::thread writer([&] { AppendEvents(*store, 1); });
  EXPECT_EQ(store->WaitForHeadAbove(0, 10'000'000), 1u);
  writer.join();
}

TEST(StoreTest, LedgerIdIsChosenOnceAndKept) {
  testing::TempDir dir;
  std::string id;
  {
    auto store = OpenStore(dir.path());
    id = store->LedgerId();
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  }
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->LedgerId(), id);
  testing::TempDir other;
  EXPECT_NE(OpenStore(other.path())->LedgerId(), id);
  // Only an empty log may adopt another id (a replica adopting its writer's).
  auto adopted = store->SetLedgerId(std::string(32, 'a'));
  ASSERT_TRUE(adopted.has_value()) << adopted.error().message;
  EXPECT_EQ(store->LedgerId(), std::string(32, 'a'));
  EXPECT_EQ(store->SetLedgerId("not-hex").error().code, "invalid_ledger_id");
  AppendEvents(*store, 1);
  EXPECT_EQ(store->SetLedgerId(std::string(32, 'b')).error().code, "ledger_not_empty");
}

// A replica's copy of the log: the same bytes and hashes, and nothing that breaks the chain.
TEST(StoreTest, AddReplicatedCopiesTheLogAndRefusesWhatBreaksTheChain) {
  testing::TempDir dir;
  auto source = OpenStore(dir.Sub("source"));
  AppendEvents(*source, 5);
  auto events = source->ReadFrom(1, 10);
  ASSERT_TRUE(events.has_value());
  auto copy = OpenStore(dir.Sub("copy"));
  {
    AppendBatch batch = copy->NewBatch();
    for (int i = 0; i < 3; ++i) {
      const StoredEvent& stored = (*events)[static_cast<std::size_t>(i)];
      auto added = batch.AddReplicated(stored.bytes, stored.event.envelope.hash);
      ASSERT_TRUE(added.has_value()) << added.error().message;
      EXPECT_EQ(*added, stored.event);
    }
    ASSERT_TRUE(copy->Commit(batch).has_value());
  }
  AppendBatch batch = copy->NewBatch();
  const StoredEvent& fourth = (*events)[3];
  const StoredEvent& fifth = (*events)[4];
  // Skips position 4.
  EXPECT_EQ(batch.AddReplicated(fifth.bytes, fifth.event.envelope.hash).error().code,
            "replica_chain_broken");
  // A hash that does not match the bytes.
  EXPECT_EQ(batch.AddReplicated(fourth.bytes, fifth.event.envelope.hash).error().code,
            "replica_chain_broken");
  // Bytes that are not an event.
  EXPECT_EQ(batch.AddReplicated("garbage", fourth.event.envelope.hash).error().code,
            "replica_chain_broken");
  EXPECT_EQ(batch.event_count(), 0u);
  ASSERT_TRUE(batch.AddReplicated(fourth.bytes, fourth.event.envelope.hash).has_value());
  ASSERT_TRUE(batch.AddReplicated(fifth.bytes, fifth.event.envelope.hash).has_value());
  ASSERT_TRUE(copy->Commit(batch).has_value());

  auto copied = copy->ReadFrom(1, 10);
  ASSERT_TRUE(copied.has_value()) << copied.error().message;
  ASSERT_EQ(copied->size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*copied)[i].bytes, (*events)[i].bytes);
    EXPECT_EQ((*copied)[i].event, (*events)[i].event);
  }
  EXPECT_EQ(copy->HeadHash(), source->HeadHash());
  // Its stream and idempotency indexes point at the same positions.
  auto record = copy->GetIdempotency((*events)[2].event.envelope.idempotency_key);
  ASSERT_TRUE(record.has_value() && record->has_value());
  EXPECT_EQ((*record)->position, 3u);
  auto stream = copy->ReadStream((*events)[4].event.envelope.stream, 1, 10);
  ASSERT_TRUE(stream.has_value());
  ASSERT_FALSE(stream->empty());
}

}  // namespace
}  // namespace ledger
