// The binary command protocol end to end: a real Store in a TempDir, the Sequencer, a
// BinaryServer on 127.0.0.1 port 0, and the client library (or hand-made frames) against it.
#include <capnp/schema.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "tests/support/temp_dir.h"
#include "tests/transport/test_commands.h"
#include "transport/auth.h"
#include "transport/binary_client.h"
#include "transport/binary_protocol.h"
#include "transport/binary_server.h"

namespace ledger::transport {
namespace {

using testing::Credit;

constexpr std::string_view kTokens =
    "writer-token-0123456789 shop writer\n"
    "reader-token-0123456789 auditor reader\n"
    "limited-token-0123456789 limited writer rate=0.001/3\n";
constexpr std::string_view kWriterToken = "writer-token-0123456789";

// A ledger with a binary server in front of its sequencer.
class BinaryProtocolTest : public ::testing::Test {
 protected:
  void StartServer(BinaryServerOptions options = {},
                   commands::SequencerOptions sequencer_options = {}) {
    auto store = Store::Open(StoreOptions{.path = dir_.Sub("data")});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    sequencer_ = std::make_unique<commands::Sequencer>(*store_, clock_, metrics_, sequencer_options);
    ASSERT_TRUE(sequencer_->Start().has_value());
    auto auth = Authenticator::Parse(kTokens, "test tokens", 0);
    ASSERT_TRUE(auth.has_value());
    auth_ = std::move(*auth);
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<BinaryServer>(options, *sequencer_, metrics_, *auth_);
    ASSERT_TRUE(server_->Start().has_value());
  }

  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartServer()); }

  void TearDown() override {
    if (server_) server_->Stop();
    if (sequencer_) sequencer_->Stop();
  }

  BinaryClientOptions ClientOptions(std::string_view token = kWriterToken) const {
    return {.host = "127.0.0.1", .port = server_->port(), .token = std::string(token),
            .timeout = std::chrono::milliseconds(10'000)};
  }

  std::unique_ptr<BinaryClient> Connect(std::string_view token = kWriterToken) {
    auto client = BinaryClient::Connect(ClientOptions(token));
    EXPECT_TRUE(client.has_value()) << client.error().message;
    return client ? std::move(*client) : nullptr;
  }

  // Says hello with `version` on a raw connection.
  static void SendHello(BinaryClient& client, std::uint32_t version = wire::PROTOCOL_VERSION) {
    capnp::MallocMessageBuilder message;
    auto hello = message.initRoot<wire::Frame>().initHello();
    hello.setVersion(version);
    hello.setToken(kWriterToken.data());
    ASSERT_TRUE(client.SendBytes(EncodeFrame(message)).has_value());
  }

  // Says hello on a raw connection and reads the welcome, for sending hand-made frames after.
  static void SayHello(BinaryClient& client) {
    ASSERT_NO_FATAL_FAILURE(SendHello(client));
    auto welcome = client.ReceiveFrame();
    ASSERT_TRUE(welcome.has_value());
    FrameReader reader(*welcome);
    ASSERT_TRUE(reader.Root().isWelcome());
  }

  // A connection that has not said hello, for sending hand-made frames.
  std::unique_ptr<BinaryClient> ConnectRaw() {
    auto client = BinaryClient::ConnectRaw(ClientOptions());
    EXPECT_TRUE(client.has_value());
    return client ? std::move(*client) : nullptr;
  }

  BatchReply Execute(BinaryClient& client, const std::vector<commands::Command>& batch) {
    auto reply = client.Execute(batch);
    EXPECT_TRUE(reply.has_value()) << reply.error().message;
    return reply ? std::move(*reply) : BatchReply{};
  }

  // The code of the ConnectionError the server sends on `client`, after which it must close.
  static std::string ConnectionErrorCode(BinaryClient& client) {
    auto words = client.ReceiveFrame();
    if (!words) return "no frame: " + words.error().code;
    FrameReader reader(*words);
    if (!reader.Check() || !reader.Root().isError()) return "not an error frame";
    std::string code = reader.Root().getError().getCode().cStr();
    auto after = client.ReceiveFrame();
    if (after || after.error().code != "connection_closed") return code + " (still open)";
    return code;
  }

  std::uint64_t Head() const { return store_->HeadPosition(); }

  ::ledger::testing::TempDir dir_;
  SystemClock clock_;
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<commands::Sequencer> sequencer_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<BinaryServer> server_;
};

// A refused batch or command carries the HTTP meaning and when to retry: overloaded and the
// storage failures (disk full) pass by themselves, a bad request does not.
TEST(BinaryRejectionTest, StorageFailuresAndOverloadCarryRetryAfter) {
  const CommandReply disk_full =
      RejectionReply(MakeError(ErrorKind::kUnavailable, "disk_full", "the disk is full"));
  EXPECT_EQ(disk_full.code, "disk_full");
  EXPECT_EQ(disk_full.http_status, 503u);
  EXPECT_EQ(disk_full.retry_after_seconds, static_cast<std::uint32_t>(kStorageRetryAfterSeconds));
  const CommandReply overloaded =
      RejectionReply(MakeError(ErrorKind::kOverloaded, "overloaded", "queue full"));
  EXPECT_EQ(overloaded.http_status, 503u);
  EXPECT_EQ(overloaded.retry_after_seconds,
            static_cast<std::uint32_t>(kOverloadRetryAfterSeconds));
  const CommandReply invalid =
      RejectionReply(MakeError(ErrorKind::kInvalidArgument, "invalid_argument", "bad"));
  EXPECT_EQ(invalid.http_status, 400u);
  EXPECT_EQ(invalid.retry_after_seconds, 0u);
}

TEST_F(BinaryProtocolTest, HelloThenBatchAnswersEveryCommandDurablyInOrder) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->client_id(), "shop");
  EXPECT_EQ(client->batch_commands_max(), kBinaryBatchCommandsMax);
  EXPECT_EQ(client->batches_in_flight_max(), kBinaryBatchesInFlightMax);

  const std::vector<commands::Command> batch = {Credit("user:1", 100), Credit("user:2", 200),
                                                Credit("user:1", 50)};
  const BatchReply reply = Execute(*client, batch);
  EXPECT_EQ(reply.request_id, 1u);
  ASSERT_FALSE(reply.refused.has_value());
  ASSERT_EQ(reply.replies.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const CommandReply& result = reply.replies[i];
    ASSERT_TRUE(result.accepted) << result.code << ": " << result.message;
    EXPECT_EQ(result.position, i + 1);
    EXPECT_EQ(result.event_type, EventType::kAssetChanged);
    EXPECT_FALSE(result.replayed);
    // Durable before the answer: the store has it, with the hash the reply carries.
    auto stored = store_->Read(result.position);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->event.envelope.hash, result.hash);
    EXPECT_EQ(stored->event.envelope.client_id, "shop");
    EXPECT_EQ(stored->event.envelope.stream_version, result.stream_version);
  }
  EXPECT_EQ(reply.replies[2].stream_version, 2u);  // user:1's second event.
  EXPECT_EQ(Head(), 3u);
}

TEST_F(BinaryProtocolTest, PartialFailuresInsideABatchChangeNothingOfTheRejected) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  commands::Command overdraw = Credit("user:7", -500);  // user:7 holds nothing.
  commands::Command bad_id = Credit("not an account id!", 5);
  commands::Command bad_key = Credit("user:8", 5);
  bad_key.context.idempotency_key = std::string(kIdempotencyKeyBytesMax + 1, 'k');
  commands::Command unknown_order;
  unknown_order.body = commands::RefundOrder{.order_id = "o-404", .refund_id = "r", .amount = 1};

  const BatchReply reply = Execute(
      *client, {Credit("user:7", 10), overdraw, bad_id, bad_key, unknown_order, Credit("user:8", 3)});
  ASSERT_EQ(reply.replies.size(), 6u);
  EXPECT_TRUE(reply.replies[0].accepted);
  EXPECT_EQ(reply.replies[1].code, "insufficient_funds");
  EXPECT_EQ(reply.replies[1].http_status, 422);
  EXPECT_EQ(reply.replies[2].code, "invalid_argument");
  EXPECT_EQ(reply.replies[2].http_status, 400);
  EXPECT_EQ(reply.replies[3].code, "invalid_argument");
  EXPECT_NE(reply.replies[3].message.find("commands[3].idempotencyKey"), std::string::npos)
      << reply.replies[3].message;
  EXPECT_EQ(reply.replies[4].code, "order_not_found");
  EXPECT_EQ(reply.replies[4].http_status, 404);
  ASSERT_TRUE(reply.replies[5].accepted);
  // Only the two valid commands were appended, in the batch's order.
  EXPECT_EQ(reply.replies[0].position, 1u);
  EXPECT_EQ(reply.replies[5].position, 2u);
  EXPECT_EQ(Head(), 2u);
}

TEST_F(BinaryProtocolTest, RetryingAWholeBatchReplaysItWithoutAppending) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  std::vector<commands::Command> batch;
  for (int i = 0; i < 50; ++i) {
    batch.push_back(Credit("user:" + std::to_string(i % 7), 10 + i, "key-" + std::to_string(i)));
  }
  const BatchReply first = Execute(*client, batch);
  ASSERT_EQ(first.replies.size(), batch.size());
  const std::uint64_t head = Head();
  EXPECT_EQ(head, 50u);

  // The same batch again, on a new connection (the client lost the first answer).
  auto retry_client = Connect();
  ASSERT_NE(retry_client, nullptr);
  const BatchReply retried = Execute(*retry_client, batch);
  ASSERT_EQ(retried.replies.size(), batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    ASSERT_TRUE(retried.replies[i].accepted) << retried.replies[i].message;
    EXPECT_TRUE(retried.replies[i].replayed);
    EXPECT_EQ(retried.replies[i].position, first.replies[i].position);
    EXPECT_EQ(retried.replies[i].hash, first.replies[i].hash);
  }
  EXPECT_EQ(Head(), head);

  // A retry whose 4th command changed: that one conflicts, the others still replay.
  batch[3] = Credit("user:3", 999'999, "key-3");
  const BatchReply changed = Execute(*retry_client, batch);
  ASSERT_EQ(changed.replies.size(), batch.size());
  EXPECT_EQ(changed.replies[3].code, "idempotency_conflict");
  EXPECT_EQ(changed.replies[3].http_status, 409);
  EXPECT_TRUE(changed.replies[4].replayed);
  EXPECT_EQ(Head(), head);

  // Keys repeated inside one batch: the second is a replay of the first.
  const BatchReply same = Execute(*client, {Credit("user:1", 5, "dup"), Credit("user:1", 5, "dup")});
  ASSERT_EQ(same.replies.size(), 2u);
  EXPECT_FALSE(same.replies[0].replayed);
  EXPECT_TRUE(same.replies[1].replayed);
  EXPECT_EQ(same.replies[0].position, same.replies[1].position);
  EXPECT_EQ(Head(), head + 1);
}

TEST_F(BinaryProtocolTest, PipelinedBatchesAreAnsweredInTheOrderSent) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  const std::size_t batches = client->batches_in_flight_max();
  std::vector<std::uint64_t> ids;
  for (std::size_t b = 0; b < batches; ++b) {
    std::vector<commands::Command> batch;
    for (std::size_t i = 0; i < 100 + b; ++i) batch.push_back(Credit("user:" + std::to_string(b), 1));
    auto id = client->Send(batch);
    ASSERT_TRUE(id.has_value()) << id.error().message;
    ids.push_back(*id);
  }
  // One more than the window is refused by the client library, before the wire.
  auto over = client->Send(std::vector<commands::Command>{Credit("user:0", 1)});
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, "too_many_in_flight");

  std::uint64_t last_position = 0;
  for (std::size_t b = 0; b < batches; ++b) {
    auto reply = client->Receive();
    ASSERT_TRUE(reply.has_value()) << reply.error().message;
    EXPECT_EQ(reply->request_id, ids[b]);
    ASSERT_EQ(reply->replies.size(), 100 + b);
    for (const CommandReply& result : reply->replies) {
      ASSERT_TRUE(result.accepted);
      EXPECT_EQ(result.position, last_position + 1);  // Gapless across the batches.
      last_position = result.position;
    }
  }
  EXPECT_EQ(Head(), last_position);
}

TEST_F(BinaryProtocolTest, ManyConnectionsPipeliningConcurrentlyLoseNothing) {
  constexpr int kConnections = 4;
  constexpr int kBatches = 20;
  constexpr int kCommands = 250;
  std::vector<std::thread> threads;
  std::atomic<int> accepted{0};
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      auto client = BinaryClient::Connect(ClientOptions());
      ASSERT_TRUE(client.has_value());
      int received = 0;
      for (int b = 0; b < kBatches; ++b) {
        std::vector<commands::Command> batch;
        for (int i = 0; i < kCommands; ++i) {
          batch.push_back(Credit("user:" + std::to_string(c * 1000 + i), 1,
                                 "c" + std::to_string(c) + "-" + std::to_string(b) + "-" +
                                     std::to_string(i)));
        }
        ASSERT_TRUE((*client)->Send(batch).has_value());
        if ((*client)->in_flight() == 3) {
          auto reply = (*client)->Receive();
          ASSERT_TRUE(reply.has_value());
          for (const auto& r : reply->replies) accepted += r.accepted ? 1 : 0;
          ++received;
        }
      }
      while (received < kBatches) {
        auto reply = (*client)->Receive();
        ASSERT_TRUE(reply.has_value());
        for (const auto& r : reply->replies) accepted += r.accepted ? 1 : 0;
        ++received;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), kConnections * kBatches * kCommands);
  EXPECT_EQ(Head(), static_cast<std::uint64_t>(kConnections * kBatches * kCommands));
}

TEST_F(BinaryProtocolTest, EveryCommandTypeGoesThrough) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  std::vector<commands::Command> batch(9);
  batch[0].body = commands::OpenAccount{.account = "merchant:m1", .allow_negative = false,
                                        .frozen = false, .metadata = {{"name", "Noodles"}}};
  batch[1] = Credit("user:1", 10'000);
  batch[2].body = commands::Transfer{
      .postings = {{.from = "user:1", .to = "user:2", .asset = "USD", .amount = 100}},
      .ref = "gift",
      .metadata = {{"note", "happy birthday"}},
      .expected_versions = {{"user:1", 1}}};
  batch[3].body = commands::SettleOrder{
      .order_id = "o1", .merchant = "merchant:m1", .payer = "user:1", .asset = "USD",
      .gross = 1'000,
      .splits = {{.to = "platform:fees", .kind = "commission", .bps = 500, .amount = {}},
                 {.to = "host:h1", .kind = "host_commission", .bps = {}, .amount = 20}},
      .occurred_at_us = 1'700'000'000'000'000};
  batch[4].body = commands::RefundOrder{.order_id = "o1", .refund_id = "rf1", .amount = 100};
  batch[5].body = commands::PayOut{.payout_id = "p1", .merchant = "merchant:m1", .asset = "USD",
                                   .amount = 100, .bank_account = "b-1",
                                   .expected_version = std::nullopt};
  const TimestampUs now = clock_.NowUs();
  batch[6].body = commands::CreateCampaign{.campaign_id = "c1", .kind = CampaignKind::kCoupon,
                                           .asset = "coupon:c1", .unit_amount = 5,
                                           .budget = 100, .per_user_limit = 2,
                                           .valid_from_us = now - 1'000'000,
                                           .valid_until_us = now + 3'600'000'000,
                                           .funding_account = "external:marketing"};
  batch[7].body = commands::GrantVoucher{.campaign_id = "c1", .grant_id = "g1", .user = "user:2"};
  batch[8].body = commands::RedeemVoucher{.campaign_id = "c1", .redemption_id = "rd1",
                                          .user = "user:2", .order_id = "o1"};
  const BatchReply reply = Execute(*client, batch);
  ASSERT_EQ(reply.replies.size(), batch.size());
  const EventType expected[] = {EventType::kAccountOpened,   EventType::kAssetChanged,
                                EventType::kTransferred,     EventType::kOrderSettled,
                                EventType::kOrderRefunded,   EventType::kMerchantPaidOut,
                                EventType::kCampaignCreated, EventType::kVoucherGranted,
                                EventType::kVoucherRedeemed};
  for (std::size_t i = 0; i < batch.size(); ++i) {
    ASSERT_TRUE(reply.replies[i].accepted) << i << ": " << reply.replies[i].code << " "
                                           << reply.replies[i].message;
    EXPECT_EQ(reply.replies[i].event_type, expected[i]) << i;
  }
  auto settled = store_->Read(reply.replies[3].position);
  ASSERT_TRUE(settled.has_value());
  const auto& payload = std::get<OrderSettled>(settled->event.payload);
  EXPECT_EQ(payload.occurred_at_us, 1'700'000'000'000'000);
  // The merchant's net line and the two splits, as the wire form gave them.
  ASSERT_EQ(payload.lines.size(), 3u);
  std::int64_t platform = 0;
  std::int64_t host = 0;
  for (const auto& line : payload.lines) {
    if (line.to == "platform:fees") platform = line.amount;
    if (line.to == "host:h1") host = line.amount;
  }
  EXPECT_EQ(platform, 50);  // 500 bps of 1,000.
  EXPECT_EQ(host, 20);
}

// EncodeWireCommand then DecodeWireCommand gives back the command, for random commands of
// every type with every optional field present or absent.
TEST(BinaryCodecTest, RandomCommandsRoundTrip) {
  const unsigned long long seed = ::ledger::testing::TestSeed();  // Printed by TestSeed.
  std::mt19937_64 random(seed);
  auto text = [&](std::size_t max) {
    std::string value(random() % (max + 1), 'a');
    for (char& c : value) c = static_cast<char>('a' + random() % 26);
    return value;
  };
  auto maybe = [&] { return random() % 2 == 0; };
  Client client{.client_id = "shop", .roles = kRoleWriter, .limiter = nullptr};
  for (int round = 0; round < 2000; ++round) {
    commands::Command command;
    command.context.client_id = "shop";
    if (maybe()) command.context.idempotency_key = "k" + text(20);
    if (maybe()) command.context.correlation_id = "c" + text(20);
    if (maybe()) command.context.causation_id = "z" + text(20);
    const auto amount = [&] { return static_cast<std::int64_t>(random()); };
    const auto metadata = [&] {
      Metadata entries;
      for (std::size_t i = random() % 3; i > 0; --i) entries.emplace_back(text(5), text(9));
      return entries;
    };
    switch (random() % 9) {
      case 0:
        command.body = commands::OpenAccount{.account = text(12), .allow_negative = maybe(),
                                             .frozen = maybe(), .metadata = metadata()};
        break;
      case 1:
        command.body = commands::ChangeAsset{
            .account = text(9), .asset = text(3), .amount = amount(), .source = text(4),
            .counterparty = maybe() ? std::optional<std::string>(text(8)) : std::nullopt,
            .reason = text(30), .ref = text(10),
            .expected_version = maybe() ? std::optional<std::uint64_t>(random()) : std::nullopt};
        break;
      case 2: {
        commands::Transfer transfer;
        for (std::size_t i = 1 + random() % 4; i > 0; --i) {
          transfer.postings.push_back(
              {.from = text(6), .to = text(6), .asset = text(3), .amount = amount()});
        }
        transfer.ref = text(8);
        transfer.metadata = metadata();
        for (std::size_t i = random() % 3; i > 0; --i) {
          transfer.expected_versions[text(6)] = random();
        }
        command.body = std::move(transfer);
        break;
      }
      case 3: {
        commands::SettleOrder settle{.order_id = text(8), .merchant = text(8), .payer = text(8),
                                     .asset = text(3), .gross = amount(), .splits = {},
                                     .occurred_at_us = std::nullopt};
        for (std::size_t i = random() % 5; i > 0; --i) {
          commands::Split split{.to = text(6), .kind = text(5), .bps = {}, .amount = {}};
          if (maybe()) {
            split.bps = amount();
          } else {
            split.amount = amount();
          }
          settle.splits.push_back(std::move(split));
        }
        if (maybe()) settle.occurred_at_us = amount();
        command.body = std::move(settle);
        break;
      }
      case 4:
        command.body = commands::RefundOrder{.order_id = text(8), .refund_id = text(8),
                                             .amount = amount()};
        break;
      case 5:
        command.body = commands::PayOut{
            .payout_id = text(8), .merchant = text(8), .asset = text(3), .amount = amount(),
            .bank_account = text(10),
            .expected_version = maybe() ? std::optional<std::uint64_t>(random()) : std::nullopt};
        break;
      case 6:
        command.body = commands::CreateCampaign{
            .campaign_id = text(8), .kind = maybe() ? CampaignKind::kCoupon : CampaignKind::kBalance,
            .asset = text(5), .unit_amount = amount(), .budget = amount(),
            .per_user_limit = amount(), .valid_from_us = amount(), .valid_until_us = amount(),
            .funding_account = text(9)};
        break;
      case 7:
        command.body = commands::GrantVoucher{.campaign_id = text(8), .grant_id = text(8),
                                              .user = text(8)};
        break;
      default:
        command.body = commands::RedeemVoucher{.campaign_id = text(8),
                                               .redemption_id = text(8), .user = text(8),
                                               .order_id = maybe() ? text(8) : ""};
        break;
    }
    capnp::MallocMessageBuilder message;
    EncodeWireCommand(command, message.initRoot<wire::Command>());
    auto decoded = DecodeWireCommand(message.getRoot<wire::Command>().asReader(), 0, client);
    ASSERT_TRUE(decoded.has_value()) << "round " << round << ": " << decoded.error().message;
    EXPECT_EQ(decoded->context.client_id, command.context.client_id);
    EXPECT_EQ(decoded->context.idempotency_key, command.context.idempotency_key);
    EXPECT_EQ(decoded->context.correlation_id, command.context.correlation_id);
    EXPECT_EQ(decoded->context.causation_id, command.context.causation_id);
    ASSERT_EQ(decoded->body.index(), command.body.index()) << "round " << round;
    // Compare field by field through the wire form's own re-encoding: equal commands encode to
    // equal bytes (the encoder writes every field).
    capnp::MallocMessageBuilder again;
    EncodeWireCommand(*decoded, again.initRoot<wire::Command>());
    const auto first = capnp::messageToFlatArray(message);
    const auto second = capnp::messageToFlatArray(again);
    ASSERT_EQ(first.asBytes(), second.asBytes()) << "round " << round;
  }
}

// Errors inside a list name the element: "commands[4].transfer.postings[1].to".
TEST(BinaryCodecTest, ErrorsNameTheListElement) {
  Client client{.client_id = "shop", .roles = kRoleWriter, .limiter = nullptr};
  capnp::MallocMessageBuilder message;
  auto transfer = message.initRoot<wire::Command>().getBody().initTransfer();
  auto postings = transfer.initPostings(2);
  for (unsigned i = 0; i < 2; ++i) {
    postings[i].setFrom("user:1");
    postings[i].setAsset("USD");
    postings[i].setAmount(1);
  }
  postings[0].setTo("user:2");  // postings[1] has no `to`.
  auto decoded = DecodeWireCommand(message.getRoot<wire::Command>().asReader(), 4, client);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message,
            "commands[4].transfer.postings[1].to: missing required field");

  capnp::MallocMessageBuilder settle_message;
  auto settle = settle_message.initRoot<wire::Command>().getBody().initSettleOrder();
  settle.setOrderId("o");
  settle.setMerchant("merchant:1");
  settle.setPayer("user:1");
  settle.setAsset("USD");
  auto splits = settle.initSplits(2);
  for (unsigned i = 0; i < 2; ++i) {
    splits[i].setTo("platform:fees");
    splits[i].setKind("commission");
  }
  splits[0].getShare().setBps(100);  // splits[1] has neither bps nor amount.
  decoded = DecodeWireCommand(settle_message.getRoot<wire::Command>().asReader(), 0, client);
  ASSERT_FALSE(decoded.has_value());
  EXPECT_EQ(decoded.error().message,
            "commands[0].settleOrder.splits[1]: must have exactly one of 'bps' and 'amount'");
}

// A command whose required Text field is unset, whose text is not UTF-8, or whose body is
// unset or unknown, is refused on its own with a message naming it.
TEST_F(BinaryProtocolTest, MalformedCommandsAreRefusedOneByOne) {
  auto client = ConnectRaw();
  ASSERT_NE(client, nullptr);
  ASSERT_NO_FATAL_FAILURE(SayHello(*client));

  capnp::MallocMessageBuilder message;
  auto batch = message.initRoot<wire::Frame>().initBatch();
  batch.setRequestId(42);
  auto list = batch.initCommands(5);
  EncodeWireCommand(Credit("user:1", 5), list[0]);
  auto missing = list[1].getBody().initChangeAsset();  // No account.
  missing.setAsset("USD");
  missing.setAmount(5);
  missing.setSource("bank");
  missing.setReason("x");
  missing.setRef("y");
  EncodeWireCommand(Credit("user:1", 5), list[2]);
  const char not_utf8[] = {'r', static_cast<char>(0xc3), static_cast<char>(0x28), 0};
  list[2].getBody().getChangeAsset().setReason(not_utf8);
  // list[3]: body unset.
  EncodeWireCommand(Credit("user:1", 5), list[4]);
  // list[4]: a body union member from a newer protocol version.
  const auto body_schema = capnp::Schema::from<wire::Command::Body>();
  const std::uint32_t discriminant_offset =
      body_schema.getProto().getStruct().getDiscriminantOffset();
  auto data = capnp::toAny(list[4]).getDataSection();
  const std::uint16_t unknown = 77;
  std::memcpy(data.begin() + 2 * discriminant_offset, &unknown, sizeof(unknown));
  ASSERT_TRUE(client->SendBytes(EncodeFrame(message)).has_value());

  auto words = client->ReceiveFrame();
  ASSERT_TRUE(words.has_value());
  FrameReader reader(*words);
  ASSERT_TRUE(reader.Check().has_value());
  const auto results = reader.Root().getResults();
  EXPECT_EQ(results.getRequestId(), 42u);
  ASSERT_EQ(results.getResults().size(), 5u);
  std::vector<CommandReply> replies;
  for (const auto result : results.getResults()) replies.push_back(ReadCommandResult(result));
  EXPECT_TRUE(replies[0].accepted);
  EXPECT_EQ(replies[1].message, "commands[1].changeAsset.account: missing required field");
  EXPECT_EQ(replies[2].message, "commands[2].changeAsset.reason: must be valid UTF-8");
  EXPECT_EQ(replies[3].message, "commands[3]: command has no body");
  EXPECT_EQ(replies[4].code, "unknown_command");
  EXPECT_EQ(Head(), 1u);
}

TEST_F(BinaryProtocolTest, HelloIsRequiredAndChecked) {
  {  // Unknown token.
    auto client = BinaryClient::Connect(ClientOptions("no-such-token-0123456789"));
    ASSERT_FALSE(client.has_value());
    EXPECT_EQ(client.error().code, "unauthenticated");
  }
  {  // A reader may not write.
    auto client = BinaryClient::Connect(ClientOptions("reader-token-0123456789"));
    ASSERT_FALSE(client.has_value());
    EXPECT_EQ(client.error().code, "forbidden");
  }
  {  // A batch before hello.
    auto client = ConnectRaw();
    capnp::MallocMessageBuilder message;
    EncodeWireCommand(Credit("user:1", 1),
                      message.initRoot<wire::Frame>().initBatch().initCommands(1)[0]);
    ASSERT_TRUE(client->SendBytes(EncodeFrame(message)).has_value());
    EXPECT_EQ(ConnectionErrorCode(*client), "unauthenticated");
  }
  {  // Another protocol version.
    auto client = ConnectRaw();
    ASSERT_NO_FATAL_FAILURE(SendHello(*client, wire::PROTOCOL_VERSION + 1));
    EXPECT_EQ(ConnectionErrorCode(*client), "unsupported_version");
  }
  EXPECT_EQ(Head(), 0u);
}

// Frames that cannot be read end the connection with a ConnectionError naming the problem.
TEST_F(BinaryProtocolTest, MalformedFramesCloseTheConnectionWithTheirError) {
  const auto prefix = [](std::uint32_t length) {
    std::string bytes(4, '\0');
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
    return bytes;
  };
  {  // Oversized: refused from its prefix, before any body is read.
    auto client = Connect();
    ASSERT_TRUE(client->SendBytes(prefix(kBinaryFrameBytesMax + 8)).has_value());
    EXPECT_EQ(ConnectionErrorCode(*client), "frame_too_large");
  }
  {  // A length that is not whole words.
    auto client = Connect();
    ASSERT_TRUE(client->SendBytes(prefix(12) + std::string(12, 'x')).has_value());
    EXPECT_EQ(ConnectionErrorCode(*client), "malformed_frame");
  }
  {  // Truncated: the client stops sending inside a frame.
    auto client = Connect();
    ASSERT_TRUE(client->SendBytes(prefix(64) + std::string(16, '\0')).has_value());
    ASSERT_TRUE(client->FinishSending().has_value());  // EOF inside the frame.
    EXPECT_EQ(ConnectionErrorCode(*client), "truncated_frame");
  }
  {  // A segment table that promises more than the frame holds.
    auto client = Connect();
    std::string frame = prefix(16);
    const std::uint32_t table[2] = {0, 100};  // One segment of 100 words; only 1 follows.
    frame.append(reinterpret_cast<const char*>(table), sizeof(table));
    frame.append(8, '\0');
    ASSERT_TRUE(client->SendBytes(frame).has_value());
    EXPECT_EQ(ConnectionErrorCode(*client), "malformed_frame");
  }
  {  // Wrong schema: the root is a list, not a Frame struct.
    auto client = Connect();
    std::string frame = prefix(16);
    const std::uint32_t table[2] = {0, 1};
    frame.append(reinterpret_cast<const char*>(table), sizeof(table));
    const std::uint64_t list_pointer = 1 | (2ull << 32) | (0ull << 35);  // A list, not a struct.
    frame.append(reinterpret_cast<const char*>(&list_pointer), sizeof(list_pointer));
    ASSERT_TRUE(client->SendBytes(frame).has_value());
    EXPECT_EQ(ConnectionErrorCode(*client), "malformed_frame");
  }
  {  // Wrong schema: a frame type from a newer protocol.
    auto client = Connect();
    capnp::MallocMessageBuilder message;
    message.initRoot<wire::Frame>().initBatch().setRequestId(1);
    std::string frame = EncodeFrame(message);
    // Single segment: 4 (prefix) + 8 (table) + 8 (root pointer), then the union's discriminant.
    const std::uint16_t unknown = 99;
    std::memcpy(frame.data() + 20, &unknown, sizeof(unknown));
    ASSERT_TRUE(client->SendBytes(frame).has_value());
    EXPECT_EQ(ConnectionErrorCode(*client), "unknown_frame");
  }
  {  // A server-to-client frame sent by a client.
    auto client = Connect();
    capnp::MallocMessageBuilder message;
    message.initRoot<wire::Frame>().initResults();
    ASSERT_TRUE(client->SendBytes(EncodeFrame(message)).has_value());
    EXPECT_EQ(ConnectionErrorCode(*client), "unexpected_frame");
  }
  {  // Garbage where a prefix belongs announces a huge frame.
    auto client = Connect();
    ASSERT_TRUE(client->SendBytes("GET / HTTP/1.1\r\n\r\n").has_value());
    EXPECT_EQ(ConnectionErrorCode(*client), "frame_too_large");
  }
  EXPECT_EQ(Head(), 0u);
  // The server still serves well-behaved clients.
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(Execute(*client, {Credit("user:1", 1)}).replies.at(0).accepted);
}

// Batches answered before a malformed frame keep their results; the error comes last.
TEST_F(BinaryProtocolTest, ResultsOfEarlierBatchesPrecedeTheConnectionError) {
  auto client = Connect();
  ASSERT_TRUE(client->Send(std::vector<commands::Command>{Credit("user:1", 1)}).has_value());
  ASSERT_TRUE(client->SendBytes(std::string("\x0c\0\0\0", 4) + std::string(12, 'x')).has_value());
  auto reply = client->Receive();
  ASSERT_TRUE(reply.has_value()) << reply.error().message;
  EXPECT_TRUE(reply->replies.at(0).accepted);
  EXPECT_EQ(ConnectionErrorCode(*client), "malformed_frame");
}

TEST_F(BinaryProtocolTest, BatchLimitsRefuseTheWholeBatchAndKeepTheConnection) {
  auto client = ConnectRaw();
  ASSERT_NO_FATAL_FAILURE(SayHello(*client));
  const auto send_batch = [&](std::size_t count) {
    capnp::MallocMessageBuilder message;
    auto batch = message.initRoot<wire::Frame>().initBatch();
    batch.setRequestId(count);
    auto list = batch.initCommands(static_cast<unsigned>(count));
    for (std::size_t i = 0; i < count; ++i) EncodeWireCommand(Credit("user:1", 1), list[i]);
    EXPECT_TRUE(client->SendBytes(EncodeFrame(message)).has_value());
    auto words = client->ReceiveFrame();
    EXPECT_TRUE(words.has_value());
    FrameReader reader(*words);
    const auto results = reader.Root().getResults();
    EXPECT_EQ(results.getRequestId(), count);
    return results.hasRefused() ? ReadRejection(results.getRefused()).code
                                : std::to_string(results.getResults().size());
  };
  EXPECT_EQ(send_batch(0), "invalid_argument");
  EXPECT_EQ(send_batch(kBinaryBatchCommandsMax + 1), "batch_too_large");
  EXPECT_EQ(Head(), 0u);
  EXPECT_EQ(send_batch(kBinaryBatchCommandsMax), std::to_string(kBinaryBatchCommandsMax));
  EXPECT_EQ(Head(), kBinaryBatchCommandsMax);
}

TEST_F(BinaryProtocolTest, RateLimitsCountEveryCommandOfABatch) {
  auto client = Connect("limited-token-0123456789");  // rate=0.001/3
  ASSERT_NE(client, nullptr);
  std::vector<commands::Command> four(4, Credit("user:1", 1));
  BatchReply reply = Execute(*client, four);
  ASSERT_TRUE(reply.refused.has_value());
  EXPECT_EQ(reply.refused->code, "batch_too_large");  // Above the burst: could never pass.
  reply = Execute(*client, {Credit("user:1", 1), Credit("user:1", 1), Credit("user:1", 1)});
  ASSERT_FALSE(reply.refused.has_value());
  EXPECT_EQ(reply.replies.size(), 3u);
  reply = Execute(*client, {Credit("user:1", 1)});
  ASSERT_TRUE(reply.refused.has_value());
  EXPECT_EQ(reply.refused->code, "rate_limited");
  EXPECT_EQ(reply.refused->http_status, 429);
  EXPECT_GE(reply.refused->retry_after_seconds, 1u);
  EXPECT_EQ(Head(), 3u);
}

TEST_F(BinaryProtocolTest, AFullQueueRefusesTheWholeBatchAsOverloaded) {
  server_->Stop();
  sequencer_->Stop();
  server_.reset();
  sequencer_.reset();
  store_.reset();
  ASSERT_NO_FATAL_FAILURE(StartServer({}, {.queue_depth_max = 8, .batch_commands_max = 4}));
  auto client = Connect();
  std::vector<commands::Command> nine(9, Credit("user:1", 1));
  BatchReply reply = Execute(*client, nine);
  ASSERT_TRUE(reply.refused.has_value());
  EXPECT_EQ(reply.refused->code, "overloaded");
  EXPECT_EQ(reply.refused->http_status, 503);
  EXPECT_EQ(reply.refused->retry_after_seconds, static_cast<std::uint32_t>(kOverloadRetryAfterSeconds));
  EXPECT_EQ(Head(), 0u);
  reply = Execute(*client, std::vector<commands::Command>(8, Credit("user:1", 1)));
  EXPECT_FALSE(reply.refused.has_value());
  EXPECT_EQ(Head(), 8u);
}

TEST_F(BinaryProtocolTest, IdleAndSilentConnectionsAreClosed) {
  server_->Stop();
  server_ = std::make_unique<BinaryServer>(
      BinaryServerOptions{.host = "127.0.0.1", .port = 0,
                          .hello_timeout = std::chrono::seconds(1),
                          .idle_timeout = std::chrono::seconds(1),
                          .io_timeout = std::chrono::seconds(1)},
      *sequencer_, metrics_, *auth_);
  ASSERT_TRUE(server_->Start().has_value());
  {
    auto client = ConnectRaw();  // Never says hello.
    EXPECT_EQ(ConnectionErrorCode(*client), "hello_timeout");
  }
  {
    auto client = Connect();  // Says hello, then nothing.
    ASSERT_NE(client, nullptr);
    EXPECT_EQ(ConnectionErrorCode(*client), "idle_timeout");
  }
  {
    auto client = Connect();  // Starts a frame and stalls inside it.
    ASSERT_TRUE(client->SendBytes(std::string("\x40\0\0\0", 4) + std::string(8, '\0')).has_value());
    EXPECT_EQ(ConnectionErrorCode(*client), "read_timeout");
  }
}

TEST_F(BinaryProtocolTest, StopAnswersBatchesInFlightThenSaysShuttingDown) {
  auto client = Connect();
  std::vector<commands::Command> batch(2000, Credit("user:1", 1));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client->Send(batch).has_value());
  // Wait until the server has read all four (their commands reach the log).
  for (int i = 0; i < 500 && Head() < 8000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server_->Stop();
  for (int i = 0; i < 4; ++i) {
    auto reply = client->Receive();
    ASSERT_TRUE(reply.has_value()) << reply.error().message;
    EXPECT_EQ(reply->replies.size(), 2000u);
  }
  EXPECT_EQ(ConnectionErrorCode(*client), "shutting_down");
  EXPECT_EQ(Head(), 8000u);
}

}  // namespace
}  // namespace ledger::transport
