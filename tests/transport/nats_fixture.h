// Shared by the NATS tests: a ledger node (a real store in a temporary directory, a running
// sequencer, optionally the publisher) next to a real nats-server, commands submitted in bulk,
// and the whole JetStream stream read back for checking.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/event_codec.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "projections/read_models.h"
#include "tests/support/nats_server.h"
#include "tests/support/temp_dir.h"
#include "transport/nats_common.h"
#include "transport/nats_publisher.h"

namespace ledger::transport::testing {

// One message of the stream as the tests check it.
struct StreamMessage {
  std::uint64_t sequence = 0;
  std::string subject;
  LedgerHeaders headers;
  std::string payload;
};

// Every message of `stream`, in sequence order, read with a temporary pull consumer.
inline std::vector<StreamMessage> ReadWholeStream(const std::string& url,
                                                  const std::string& stream = "LEDGER",
                                                  const std::string& prefix = "ledger") {
  std::vector<StreamMessage> messages;
  auto connection = ConnectNats(url, "test-reader");
  EXPECT_TRUE(connection.has_value()) << connection.error().message;
  if (!connection) return messages;
  auto js = NewJetStream(connection->get(), nullptr);
  EXPECT_TRUE(js.has_value());
  if (!js) return messages;
  auto tail = ReadStreamTail(js->get(), stream);
  EXPECT_TRUE(tail.has_value()) << tail.error().message;
  if (!tail || tail->messages == 0) return messages;
  static std::atomic<int> readers{0};
  const std::string durable = "test-reader-" + std::to_string(readers.fetch_add(1));
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = stream.c_str();
  options.Config.AckPolicy = js_AckNone;
  options.Config.DeliverPolicy = js_DeliverAll;
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const std::string subjects = prefix + ".>";
  natsStatus s = js_PullSubscribe(&raw, js->get(), subjects.c_str(), durable.c_str(), nullptr,
                                  &options, &code);
  EXPECT_EQ(s, NATS_OK) << natsStatus_GetText(s) << " " << code;
  if (s != NATS_OK) return messages;
  NatsSubscriptionPtr subscription(raw);
  while (messages.size() < tail->messages) {
    natsMsgList list{};
    s = natsSubscription_Fetch(&list, subscription.get(), 1024, 5000, &code);
    if (s != NATS_OK) {
      ADD_FAILURE() << "fetch after " << messages.size() << " of " << tail->messages
                    << " messages: " << natsStatus_GetText(s);
      break;
    }
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* message = list.Msgs[i];
      StreamMessage read;
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, message) == NATS_OK) {
        read.sequence = meta->Sequence.Stream;
        jsMsgMetaData_Destroy(meta);
      }
      read.subject = natsMsg_GetSubject(message);
      auto headers = ReadLedgerHeaders(message);
      EXPECT_TRUE(headers.has_value()) << headers.error().message;
      if (headers) read.headers = std::move(*headers);
      read.payload.assign(natsMsg_GetData(message),
                          static_cast<std::size_t>(natsMsg_GetDataLength(message)));
      messages.push_back(std::move(read));
    }
    natsMsgList_Destroy(&list);
  }
  (void)js_DeleteConsumer(js->get(), stream.c_str(), durable.c_str(), nullptr, nullptr);
  return messages;
}

// A ledger node: store (projection and outbox column families included) + running sequencer.
class LedgerNode {
 public:
  explicit LedgerNode(std::string path) : path_(std::move(path)) { Open(); }
  ~LedgerNode() { Close(); }

  void Open() {
    std::vector<std::string> families = projections::ReadModels::ColumnFamilies();
    families.emplace_back(kOutboxFamily);
    auto store = Store::Open({.path = path_,
                              .extra_column_families = families,
                              .point_lookup_families =
                                  projections::ReadModels::PointLookupFamilies()});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    sequencer_ = std::make_unique<commands::Sequencer>(*store_, clock_, metrics_);
    ASSERT_TRUE(sequencer_->Start().has_value());
  }
  void Close() {
    StopPublisher();
    if (sequencer_) sequencer_->Stop();
    sequencer_.reset();
    store_.reset();
  }

  void StartPublisher(NatsPublisherOptions options) {
    publisher_ = std::make_unique<NatsPublisher>(*store_, metrics_, std::move(options));
    ASSERT_TRUE(publisher_->Start().has_value());
  }
  void StopPublisher() {
    if (publisher_) publisher_->Stop();
    publisher_.reset();
  }

  // Submits every command without waiting for each, retrying while the queue is full; returns
  // once all completed. Every command must succeed.
  void SubmitAll(std::vector<commands::CommandBody> bodies) {
    std::atomic<std::size_t> done{0};
    std::atomic<std::size_t> failed{0};
    std::mutex mutex;
    std::string first_error;
    for (auto& body : bodies) {
      commands::Command command{.context = {.client_id = "svc"}, .body = std::move(body)};
      while (true) {
        auto submitted = sequencer_->Submit(command, [&](Result<commands::CommandOutcome> out) {
          if (!out && failed.fetch_add(1) == 0) {
            std::lock_guard lock(mutex);
            first_error = out.error().code + ": " + out.error().message;
          }
          done.fetch_add(1);
        });
        if (submitted) break;
        ASSERT_EQ(submitted.error().kind, ErrorKind::kOverloaded) << submitted.error().message;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    while (done.load() < bodies.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard lock(mutex);
    ASSERT_EQ(failed.load(), 0u) << "first: " << first_error;
  }

  // `count` credits of CNY to users 1..accounts.
  void Credits(std::size_t count, std::uint64_t accounts = 1000, std::uint64_t seed = 1) {
    std::mt19937_64 rng(seed);
    std::vector<commands::CommandBody> bodies;
    bodies.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      bodies.emplace_back(commands::ChangeAsset{
          .account = "user:" + std::to_string(1 + rng() % accounts),
          .asset = "CNY",
          .amount = static_cast<std::int64_t>(1 + rng() % 10'000),
          .source = "topup",
          .reason = "test",
          .ref = "r" + std::to_string(i)});
    }
    SubmitAll(std::move(bodies));
  }

  Store& store() { return *store_; }
  Metrics& metrics() { return metrics_; }
  NatsPublisher& publisher() { return *publisher_; }
  commands::Sequencer& sequencer() { return *sequencer_; }

 private:
  std::string path_;
  SystemClock clock_;
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<commands::Sequencer> sequencer_;
  std::unique_ptr<NatsPublisher> publisher_;
};

// Checks that `messages` are exactly the events of `store`, positions 1..head, in order, each
// once: same bytes, same hash, consecutive sequences, subject and headers as documented.
inline void ExpectStreamEqualsLog(const std::vector<StreamMessage>& messages, const Store& store,
                                  const std::string& prefix = "ledger") {
  const std::uint64_t head = store.HeadPosition();
  ASSERT_EQ(messages.size(), head);
  const std::string ledger_id = store.LedgerId();
  std::uint64_t position = 1;
  while (position <= head) {
    auto events = store.ReadFrom(position, 4096);
    ASSERT_TRUE(events.has_value()) << events.error().message;
    ASSERT_FALSE(events->empty());
    for (const StoredEvent& stored : *events) {
      const StreamMessage& message = messages[position - 1];
      ASSERT_EQ(message.headers.position, position) << "stream order differs at " << position;
      ASSERT_EQ(message.sequence, messages[0].sequence + position - 1);
      ASSERT_EQ(message.headers.ledger_id, ledger_id);
      ASSERT_EQ(message.headers.hash, stored.event.envelope.hash) << "at " << position;
      ASSERT_EQ(message.payload, stored.bytes) << "at " << position;
      ASSERT_EQ(message.subject, EventSubject(prefix, stored.event.envelope.type));
      ASSERT_EQ(message.headers.event_type, EventTypeName(stored.event.envelope.type));
      ++position;
    }
  }
}

}  // namespace ledger::transport::testing
