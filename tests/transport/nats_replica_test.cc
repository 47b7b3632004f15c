// Read replicas against a real nats-server: a replica fed only by the stream builds the same
// projections as the writer, resumes after a restart, recovers from a lost data dir, and
// refuses a gap or a message whose hash does not hold.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "ledger/event_codec.h"
#include "projections/read_models.h"
#include "tests/projections/support.h"
#include "tests/transport/nats_fixture.h"
#include "transport/nats_replica.h"

namespace ledger::transport {
namespace {

using projections::ProjectionId;
using projections::ReadModels;
using projections::testing::Contents;
using testing::LedgerNode;

constexpr std::int64_t kWaitUs = 60'000'000;

TimestampUs NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Credits, settlements with splits, refunds, payouts and voucher grants over a few merchants.
std::vector<commands::CommandBody> MixedWorkload(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<commands::CommandBody> bodies;
  const TimestampUs now = NowUs();
  bodies.emplace_back(commands::CreateCampaign{.campaign_id = "spring",
                                               .kind = CampaignKind::kCoupon,
                                               .asset = "coupon:spring",
                                               .unit_amount = 500,
                                               .budget = 1'000'000,
                                               .per_user_limit = 1'000,
                                               .valid_from_us = now - 3'600'000'000,
                                               .valid_until_us = now + 86'400'000'000,
                                               .funding_account = "external:marketing"});
  for (int user = 1; user <= 50; ++user) {
    bodies.emplace_back(commands::ChangeAsset{.account = "user:" + std::to_string(user),
                                              .asset = "CNY",
                                              .amount = 10'000'000,
                                              .source = "topup",
                                              .reason = "seed",
                                              .ref = "seed"});
  }
  std::vector<std::string> refundable;
  std::map<std::string, std::int64_t> merchant_income;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string user = "user:" + std::to_string(1 + rng() % 50);
    const std::string merchant = "merchant:" + std::to_string(1 + rng() % 5);
    const std::string n = std::to_string(i);
    switch (rng() % 10) {
      case 0:
      case 1:
      case 2:
      case 3:
        bodies.emplace_back(commands::ChangeAsset{.account = user,
                                                  .asset = "CNY",
                                                  .amount = static_cast<std::int64_t>(1 + rng() % 500),
                                                  .source = "topup",
                                                  .reason = "topup",
                                                  .ref = n});
        break;
      case 4:
      case 5:
      case 6: {
        const std::int64_t gross = 1'000 + static_cast<std::int64_t>(rng() % 9'000);
        bodies.emplace_back(commands::SettleOrder{
            .order_id = "o" + n,
            .merchant = merchant,
            .payer = user,
            .asset = "CNY",
            .gross = gross,
            .splits = {commands::Split{.to = "platform:fees", .kind = "commission", .bps = 300},
                       commands::Split{.to = "host:" + std::to_string(rng() % 3),
                                       .kind = "host_commission",
                                       .bps = 200}}});
        refundable.push_back("o" + n);
        merchant_income[merchant] += gross * 95 / 100;
        break;
      }
      case 7:
        if (!refundable.empty()) {
          bodies.emplace_back(commands::RefundOrder{
              .order_id = refundable.back(), .refund_id = "r" + n, .amount = 100});
          refundable.pop_back();
          break;
        }
        [[fallthrough]];
      case 8:
        if (merchant_income[merchant] > 200) {
          merchant_income[merchant] -= 200;
          bodies.emplace_back(commands::PayOut{.payout_id = "p" + n,
                                               .merchant = merchant,
                                               .asset = "CNY",
                                               .amount = 200,
                                               .bank_account = "bank:" + merchant});
          break;
        }
        [[fallthrough]];
      default:
        bodies.emplace_back(
            commands::GrantVoucher{.campaign_id = "spring", .grant_id = "g" + n, .user = user});
        break;
    }
  }
  return bodies;
}

// A read replica: its own store, fed by NatsReplica, with the projections running on it.
class Replica {
 public:
  Replica(std::string path, const std::string& url, std::string consumer = "replica-a")
      : path_(std::move(path)) {
    options_.stream.url = url;
    options_.consumer = std::move(consumer);
    options_.retry_wait_ms = 100;
    Open();
  }
  ~Replica() { Close(); }

  void Open() {
    auto store = Store::Open({.path = path_,
                              .extra_column_families = ReadModels::ColumnFamilies(),
                              .point_lookup_families = ReadModels::PointLookupFamilies()});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    feed_ = std::make_unique<NatsReplica>(*store_, metrics_, options_);
    ASSERT_TRUE(feed_->Start().has_value());
    auto models = ReadModels::Create(*store_, metrics_);
    ASSERT_TRUE(models.has_value());
    models_ = std::move(*models);
    ASSERT_TRUE(models_->Start().has_value());
  }
  void Close() {
    if (feed_) feed_->Stop();
    if (models_) models_->Stop();
    feed_.reset();
    models_.reset();
    store_.reset();
  }

  // Waits until the replica's log reaches `head` (or it failed).
  ReplicaStatus WaitForHead(std::uint64_t head) {
    ReplicaStatus status;
    for (int i = 0; i < 6'000; ++i) {
      status = feed_->Snapshot();
      if (status.position >= head || status.state == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status;
  }
  ReplicaStatus WaitForState(std::string_view state) {
    ReplicaStatus status;
    for (int i = 0; i < 3'000; ++i) {
      status = feed_->Snapshot();
      if (status.state == state) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status;
  }

  Store& store() { return *store_; }
  ReadModels& models() { return *models_; }
  Metrics& metrics() { return metrics_; }

 private:
  std::string path_;
  NatsReplicaOptions options_;
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<NatsReplica> feed_;
  std::unique_ptr<ReadModels> models_;
};

class NatsReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    writer_ = std::make_unique<LedgerNode>(dir_.Sub("writer"));
    NatsPublisherOptions options;
    options.stream.url = nats_.url();
    writer_->StartPublisher(options);
    auto models = ReadModels::Create(writer_->store(), writer_->metrics());
    ASSERT_TRUE(models.has_value());
    writer_models_ = std::move(*models);
    ASSERT_TRUE(writer_models_->Start().has_value());
  }
  void TearDown() override {
    if (writer_models_) writer_models_->Stop();
    writer_models_.reset();
    writer_.reset();
  }

  // The replica's projections equal the writer's, row by row (checkpoints included).
  void ExpectSameProjections(Replica& replica) {
    const std::uint64_t head = writer_->store().HeadPosition();
    ASSERT_EQ(replica.WaitForHead(head).position, head);
    for (std::size_t i = 0; i < projections::kProjectionCount; ++i) {
      const auto id = static_cast<ProjectionId>(i);
      ASSERT_EQ(writer_models_->Runner(id).WaitFor(head, kWaitUs), head);
      ASSERT_EQ(replica.models().Runner(id).WaitFor(head, kWaitUs), head);
      if (id == ProjectionId::kHolders) {
        // Its stored form (chunks + a journal per batch) depends on batch boundaries: compare
        // what it answers.
        std::vector<std::uint32_t> users(2'000);
        for (std::uint32_t user = 0; user < users.size(); ++user) users[user] = user;
        std::uint64_t position = 0;
        const std::vector<bool> expected = writer_models_->holders().CheckMany(users, &position);
        EXPECT_GE(std::count(expected.begin(), expected.end(), true), 50) << "holders";
        EXPECT_EQ(replica.models().holders().CheckMany(users, &position), expected);
        continue;
      }
      const auto expected = Contents(*writer_->store().db(), writer_models_->Family(id));
      const auto actual = Contents(*replica.store().db(), replica.models().Family(id));
      EXPECT_GT(expected.size(), 1u) << ReadModels::Name(id);
      EXPECT_TRUE(actual == expected) << ReadModels::Name(id) << ": " << actual.size()
                                      << " rows on the replica, " << expected.size()
                                      << " on the writer";
    }
  }

  // Publishes one message by hand, as a broken or malicious publisher would.
  void PublishRaw(std::uint64_t position, const Hash& hash, std::string_view payload) {
    auto connection = ConnectNats(nats_.url(), "test-forger");
    ASSERT_TRUE(connection.has_value());
    auto js = NewJetStream(connection->get(), nullptr);
    ASSERT_TRUE(js.has_value());
    natsMsg* raw = nullptr;
    ASSERT_EQ(natsMsg_Create(&raw, "ledger.AssetChanged", nullptr, payload.data(),
                             static_cast<int>(payload.size())),
              NATS_OK);
    NatsMsgPtr message(raw);
    const std::string id = MessageId(writer_->store().LedgerId(), position);
    const std::string text = std::to_string(position);
    const std::string hash_hex = HashToHex(hash);
    ASSERT_EQ(natsMsgHeader_Set(raw, "Nats-Msg-Id", id.c_str()), NATS_OK);
    ASSERT_EQ(natsMsgHeader_Set(raw, "Ledger-Position", text.c_str()), NATS_OK);
    ASSERT_EQ(natsMsgHeader_Set(raw, "Ledger-Event-Type", "AssetChanged"), NATS_OK);
    ASSERT_EQ(natsMsgHeader_Set(raw, "Ledger-Hash", hash_hex.c_str()), NATS_OK);
    jsPubAck* ack = nullptr;
    ASSERT_EQ(js_PublishMsg(&ack, js->get(), raw, nullptr, nullptr), NATS_OK);
    jsPubAck_Destroy(ack);
  }

  ledger::testing::NatsServer nats_;
  ledger::testing::TempDir dir_;
  std::unique_ptr<LedgerNode> writer_;
  std::unique_ptr<ReadModels> writer_models_;
};

TEST_F(NatsReplicaTest, ReplicaProjectionsEqualTheWriters) {
  Replica replica(dir_.Sub("replica"), nats_.url());
  ASSERT_NO_FATAL_FAILURE(writer_->SubmitAll(MixedWorkload(5'000, 7)));
  ASSERT_NO_FATAL_FAILURE(ExpectSameProjections(replica));
  EXPECT_EQ(replica.store().LedgerId(), writer_->store().LedgerId());
  // The replica's log is the writer's, byte for byte.
  auto mine = replica.store().ReadFrom(1, 100'000);
  auto theirs = writer_->store().ReadFrom(1, 100'000);
  ASSERT_TRUE(mine.has_value() && theirs.has_value());
  ASSERT_EQ(mine->size(), theirs->size());
  for (std::size_t i = 0; i < mine->size(); ++i) {
    ASSERT_EQ((*mine)[i].bytes, (*theirs)[i].bytes);
    ASSERT_EQ((*mine)[i].event.envelope.hash, (*theirs)[i].event.envelope.hash);
  }
}

TEST_F(NatsReplicaTest, ResumesAfterARestartWithoutGapsOrRepeats) {
  auto replica = std::make_unique<Replica>(dir_.Sub("replica"), nats_.url());
  ASSERT_NO_FATAL_FAILURE(writer_->SubmitAll(MixedWorkload(2'000, 11)));
  const std::uint64_t first = writer_->store().HeadPosition();
  ASSERT_EQ(replica->WaitForHead(first).position, first);
  replica.reset();
  ASSERT_NO_FATAL_FAILURE(writer_->Credits(3'000));
  replica = std::make_unique<Replica>(dir_.Sub("replica"), nats_.url());
  ASSERT_NO_FATAL_FAILURE(ExpectSameProjections(*replica));
  EXPECT_EQ(replica->WaitForState("following").state, "following");
}

// The data dir is lost (or restored from an old backup) while the durable consumer remembers
// having delivered everything: the replica recreates the consumer from its own head.
TEST_F(NatsReplicaTest, RecreatesAConsumerThatIsAheadOfItsLog) {
  auto replica = std::make_unique<Replica>(dir_.Sub("replica"), nats_.url());
  ASSERT_NO_FATAL_FAILURE(writer_->Credits(1'000));
  ASSERT_EQ(replica->WaitForHead(1'000).position, 1'000u);
  replica.reset();
  std::filesystem::remove_all(dir_.Sub("replica"));
  ASSERT_NO_FATAL_FAILURE(writer_->Credits(500));
  replica = std::make_unique<Replica>(dir_.Sub("replica"), nats_.url());
  ASSERT_NO_FATAL_FAILURE(ExpectSameProjections(*replica));
}

TEST_F(NatsReplicaTest, RefusesAGap) {
  Replica replica(dir_.Sub("replica"), nats_.url());
  ASSERT_NO_FATAL_FAILURE(writer_->Credits(100));
  ASSERT_EQ(replica.WaitForHead(100).position, 100u);
  writer_->StopPublisher();
  auto stored = writer_->store().Read(100);
  ASSERT_TRUE(stored.has_value());
  // Position 102 where 101 is due.
  ASSERT_NO_FATAL_FAILURE(PublishRaw(102, stored->event.envelope.hash, stored->bytes));
  const ReplicaStatus status = replica.WaitForState("failed");
  ASSERT_EQ(status.state, "failed");
  ASSERT_TRUE(status.error.has_value());
  EXPECT_EQ(status.error->code, "stream_gap") << status.error->message;
  EXPECT_EQ(replica.store().HeadPosition(), 100u);
}

TEST_F(NatsReplicaTest, RefusesAnEventWhoseHashDoesNotHold) {
  Replica replica(dir_.Sub("replica"), nats_.url());
  ASSERT_NO_FATAL_FAILURE(writer_->Credits(100));
  ASSERT_EQ(replica.WaitForHead(100).position, 100u);
  writer_->StopPublisher();
  ASSERT_NO_FATAL_FAILURE(writer_->Credits(1));
  auto stored = writer_->store().Read(101);
  ASSERT_TRUE(stored.has_value());
  std::string altered = stored->bytes;
  altered[altered.size() / 2] ^= 0x01;  // A flipped bit inside the event.
  ASSERT_NO_FATAL_FAILURE(PublishRaw(101, stored->event.envelope.hash, altered));
  const ReplicaStatus status = replica.WaitForState("failed");
  ASSERT_EQ(status.state, "failed");
  ASSERT_TRUE(status.error.has_value());
  EXPECT_EQ(status.error->code, "replica_chain_broken") << status.error->message;
  EXPECT_EQ(replica.store().HeadPosition(), 100u);
}

}  // namespace
}  // namespace ledger::transport
