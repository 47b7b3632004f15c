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
#include "tests/support/stream_log.h"
#include "tests/support/temp_dir.h"
#include "transport/nats_common.h"
#include "transport/nats_publisher.h"

namespace ledger::transport::testing {

using ::ledger::testing::StreamMessage;

// Every message of `stream`, in sequence order (a failure is a test failure).
inline std::vector<StreamMessage> ReadWholeStream(const std::string& url,
                                                  const std::string& stream = "LEDGER",
                                                  const std::string& prefix = "ledger") {
  auto messages = ::ledger::testing::ReadStream(url, 1, stream, prefix);
  EXPECT_TRUE(messages.has_value()) << messages.error().message;
  return messages ? std::move(*messages) : std::vector<StreamMessage>{};
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
  ASSERT_EQ(::ledger::testing::CompareStreamWithLog(messages, store, 1, prefix), "");
}

}  // namespace ledger::transport::testing
